"""Training loop, schedule, batch sampling, augmentation, checkpoints (torch, ``train`` extra)."""

from __future__ import annotations

from pyembed.train.augment import ImageAugment
from pyembed.train.checkpoint import load_checkpoint, save_checkpoint
from pyembed.train.config import TrainConfig
from pyembed.train.embed import embed
from pyembed.train.progress import ProgressBar
from pyembed.train.recipes import build_model, build_objective, image_tensor, series_tensor
from pyembed.train.sampler import PKSampler
from pyembed.train.schedule import OneCycleSchedule
from pyembed.train.series_augment import SeriesAugment
from pyembed.train.trainer import Trainer

__all__ = [
    "ImageAugment",
    "OneCycleSchedule",
    "PKSampler",
    "ProgressBar",
    "SeriesAugment",
    "TrainConfig",
    "Trainer",
    "build_model",
    "build_objective",
    "embed",
    "image_tensor",
    "load_checkpoint",
    "save_checkpoint",
    "series_tensor",
]

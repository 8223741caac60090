"""Training loop, schedule, batch sampling, augmentation, checkpoints, the training data of each
recipe and the run directory a run writes (torch, ``train`` extra)."""

from __future__ import annotations

from pyembed.train.augment import ImageAugment
from pyembed.train.checkpoint import load_checkpoint, save_checkpoint
from pyembed.train.config import TrainConfig
from pyembed.train.data import TrainingData, faces_training_data, ucr_training_data
from pyembed.train.embed import embed
from pyembed.train.progress import ProgressBar
from pyembed.train.recipes import build_model, build_objective, image_tensor, series_tensor
from pyembed.train.run_dir import Run, load_index, load_run, prepare_run_dir, save_run
from pyembed.train.sampler import PKSampler
from pyembed.train.schedule import OneCycleSchedule
from pyembed.train.series_augment import SeriesAugment
from pyembed.train.trainer import Trainer

__all__ = [
    "ImageAugment",
    "OneCycleSchedule",
    "PKSampler",
    "ProgressBar",
    "Run",
    "SeriesAugment",
    "TrainConfig",
    "Trainer",
    "TrainingData",
    "build_model",
    "build_objective",
    "embed",
    "faces_training_data",
    "image_tensor",
    "load_checkpoint",
    "load_index",
    "load_run",
    "prepare_run_dir",
    "save_checkpoint",
    "save_run",
    "series_tensor",
    "ucr_training_data",
]

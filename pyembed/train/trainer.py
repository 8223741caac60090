"""The training loop: Adam, one-cycle schedule with inverse beta1 cycling, P x K batches."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from pyembed.miners.base import Miner
from pyembed.nn.dcnet.projection import project_weights_
from pyembed.train.checkpoint import load_checkpoint, save_checkpoint
from pyembed.train.config import TrainConfig
from pyembed.train.progress import ProgressBar
from pyembed.train.sampler import PKSampler
from pyembed.train.schedule import OneCycleSchedule

__all__ = ["Trainer"]

Augment = Callable[[Tensor, torch.Generator], Tensor]


class Trainer:
    """Train an embedding model with a metric-learning loss on an in-memory labelled data set.

    Parameters
    ----------
    model : nn.Module
        Maps a batch ``(b, ...)`` to embeddings ``(b, dim)``.
    loss : nn.Module
        Called as ``loss(embeddings, labels)`` or, with a miner, ``loss(embeddings, labels,
        indices)``. Its parameters (e.g. the classifier of
        :class:`~pyembed.losses.SoftmaxCenterLoss`) are optimised too, and its buffers (centers) are
        checkpointed.
    inputs : Tensor, shape (n, ...)
        The training inputs; each batch is converted to ``dtype`` on ``device``.
    labels : Tensor, shape (n,), integer
    config : TrainConfig
    miner : Miner, optional
        Called on each batch's detached embeddings to pick the tuples.
    augment : callable, optional
        ``augment(batch, generator) -> batch``, e.g. :class:`~pyembed.train.ImageAugment`.
    device : str or torch.device, default "cpu"
    dtype : torch.dtype, default torch.float32
    metadata : dict, optional
        Plain-Python values stored in every checkpoint (e.g. how to rebuild the model).

    Notes
    -----
    Every random choice comes from ``config.seed``: the sampler draws epoch ``e`` from
    ``default_rng([seed, e])`` and augmentation uses a ``torch.Generator`` seeded with ``seed``
    whose state is checkpointed. Seed the model's initial weights yourself (``torch.manual_seed``)
    before building it. A checkpoint holds the model, loss, optimizer and schedule states, the
    config, the epoch, the generator state and the history; :meth:`load_checkpoint` followed by
    :meth:`fit` continues exactly where the checkpoint stopped.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        inputs: Tensor,
        labels: Tensor,
        config: TrainConfig,
        *,
        miner: Miner | None = None,
        augment: Augment | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if labels.ndim != 1 or labels.shape[0] != inputs.shape[0]:
            raise ValueError(
                f"labels must have shape ({inputs.shape[0]},), got {tuple(labels.shape)}"
            )
        self.device = torch.device(device)
        self.dtype = dtype
        self.model = model.to(self.device, dtype)
        self.loss = loss.to(self.device, dtype)
        self.inputs = inputs
        self.labels = labels.long()
        self.config = config
        self.miner = miner
        self.augment = augment
        self.metadata = dict(metadata or {})
        self.sampler = PKSampler(
            self.labels.numpy(),
            config.n_identities,
            config.n_per_identity,
            n_batches=config.n_batches,
            seed=config.seed,
        )
        params = [
            p
            for p in list(self.model.parameters()) + list(self.loss.parameters())
            if p.requires_grad
        ]
        self.optimizer = torch.optim.Adam(
            params,
            lr=config.max_lr,
            betas=(config.beta1_max, config.beta2),
            weight_decay=config.weight_decay,
        )
        self.schedule = OneCycleSchedule(
            self.optimizer,
            config.max_lr,
            config.epochs * len(self.sampler),
            pct_start=config.pct_start,
            div_factor=config.div_factor,
            final_div_factor=config.final_div_factor,
            beta1_max=config.beta1_max,
            beta1_min=config.beta1_min,
        )
        self.generator = torch.Generator().manual_seed(config.seed)
        self.epoch = 0
        self.history: list[dict[str, float]] = []

    # -- one epoch --------------------------------------------------------------------------------
    def _train_epoch(self, bar: ProgressBar) -> dict[str, float]:
        self.model.train()
        self.loss.train()
        self.sampler.set_epoch(self.epoch)
        total, n_steps = 0.0, 0
        stats_sum: dict[str, float] = {}
        start = time.perf_counter()
        for rows in self.sampler:
            index = torch.from_numpy(rows)
            batch = self.inputs[index].to(self.device, self.dtype)
            if self.augment is not None:
                batch = self.augment(batch, self.generator)
            labels = self.labels[index].to(self.device)
            embeddings = self.model(batch)
            if self.miner is not None:
                value = self.loss(embeddings, labels, self.miner(embeddings, labels))
            else:
                value = self.loss(embeddings, labels)
            if not torch.isfinite(value):
                raise FloatingPointError(
                    f"the loss became {value.item()} at epoch {self.epoch}, step {n_steps}"
                )
            self.optimizer.zero_grad(set_to_none=True)
            value.backward()
            self.optimizer.step()
            self.schedule.step()
            if self.config.weight_projection is not None:
                project_weights_(self.model, self.config.weight_projection)
            total += float(value.detach())
            n_steps += 1
            for key, v in getattr(self.loss, "last_stats", {}).items():
                stats_sum[key] = stats_sum.get(key, 0.0) + float(v)
            bar.update(1, f"loss={total / n_steps:.4f}")
        lr, beta1 = self.schedule.values(self.schedule.step_count)
        record = {
            "epoch": float(self.epoch + 1),
            "loss": total / max(1, n_steps),
            "seconds": time.perf_counter() - start,
            "lr": lr,
            "beta1": beta1,
        }
        record.update({key: v / max(1, n_steps) for key, v in stats_sum.items()})
        return record

    def fit(
        self,
        *,
        checkpoint_path: str | os.PathLike[str] | None = None,
        progress: bool = True,
        n_epochs: int | None = None,
    ) -> list[dict[str, float]]:
        """Train from the current epoch up to ``config.epochs``.

        Parameters
        ----------
        n_epochs : int, optional
            Train at most this many epochs in this call (default: until ``config.epochs``). The
            schedule still spans ``config.epochs``, so calls of one epoch each give the same result
            as one call.
        checkpoint_path : path-like, optional
            Where to write the checkpoint every ``config.checkpoint_every`` epochs and at the end.
        progress : bool, default True
            Show a progress bar per epoch on stderr.

        Returns
        -------
        list of dict
            One record per epoch trained so far (including epochs before a resume): ``epoch``, mean
            ``loss``, wall-clock ``seconds``, ``lr`` and ``beta1`` at the end of the epoch, and the
            epoch means of the loss's ``last_stats``.
        """
        if n_epochs is not None and n_epochs < 0:
            raise ValueError(f"n_epochs must be >= 0, got {n_epochs}")
        stop = (
            self.config.epochs
            if n_epochs is None
            else min(self.config.epochs, self.epoch + n_epochs)
        )
        while self.epoch < stop:
            bar = ProgressBar(
                len(self.sampler), f"epoch {self.epoch + 1}/{self.config.epochs}", enabled=progress
            )
            record = self._train_epoch(bar)
            bar.close(f"loss={record['loss']:.4f}")
            self.history.append(record)
            self.epoch += 1
            last = self.epoch == self.config.epochs
            if checkpoint_path is not None and (
                last or self.epoch % self.config.checkpoint_every == 0
            ):
                self.save_checkpoint(checkpoint_path)
        return self.history

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What resuming needs: model, loss, optimizer, schedule, config, epoch, RNG, history."""
        return {
            "config": self.config.to_dict(),
            "metadata": self.metadata,
            "model": self.model.state_dict(),
            "loss": self.loss.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "epoch": self.epoch,
            "generator": self.generator.get_state(),
            "history": list(self.history),
        }

    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`state_dict` atomically to ``path``."""
        save_checkpoint(self.state_dict(), path)

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` into this trainer.

        The trainer must have been built with the same architecture; the checkpoint's config
        replaces ``self.config`` only if they agree on everything but ``epochs`` (extending a
        finished run with more epochs is allowed; the schedule then keeps its final values).

        Raises
        ------
        ValueError
            If the checkpoint's config differs from this trainer's in anything but ``epochs``.
        """
        state = load_checkpoint(path, map_location=self.device)
        saved = TrainConfig.from_dict(state["config"])
        mine = self.config.to_dict()
        theirs = saved.to_dict()
        mine.pop("epochs")
        theirs.pop("epochs")
        if mine != theirs:
            diff = sorted(k for k in mine if mine[k] != theirs[k])
            raise ValueError(f"checkpoint was trained with different settings: {', '.join(diff)}")
        self.model.load_state_dict(state["model"])
        self.loss.load_state_dict(state["loss"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.generator.set_state(state["generator"])
        self.epoch = int(state["epoch"])
        self.history = [dict(r) for r in state["history"]]
        self.metadata = dict(state.get("metadata", {}))

    def mean_seconds_per_epoch(self) -> float:
        """Mean wall-clock seconds of the epochs in :attr:`history` (NaN before the first epoch)."""
        if not self.history:
            return float("nan")
        return float(np.mean([r["seconds"] for r in self.history]))

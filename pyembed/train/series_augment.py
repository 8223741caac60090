"""Random shifts, scalings and noise for time-series batches, drawn from an explicit generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["SeriesAugment"]


class SeriesAugment:
    """Random time shift, amplitude scaling and Gaussian jitter of series batches.

    Parameters
    ----------
    max_shift : int, default 0
        Shift each series by up to this many samples (edge values replicated).
    scale : float, default 0.0
        Multiply each series by a factor drawn uniformly from ``[1 - scale, 1 + scale]``.
    noise_std : float, default 0.0
        Add Gaussian noise with this standard deviation (in the series' units).

    Notes
    -----
    Call as ``augment(series, generator)`` with series ``(n, length)`` or ``(n, C, length)``;
    returns the same shape. All randomness comes from ``generator``.
    """

    def __init__(self, max_shift: int = 0, scale: float = 0.0, noise_std: float = 0.0) -> None:
        if max_shift < 0 or scale < 0 or noise_std < 0:
            raise ValueError(
                f"max_shift, scale and noise_std must be >= 0, got {max_shift}, {scale}, "
                f"{noise_std}"
            )
        self.max_shift = int(max_shift)
        self.scale = float(scale)
        self.noise_std = float(noise_std)

    def __repr__(self) -> str:
        return (
            f"SeriesAugment(max_shift={self.max_shift}, scale={self.scale}, "
            f"noise_std={self.noise_std})"
        )

    def __call__(self, series: Tensor, generator: torch.Generator) -> Tensor:
        squeeze = series.ndim == 2
        x = series.unsqueeze(1) if squeeze else series
        if x.ndim != 3:
            raise ValueError(
                f"series must be (n, length) or (n, C, length), got shape {tuple(series.shape)}"
            )
        n, _, length = x.shape
        if self.max_shift:
            s = self.max_shift
            shifts = torch.randint(0, 2 * s + 1, (n,), generator=generator).tolist()
            padded = F.pad(x, (s, s), mode="replicate")
            x = torch.stack([padded[i, :, d : d + length] for i, d in enumerate(shifts)])
        if self.scale:
            factors = 1.0 + self.scale * (2.0 * torch.rand(n, generator=generator) - 1.0)
            x = x * factors[:, None, None].to(x.dtype)
        if self.noise_std:
            x = x + self.noise_std * torch.randn(x.shape, generator=generator).to(x.dtype)
        return x.squeeze(1) if squeeze else x

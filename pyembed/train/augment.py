"""Random flips and shifts for image batches, drawn from an explicit generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ImageAugment"]


class ImageAugment:
    """Random horizontal flip and translation of image batches.

    Parameters
    ----------
    flip : bool, default True
        Mirror each image left-right with probability 1/2 (faces are roughly symmetric).
    max_shift : int, default 2
        Shift each image by up to this many pixels along each axis (border pixels replicated).

    Notes
    -----
    Call as ``augment(images, generator)`` with images ``(n, C, H, W)`` or ``(n, H, W)``; returns
    the same shape. All randomness comes from ``generator`` (a ``torch.Generator``), so training is
    reproducible and resumable.
    """

    def __init__(self, flip: bool = True, max_shift: int = 2) -> None:
        if max_shift < 0:
            raise ValueError(f"max_shift must be >= 0, got {max_shift}")
        self.flip = bool(flip)
        self.max_shift = int(max_shift)

    def __repr__(self) -> str:
        return f"ImageAugment(flip={self.flip}, max_shift={self.max_shift})"

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        squeeze = images.ndim == 3
        x = images.unsqueeze(1) if squeeze else images
        if x.ndim != 4:
            raise ValueError(
                f"images must be (n, C, H, W) or (n, H, W), got shape {tuple(images.shape)}"
            )
        n, _, height, width = x.shape
        if self.flip:
            mirror = torch.rand(n, generator=generator) < 0.5
            x = torch.where(mirror[:, None, None, None].to(x.device), x.flip(-1), x)
        if self.max_shift:
            s = self.max_shift
            shifts = torch.randint(0, 2 * s + 1, (n, 2), generator=generator)
            padded = F.pad(x, (s, s, s, s), mode="replicate")
            x = torch.stack(
                [
                    padded[i, :, dy : dy + height, dx : dx + width]
                    for i, (dy, dx) in enumerate(shifts.tolist())
                ]
            )
        return x.squeeze(1) if squeeze else x

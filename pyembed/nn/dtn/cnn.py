"""A plain CNN live/spoof classifier: the DTN's baseline without a tree."""

from __future__ import annotations

from torch import Tensor, nn

from pyembed.nn.dtn.units import LEAKY_SLOPE, ConvResidualUnit, SpoofLeaf, init_dtn_weights_

__all__ = ["SpoofCNN"]


class SpoofCNN(nn.Module):
    """Stem, a chain of ``n_levels`` CRUs and one leaf's class head: a single live/spoof logit.

    The same units as :class:`~pyembed.nn.dtn.DeepTreeNetwork` in a line instead of a tree, so
    with a larger ``width`` it has a similar number of parameters (the benchmark matches them).

    Parameters
    ----------
    in_channels : int, default 1
    image_side : int, default 64
        Side of the square inputs, in pixels.
    width : int, default 32
        Channels of every CRU.
    n_levels : int, default 3
        CRUs in the chain.
    n_pool : int, default 2
        The first ``n_pool`` CRUs halve the side.
    hidden : int, default 64
        Dense width of the class head.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        image_side: int = 64,
        width: int = 32,
        n_levels: int = 3,
        n_pool: int = 2,
        hidden: int = 64,
    ) -> None:
        super().__init__()
        if min(in_channels, width, n_levels) < 1:
            raise ValueError("in_channels, width and n_levels must be >= 1")
        if not 0 <= n_pool <= n_levels:
            raise ValueError(f"n_pool must be in 0..n_levels={n_levels}, got {n_pool}")
        self.in_channels = in_channels
        self.image_side = image_side
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, 5, padding=2, bias=False),
            nn.BatchNorm2d(width),
            nn.LeakyReLU(LEAKY_SLOPE),
        ]
        side = image_side
        for level in range(n_levels):
            layers.append(ConvResidualUnit(width, pool=level < n_pool))
            if level < n_pool:
                side = (side + 1) // 2
        self.body = nn.Sequential(*layers)
        self.head = SpoofLeaf(width, side, hidden=hidden)
        init_dtn_weights_(self)

    def forward(self, images: Tensor) -> Tensor:
        """Logits ``(n,)`` (positive: spoof) for images ``(n, in_channels, side, side)``."""
        expected = (self.in_channels, self.image_side, self.image_side)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"images must have shape (n, {expected[0]}, {expected[1]}, {expected[2]}), "
                f"got {tuple(images.shape)}"
            )
        x = self.body(images)
        return self.head.class_dense(self.head.class_convs(x)).squeeze(1)

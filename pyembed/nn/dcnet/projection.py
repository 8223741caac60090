"""Weight projection for every decoupled layer of a model."""

from __future__ import annotations

from torch import nn

from pyembed.nn.dcnet._layer import DecoupledWeights

__all__ = ["project_weights_"]


def project_weights_(model: nn.Module, scale: float = 1.0) -> int:
    """DCNet weight projection ``w <- scale * w / ||w||`` of every decoupled layer in ``model``.

    Large ``||w||`` shrinks the gradient of the angle (it scales as ``1 / ||w||``); projecting after
    each optimizer step keeps ``||w|| = scale`` (the paper uses ``scale = 1``).

    Parameters
    ----------
    model : nn.Module
    scale : float, default 1.0
        Target norm ``s`` of every kernel.

    Returns
    -------
    int
        Number of layers projected.
    """
    count = 0
    for module in model.modules():
        if isinstance(module, DecoupledWeights):
            module.project_(scale)
            count += 1
    return count

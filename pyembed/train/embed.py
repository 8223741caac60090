"""Run a trained model over an array in batches."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

__all__ = ["embed"]


def embed(
    model: nn.Module,
    inputs: Tensor,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> NDArray[np.float32]:
    """Embeddings of ``inputs`` in evaluation mode, without gradients.

    Parameters
    ----------
    model : nn.Module
        Maps a batch ``(b, ...)`` to ``(b, dim)``.
    inputs : Tensor, shape (n, ...)
        Converted batch by batch to ``dtype`` on ``device``.
    batch_size : int, default 256
    device : str or torch.device, default "cpu"
    dtype : torch.dtype, default torch.float32

    Returns
    -------
    ndarray of float32, shape (n, dim)
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with torch.no_grad():
            for start in range(0, inputs.shape[0], batch_size):
                batch = inputs[start : start + batch_size].to(device=device, dtype=dtype)
                chunks.append(model(batch).detach().to("cpu", torch.float32).numpy())
    finally:
        model.train(was_training)
    if not chunks:
        dim = int(getattr(model, "embedding_dim", 0))
        return np.zeros((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)

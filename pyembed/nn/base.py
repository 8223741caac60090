"""The contract every pyembed embedding network follows."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["EmbeddingNet"]


class EmbeddingNet(nn.Module):
    """Base class: a network mapping a batch of inputs to ``(n, embedding_dim)`` embeddings.

    Subclasses implement :meth:`encode`; :meth:`forward` adds the optional L2 normalisation.

    Parameters
    ----------
    embedding_dim : int
        Size ``d`` of the output embedding.
    normalize : bool, default False
        Return unit-length embeddings (``x / max(||x||, 1e-12)``). Off by default: the embeddings
        are unnormalised unless asked for.
    """

    def __init__(self, embedding_dim: int, normalize: bool = False) -> None:
        super().__init__()
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        self.embedding_dim = int(embedding_dim)
        self.normalize = bool(normalize)

    def encode(self, inputs: Tensor) -> Tensor:
        """Unnormalised embeddings, shape ``(n, embedding_dim)``; subclasses implement this."""
        raise NotImplementedError

    def forward(self, inputs: Tensor) -> Tensor:
        """Embed a batch; see the subclass for the input shape. Returns ``(n, embedding_dim)``."""
        out = self.encode(inputs)
        return F.normalize(out, dim=1, eps=1e-12) if self.normalize else out

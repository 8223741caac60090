"""The run's face network behind the server: image bytes to model inputs to embeddings.

Preprocessing is :mod:`pyembed.datasets.images` (the same as ``pyembed query``): decode,
grayscale, centre crop, resize to the model's input; the network sees ``pixels / 255``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from pyembed.datasets.images import decode_image, face_crop

__all__ = ["DECODE_SLOTS", "FaceModel"]

DECODE_SLOTS = 2
"""Images decoded at once: the server's threads would otherwise each hold a full-size decode."""


class FaceModel:
    """A faces run's network in evaluation mode, with its input size.

    Parameters
    ----------
    run : pyembed.train.run_dir.Run
        A faces run (see :func:`pyembed.train.run_dir.load_run`).
    """

    def __init__(self, run: object) -> None:
        from pyembed.train.run_dir import Run, load_model

        if not isinstance(run, Run):
            raise TypeError(f"run must be a pyembed.train.run_dir.Run, got {type(run).__name__}")
        self._model = load_model(run)
        h, w = run.metadata["data"]["image_shape"]
        self.image_shape = (int(h), int(w))
        """The model's input ``(height, width)`` in pixels."""
        self.dim = int(run.arrays["embeddings"].shape[1])
        """Width of an embedding."""
        self._lock = threading.Lock()
        self._decode_slots = threading.BoundedSemaphore(DECODE_SLOTS)

    def prepare(self, files: Sequence[tuple[str, bytes]], crop: float) -> NDArray[np.uint8]:
        """Decode and preprocess ``(name, bytes)`` image files into model inputs ``(n, h, w)``.

        Raises
        ------
        pyembed.datasets.images.ImageError
            If a file is not a usable image (the message starts with its name).
        ValueError
            If ``crop`` is outside ``(0, 1]``.
        """
        out = np.empty((len(files), *self.image_shape), dtype=np.uint8)
        for i, (name, data) in enumerate(files):
            with self._decode_slots:  # a 40-megapixel decode holds about 160 MB
                out[i] = face_crop(decode_image(data, name=name), self.image_shape, crop)
        return out

    def embed(self, inputs: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Embeddings ``(n, dim)`` float32 of preprocessed inputs ``(n, h, w)`` uint8.

        Forward passes are serialised: torch already spreads one pass over the cores, and
        concurrent passes would only compete for them.
        """
        from pyembed.train import embed, image_tensor

        with self._lock:
            return embed(self._model, image_tensor(inputs))

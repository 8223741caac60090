"""Image files to face-model inputs: the one preprocessing that ``pyembed query`` and ``pyembed
serve`` share.

A face run is trained on grayscale ``uint8`` arrays of one size (``data.image_shape`` in the run's
metadata, 64 x 64 for Olivetti). Any photo or camera frame is turned into such an array in three
steps, always the same:

1. **Decode** (Pillow): PNG, JPEG, BMP, GIF (first frame), TIFF, WebP or PGM/PPM, and no other
   format, of at most :data:`MAX_PIXELS` pixels (checked from the header, before the pixels are
   decoded). The EXIF orientation of phone photos is applied.
2. **Grayscale**: Pillow's ``"L"`` conversion, the ITU-R 601-2 luma
   ``L = 0.299 R + 0.587 G + 0.114 B`` (an alpha channel is dropped, not blended); 16-bit grey is
   scaled from ``0..65535`` and float grey from ``0..1``.
3. **Centre crop and resize**: the largest centred box with the model's aspect ratio, shrunk about
   its centre to the fraction ``crop`` of its side (``1.0`` keeps the whole box: right for images
   that are already face crops; a webcam frame with the face in the middle third wants about
   ``0.6``), resized to the model's input: shrinking by area averaging (Pillow's ``BOX`` filter:
   each output pixel is the mean of the input pixels it covers), enlarging bilinearly. The box may
   have fractional corners; Pillow samples them exactly. An image that already has the model's
   size with ``crop = 1.0`` is returned unchanged.

   Why area averaging: a bilinear (triangle) filter spreads each output pixel over twice its
   footprint, a blur the face networks are not trained on. Measured on Olivetti through the
   webcam path (a face enlarged 3x, 320-line frame, JPEG, cropped back to 64 x 64), bilinear
   shrinking moved held-out faces 0.05-0.13 farther from their own person (L2, unit-length
   embeddings) and past the open-set threshold; area averaging gives back the face within 0.3
   grey levels.

The network then sees ``pixels / 255`` (:func:`pyembed.train.image_tensor`), as in training.
Pillow is imported only when an image is decoded or cropped; it comes with the ``serve`` extra.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "ImageError",
    "decode_image",
    "face_crop",
    "read_face_images",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")
"""File name endings read as images (case-insensitive)."""

MAX_PIXELS = 40_000_000
"""Largest image accepted, in pixels (width x height): a 40 megapixel photo. Larger headers are
refused before decoding, so a small file claiming a huge image cannot exhaust memory."""


class ImageError(ValueError):
    """An input that is not a readable image, or an image that cannot be used (too large)."""


def _pil() -> Any:
    """The Pillow ``Image`` module, or an ImportError saying which extra installs it."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - exercised only without Pillow
        raise ImportError(
            "reading image files needs Pillow: pip install 'pyembed[serve]' (or pip install pillow)"
        ) from exc
    return Image


def decode_image(
    source: bytes | str | os.PathLike[str], *, name: str | None = None
) -> NDArray[np.uint8]:
    """Decode an image file (bytes or a path) to a grayscale ``uint8`` array ``(height, width)``.

    Parameters
    ----------
    source : bytes or path-like
        The encoded file, or its path.
    name : str, optional
        What to call the input in error messages (default: the path, or ``"image"``).

    Returns
    -------
    ndarray of uint8, shape (height, width)
        Luma in ``0..255`` after the EXIF orientation is applied.

    Raises
    ------
    ImageError
        If the bytes are empty, not an image Pillow can read, truncated, or larger than
        :data:`MAX_PIXELS`. The message starts with ``name``.
    OSError
        If the path cannot be opened (``filename`` is the path).
    """
    Image = _pil()
    from PIL import ImageOps, UnidentifiedImageError

    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "image"
    else:
        label = name or os.fspath(source)
        data = Path(source).read_bytes()
    if not data:
        raise ImageError(f"{label}: the file is empty")
    try:
        with warnings.catch_warnings():
            # The pixel limit is ours (below); Pillow's own bomb warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_FORMATS) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ImageError(
                        f"{label}: {width} x {height} pixels, more than the {MAX_PIXELS:,} pixels "
                        "accepted"
                    )
                if width < 1 or height < 1:
                    raise ImageError(f"{label}: the image has no pixels")
                img.seek(0)  # the first frame of an animation
                upright = ImageOps.exif_transpose(img)
                return _luma(upright)
    except ImageError:
        raise
    except MemoryError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own limit, met before ours in open()
        raise ImageError(f"{label}: more than the {MAX_PIXELS:,} pixels accepted ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{label}: not an image of an accepted format ({_FORMAT_NAMES})") from exc
    except Exception as exc:
        # Pillow's decoders report damaged data as OSError, SyntaxError, ValueError, but also as
        # TypeError, struct.error, IndexError, EOFError... (a byte-flipped TIFF raised TypeError).
        raise ImageError(f"{label}: the image data is corrupt or truncated ({exc})") from exc


_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
"""Pillow plugins tried; no other (no EPS, which would run Ghostscript on an upload)."""
_FORMAT_NAMES = "PNG, JPEG, BMP, GIF, TIFF, WebP, PGM/PPM"


def _luma(img: Any) -> NDArray[np.uint8]:
    """8-bit luma of a decoded Pillow image.

    Pillow's ``"L"`` conversion clips wider samples instead of scaling them, so those are scaled
    here first: 16- and 32-bit integer grey (``I;16``, ``I``: 16-bit PNG and TIFF) from
    ``0..65535``, and float grey (``F``) from ``0..1`` (or taken as ``0..255`` when its largest
    value is above 1); values outside the range are clipped.
    """
    if img.mode.startswith("I") or img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        if img.mode == "F":
            top = 1.0 if values.size == 0 or np.nanmax(values) <= 1.0 else 255.0
        else:
            top = 65535.0
        values = np.nan_to_num(values, nan=0.0) * (255.0 / top)
        return np.clip(np.round(values), 0, 255).astype(np.uint8)
    return np.array(img.convert("L"), dtype=np.uint8)


def face_crop(
    image: NDArray[np.uint8], shape: Sequence[int], crop: float = 1.0
) -> NDArray[np.uint8]:
    """Centre-crop a grayscale image to the model's aspect ratio and resize it to ``shape``.

    Parameters
    ----------
    image : ndarray of uint8, shape (height, width)
        A decoded grayscale image (:func:`decode_image`).
    shape : (int, int)
        The model's input ``(height, width)`` in pixels.
    crop : float, default 1.0
        Side of the kept box as a fraction of the largest centred box with the aspect ratio of
        ``shape``, in ``(0, 1]``.

    Returns
    -------
    ndarray of uint8, shape ``shape``
        Shrunk by area averaging or enlarged bilinearly (module docs); ``image`` itself (a copy)
        when it already has that shape and ``crop`` is 1.

    Raises
    ------
    ValueError
        If ``image`` is not a 2-D uint8 array with pixels, ``shape`` not two positive sizes, or
        ``crop`` outside ``(0, 1]``.
    """
    Image = _pil()
    arr = np.asarray(image)
    if arr.ndim != 2 or arr.dtype != np.uint8 or 0 in arr.shape:
        raise ValueError(
            f"image must be a 2-D uint8 array with pixels, got {arr.dtype} {arr.shape}"
        )
    out_h, out_w = (int(s) for s in shape)
    if out_h < 1 or out_w < 1 or len(shape) != 2:
        raise ValueError(f"shape must be two positive sizes, got {tuple(shape)}")
    crop = float(crop)
    if not 0.0 < crop <= 1.0:
        raise ValueError(f"crop must be in (0, 1], got {crop}")
    height, width = arr.shape
    if (height, width) == (out_h, out_w) and crop == 1.0:
        return arr.copy()
    aspect = out_w / out_h
    box_w, box_h = (
        (height * aspect, float(height))
        if width / height > aspect
        else (
            float(width),
            width / aspect,
        )
    )
    box_w, box_h = box_w * crop, box_h * crop
    left, top = (width - box_w) / 2.0, (height - box_h) / 2.0
    shrinking = box_w >= out_w and box_h >= out_h
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    resized = Image.fromarray(np.ascontiguousarray(arr), mode="L").resize(
        (out_w, out_h), resample, box=(left, top, left + box_w, top + box_h)
    )
    return np.array(resized, dtype=np.uint8)


def read_face_images(
    paths: Sequence[str | os.PathLike[str]], shape: Sequence[int], crop: float = 1.0
) -> NDArray[np.uint8]:
    """Decode, grayscale, centre-crop and resize image files: the model inputs ``(n, h, w)``.

    Parameters
    ----------
    paths : sequence of path-like
        Image files (:data:`IMAGE_SUFFIXES`).
    shape : (int, int)
        The model's input ``(height, width)``.
    crop : float, default 1.0
        See :func:`face_crop`.

    Returns
    -------
    ndarray of uint8, shape (len(paths), height, width)

    Raises
    ------
    ImageError, OSError, ValueError
        As :func:`decode_image` and :func:`face_crop`; file errors name the file.
    """
    out_h, out_w = (int(s) for s in shape)
    out = np.empty((len(paths), out_h, out_w), dtype=np.uint8)
    for i, path in enumerate(paths):
        out[i] = face_crop(decode_image(path), (out_h, out_w), crop)
    return out

"""Synthetic face presentation attacks with per-pixel spoof masks, and the zero-shot folds (numpy only).

This module owns the data side of the Deep Tree Network anti-spoofing benchmark: resizing grayscale
faces to the working size (:func:`to_size`), the nuisance jitter shared by live and spoof samples
(:func:`jitter`), six presentation attacks rendered over real faces (:func:`attack`, names in
:data:`ATTACKS`), the labelled sample set built from a face array (:func:`make_spoof_set`,
:class:`SpoofSet`) and the leave-one-attack-out, identity-disjoint protocol (:func:`zero_shot_folds`,
:class:`Fold`).

No spoof database is available offline, so every attack here is synthetic: a model of the traces a
print, a screen replay, a paper mask, a partial paper occlusion, a re-captured / compressed image or a
3D mask leaves on a grayscale face. Numbers measured on these sets are an internal benchmark; they are
not comparable to SiW-M or any other published anti-spoofing result.

Images are float32 in [0, 1], shape ``(H, W)`` (one image) or ``(N, H, W)``; masks have the image's
shape, float32 in [0, 1], 1 where the pixel shows the attack instrument. Lengths are in pixels and
frequencies in cycles per pixel. Every random choice comes from a ``numpy.random.Generator`` passed
in, or from ``seed`` (default 0).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ATTACKS",
    "Fold",
    "SpoofSet",
    "attack",
    "jitter",
    "make_spoof_set",
    "to_size",
    "zero_shot_folds",
]

ATTACKS: tuple[str, ...] = ("print", "replay", "paper_mask", "partial", "recapture", "mask3d")
"""The attack types, in the order of :attr:`SpoofSet.attack_names` for the default set."""

MIN_SIZE = 16
"""Smallest working side length :func:`make_spoof_set` accepts (two 8x8 JPEG blocks, a few dots)."""

Float32Array = NDArray[np.float32]

# Face geometry as fractions of the frame, measured on the mean Olivetti (64x64) and Extended Yale B
# (32x32) faces: both are tight, upright crops with the eyes near 25-30% of the height (not 35-45%),
# the eye centres near 25% and 75% of the width and the mouth near 73-75% of the height.
_EYE_ROW = (0.26, 0.32)
_EYE_OFFSET = (0.20, 0.24)
_MOUTH_ROW = (0.71, 0.77)

# The JPEG standard's luminance quantisation table (ITU-T T.81, Annex K, Table K.1).
_JPEG_LUMINANCE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float64,
)


def _dct_matrix(n: int = 8) -> NDArray[np.float64]:
    """The orthonormal DCT-II matrix ``D`` (``D @ x`` transforms a column, ``D.T`` inverts)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d


_DCT8 = _dct_matrix(8)


# ---------------------------------------------------------------------------------------------
# small image helpers (all numpy, all on (..., H, W) arrays)


def _blur(image: NDArray[Any], sigma: float) -> Float32Array:
    """Gaussian blur of standard deviation ``sigma`` px: separable, reflect padding; sigma <= 0 copies."""
    out = np.asarray(image, dtype=np.float32)
    if sigma <= 0.0:
        return out.copy()
    radius = max(1, int(np.ceil(3.0 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel = (kernel / kernel.sum()).astype(np.float32)
    for axis in (-2, -1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.size, axis=axis)
        out = windows @ kernel
    return np.ascontiguousarray(out, dtype=np.float32)


def _axis_weights(n_in: int, n_out: int) -> tuple[NDArray[np.intp], NDArray[np.intp], Float32Array]:
    """Bilinear sample positions along one axis (pixel centres aligned, edges clamped)."""
    x = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    x = np.clip(x, 0.0, n_in - 1)
    i0 = np.floor(x).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (x - i0).astype(np.float32)


def _resize(image: NDArray[Any], height: int, width: int) -> Float32Array:
    """Bilinear resize of the last two axes to ``(height, width)`` (half-pixel centres, no prefilter)."""
    a = np.asarray(image, dtype=np.float32)
    r0, r1, tr = _axis_weights(a.shape[-2], height)
    c0, c1, tc = _axis_weights(a.shape[-1], width)
    rows = a[..., r0, :] * (1.0 - tr)[:, None] + a[..., r1, :] * tr[:, None]
    return np.ascontiguousarray(rows[..., c0] * (1.0 - tc) + rows[..., c1] * tc, dtype=np.float32)


def _shifted(image: Float32Array, dy: float, dx: float, scale: float = 1.0) -> Float32Array:
    """``image`` moved by ``(dy, dx)`` px and scaled by ``scale`` about its centre (bilinear, clamped)."""
    h, w = image.shape
    ys = (np.arange(h) - (h - 1) / 2 - dy) / scale + (h - 1) / 2
    xs = (np.arange(w) - (w - 1) / 2 - dx) / scale + (w - 1) / 2
    ys = np.clip(ys, 0, h - 1)
    xs = np.clip(xs, 0, w - 1)
    y0 = np.floor(ys).astype(np.intp)
    x0 = np.floor(xs).astype(np.intp)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    ty = (ys - y0).astype(np.float32)[:, None]
    tx = (xs - x0).astype(np.float32)[None, :]
    top = image[y0][:, x0] * (1 - tx) + image[y0][:, x1] * tx
    bottom = image[y1][:, x0] * (1 - tx) + image[y1][:, x1] * tx
    return (top * (1 - ty) + bottom * ty).astype(np.float32)


def _grid(h: int, w: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pixel-centre row and column coordinates, each ``(h, w)``."""
    return np.meshgrid(
        np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij"
    )


def _ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> NDArray[np.bool_]:
    """Pixels whose centres lie inside the ellipse (centre and radii in px)."""
    yy, xx = _grid(h, w)
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _face_ellipse(
    h: int, w: int, rng: np.random.Generator, inset: float = 0.0
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The face region of a tight, upright, roughly centred face crop, with a random fit, and the
    same ellipse with both radii shortened by ``inset`` px."""
    cy, cx = h * rng.uniform(0.50, 0.54), w * rng.uniform(0.48, 0.52)
    ry, rx = h * rng.uniform(0.52, 0.58), w * rng.uniform(0.43, 0.49)
    inner = _ellipse(h, w, cy, cx, max(ry - inset, 0.5), max(rx - inset, 0.5))
    return _ellipse(h, w, cy, cx, ry, rx), inner


def _erode(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """3x3 binary erosion (pixels beyond the frame count as inside, so the frame edge is no cut)."""
    padded = np.pad(mask, 1, mode="edge")
    out = np.ones_like(mask)
    h, w = mask.shape
    for dy in range(3):
        for dx in range(3):
            out &= padded[dy : dy + h, dx : dx + w]
    return out


def _halftone(tone: Float32Array, rng: np.random.Generator) -> tuple[Float32Array, float]:
    """Clustered-dot halftone of ``tone`` (1 = paper white): the ink coverage in [0, 1] and the pitch.

    A rotated cosine dot screen at 2-4 px pitch and a random angle and phase; a pixel is paper where
    the tone exceeds the screen, thresholded softly (ink spread) and mixed with the continuous tone
    (the camera does not resolve the dots fully).
    """
    h, w = tone.shape
    pitch = rng.uniform(2.0, 4.0)
    angle = rng.uniform(0.0, np.pi / 2)
    phase = rng.uniform(0.0, 2 * np.pi, size=2)
    yy, xx = _grid(h, w)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    screen = 0.5 + 0.25 * (
        np.cos(2 * np.pi * u / pitch + phase[0]) + np.cos(2 * np.pi * v / pitch + phase[1])
    )
    softness = rng.uniform(0.05, 0.12)
    dots = 1.0 / (1.0 + np.exp(-(tone - screen) / softness))
    strength = rng.uniform(0.25, 0.5)
    out = (1.0 - strength) * tone + strength * _blur(dots, rng.uniform(0.3, 0.5))
    return np.clip(out, 0.0, 1.0).astype(np.float32), float(pitch)


def _print_render(face: Float32Array, rng: np.random.Generator) -> Float32Array:
    """``face`` as a photographed print: blur, gamma, halftone, paper grain, ink/paper levels.

    Returns ``b + (w - b) * halftone(blur(face) ** gamma) * (1 + grain)`` clipped to [0, 1], with
    gamma 1.2-2, black level b 0.05-0.15, paper white w 0.85-0.95, print blur sigma 0.5-1 px
    (applied before screening: a camera blur of 1 px after it would erase a 2 px screen).
    """
    h, w = face.shape
    gamma = rng.uniform(1.2, 2.0)
    black = rng.uniform(0.05, 0.15)
    white = rng.uniform(0.85, 0.95)
    tone = np.clip(_blur(face, rng.uniform(0.5, 1.0)), 0.0, 1.0) ** gamma
    ink, _ = _halftone(tone.astype(np.float32), rng)
    grain = _blur(rng.standard_normal((h, w)).astype(np.float32), rng.uniform(0.8, 1.5))
    grain *= rng.uniform(0.02, 0.05) / (float(grain.std()) + 1e-8)
    out = (black + (white - black) * ink) * (1.0 + grain)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _jpeg(image: Float32Array, quality: int) -> Float32Array:
    """JPEG-like luminance compression: 8x8 block DCT, quantisation with the standard table scaled
    for ``quality`` (IJG scaling), reconstruction. Edges are padded by replication to a multiple of 8."""
    h, w = image.shape
    scale = 5000.0 / quality if quality < 50 else 200.0 - 2.0 * quality
    table = np.clip(np.floor((_JPEG_LUMINANCE * scale + 50.0) / 100.0), 1.0, 255.0)
    ph, pw = -h % 8, -w % 8
    x = np.pad(image.astype(np.float64) * 255.0 - 128.0, ((0, ph), (0, pw)), mode="edge")
    bh, bw = x.shape[0] // 8, x.shape[1] // 8
    blocks = x.reshape(bh, 8, bw, 8).transpose(0, 2, 1, 3)
    coefficients = _DCT8 @ blocks @ _DCT8.T
    coefficients = np.round(coefficients / table) * table
    blocks = _DCT8.T @ coefficients @ _DCT8
    x = blocks.transpose(0, 2, 1, 3).reshape(bh * 8, bw * 8)[:h, :w]
    return np.clip((x + 128.0) / 255.0, 0.0, 1.0).astype(np.float32)


def _bilateral(image: Float32Array, sigma_space: float, sigma_range: float) -> Float32Array:
    """One pass of a 5x5 bilateral filter (reflect padding)."""
    radius = 2
    h, w = image.shape
    padded = np.pad(image, radius, mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * radius + 1, 2 * radius + 1))
    offsets = np.arange(-radius, radius + 1, dtype=np.float32)
    spatial = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma_space**2))
    difference = windows - image[:, :, None, None]
    weights = spatial * np.exp(-(difference**2) / (2 * sigma_range**2))
    return ((weights * windows).sum(axis=(2, 3)) / (weights.sum(axis=(2, 3)) + 1e-8)).astype(
        np.float32
    )


def _glare(h: int, w: int, rng: np.random.Generator) -> Float32Array:
    """A reflection on glass: a Gaussian blob or a linear gradient, peak strength 0.1-0.4."""
    strength = rng.uniform(0.1, 0.4)
    yy, xx = _grid(h, w)
    if rng.random() < 0.5:
        cy, cx = h * rng.uniform(0.15, 0.85), w * rng.uniform(0.15, 0.85)
        sigma = min(h, w) * rng.uniform(0.12, 0.3)
        shape = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    else:
        angle = rng.uniform(0.0, 2 * np.pi)
        ramp = (xx / max(w - 1, 1) - 0.5) * np.cos(angle) + (yy / max(h - 1, 1) - 0.5) * np.sin(
            angle
        )
        shape = np.clip(ramp / np.sqrt(0.5) + 0.5, 0.0, 1.0)
    return (strength * shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# public functions


def _check_image(image: Any, name: str) -> Float32Array:
    """A 2-D finite float image in [0, 1] as float32, or a clear error naming ``name``."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point image in [0, 1], got dtype {image.dtype}")
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"{name} must have shape (H, W) with H, W >= 1, got {image.shape}")
    if not np.all(np.isfinite(image)):
        raise ValueError(f"{name} contains NaN or infinity")
    if image.min() < 0.0 or image.max() > 1.0:
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{image.min():.3g}, {image.max():.3g}]"
        )
    return np.asarray(image, dtype=np.float32)


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def to_size(images: ArrayLike, size: int = 64) -> Float32Array:
    """Grayscale images as float32 in [0, 1] at ``size`` x ``size`` (bilinear resize).

    Parameters
    ----------
    images : array_like, shape (n, h, w)
        ``uint8`` (divided by 255) or floating point already in [0, 1] (kept). ``n, h, w >= 1``.
        Non-square images are stretched to a square.
    size : int, default 64
        Output side length in px, ``>= 1``. Upsampling (Extended Yale B's 32 -> 64) and
        downsampling use bilinear interpolation with pixel centres aligned and no prefilter (for
        a factor of exactly 1/2 this is 2x2 averaging). Images already of that size are only
        converted.

    Returns
    -------
    ndarray of float32, shape (n, size, size)
        Values in [0, 1]; a new array.

    Raises
    ------
    TypeError
        If ``images`` is neither ``uint8`` nor floating point (e.g. bool, int64, complex, object),
        or ``size`` is not an integer.
    ValueError
        If ``images`` is not 3-D, is empty, contains NaN or infinity, or (floating point) leaves
        [0, 1]; if ``size < 1``.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an integer, got {type(size).__name__}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    array = np.asarray(images)
    if array.dtype != np.uint8 and array.dtype.kind != "f":
        raise TypeError(
            f"images must be uint8 or floating point in [0, 1], got dtype {array.dtype}"
        )
    if array.ndim != 3:
        raise ValueError(f"images must have shape (n, h, w), got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"images must be non-empty with n, h, w >= 1, got shape {array.shape}")
    if array.dtype == np.uint8:
        out = array.astype(np.float32) / np.float32(255.0)
    else:
        if not np.all(np.isfinite(array)):
            raise ValueError("images contains NaN or infinity")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"floating-point images must lie in [0, 1], got values in [{low:.3g}, {high:.3g}]"
            )
        out = array.astype(np.float32)
    if out.shape[1:] != (size, size):
        out = np.clip(_resize(out, int(size), int(size)), 0.0, 1.0)
    return np.ascontiguousarray(out, dtype=np.float32)


def jitter(image: Float32Array, rng: np.random.Generator) -> Float32Array:
    """Capture nuisance applied the same way to live and spoof samples.

    In order: Gaussian blur (none with probability 0.5, else sigma 0.3-1.0 px), contrast about the
    image mean (factor 0.8-1.2), brightness shift (-0.08 to 0.08), additive Gaussian noise (standard
    deviation 0-0.03), clipping to [0, 1]. All draws from ``rng``; the input is not modified.

    Parameters
    ----------
    image : ndarray of float, shape (H, W)
        Values in [0, 1].
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float32, shape (H, W)
        Values in [0, 1].

    Raises
    ------
    TypeError
        If ``image`` is not a floating-point numpy array or ``rng`` is not a Generator.
    ValueError
        If ``image`` is not 2-D, is empty, is not finite or leaves [0, 1].
    """
    x = _check_image(image, "image")
    rng = _check_rng(rng)
    sigma = 0.0 if rng.random() < 0.5 else rng.uniform(0.3, 1.0)
    x = _blur(x, sigma)
    mean = float(x.mean())
    x = mean + rng.uniform(0.8, 1.2) * (x - mean) + rng.uniform(-0.08, 0.08)
    x = x + rng.uniform(0.0, 0.03) * rng.standard_normal(x.shape).astype(np.float32)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def _attack_print(
    image: Float32Array, rng: np.random.Generator
) -> tuple[Float32Array, Float32Array]:
    return _print_render(image, rng), np.ones_like(image)


def _attack_replay(
    image: Float32Array, rng: np.random.Generator
) -> tuple[Float32Array, Float32Array]:
    h, w = image.shape
    if rng.random() < 0.5:
        top, bottom, left, right = 0, h, 0, w
    else:
        margins = rng.uniform(0.03, 0.12, size=4)
        top, left = max(1, round(h * margins[0])), max(1, round(w * margins[1]))
        bottom, right = h - max(1, round(h * margins[2])), w - max(1, round(w * margins[3]))
    rh, rw = bottom - top, right - left
    screen = _resize(image, rh, rw) ** rng.uniform(0.7, 1.4)
    black = rng.uniform(0.02, 0.08)
    screen = black + (1.0 - black) * screen
    yy, xx = _grid(rh, rw)
    angle = rng.uniform(0.0, np.pi)
    frequency = rng.uniform(0.3, 0.48)
    amplitude = rng.uniform(0.03, 0.12)
    phase = rng.uniform(0.0, 2 * np.pi)
    moire = 1.0 + amplitude * np.cos(
        2 * np.pi * frequency * (xx * np.cos(angle) + yy * np.sin(angle)) + phase
    )
    pitch = int(rng.integers(2, 4))
    lines = (yy.astype(np.intp) % pitch == 0) | (xx.astype(np.intp) % pitch == 0)
    subpixel = 1.0 - rng.uniform(0.03, 0.08) * lines
    screen = screen * moire * subpixel
    glare = _glare(rh, rw, rng)
    screen = screen + glare * (1.0 - screen)
    if rh < h or rw < w:
        # the device's bezel: a dark 1 px frame, part of the instrument
        bezel = np.zeros((rh, rw), dtype=bool)
        bezel[[0, -1], :] = True
        bezel[:, [0, -1]] = True
        screen = np.where(bezel, rng.uniform(0.03, 0.12), screen)
    out = image.copy()
    out[top:bottom, left:right] = np.clip(screen, 0.0, 1.0)
    mask = np.zeros_like(image)
    mask[top:bottom, left:right] = 1.0
    return out, mask


def _holes(h: int, w: int, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Eye and mouth cut-outs of a paper mask (positions relative to the frame)."""
    eye_row = h * rng.uniform(*_EYE_ROW)
    offset = w * rng.uniform(*_EYE_OFFSET)
    eye_ry, eye_rx = h * rng.uniform(0.07, 0.09), w * rng.uniform(0.09, 0.12)
    holes = _ellipse(h, w, eye_row, w / 2 - offset, eye_ry, eye_rx)
    holes |= _ellipse(h, w, eye_row, w / 2 + offset, eye_ry, eye_rx)
    holes |= _ellipse(
        h,
        w,
        h * rng.uniform(*_MOUTH_ROW),
        w * rng.uniform(0.47, 0.53),
        h * rng.uniform(0.05, 0.07),
        w * rng.uniform(0.12, 0.16),
    )
    return holes


def _attack_paper_mask(
    image: Float32Array, rng: np.random.Generator, donor: Float32Array | None
) -> tuple[Float32Array, Float32Array]:
    h, w = image.shape
    face = image if donor is None else donor
    # the mask is worn, so the print sits slightly off the wearer's face
    dy, dx = rng.normal(0.0, 0.6, size=2)
    worn = _shifted(face, float(dy), float(dx), scale=rng.uniform(0.97, 1.03))
    printed = _print_render(worn, rng)
    face_region, inner = _face_ellipse(h, w, rng, inset=2.5)
    # holes stay inside the paper: a strip of at least 2 px keeps them enclosed
    region = face_region & ~(_holes(h, w, rng) & inner)
    rim = region & ~_erode(region)
    printed = np.where(rim, printed * rng.uniform(0.4, 0.7), printed)
    out = np.where(region, printed, image).astype(np.float32)
    return out, region.astype(np.float32)


def _attack_partial(
    image: Float32Array, rng: np.random.Generator, donor: Float32Array
) -> tuple[Float32Array, Float32Array]:
    h, w = image.shape
    if rng.random() < 0.5:  # eye band: paper glasses
        rows = (rng.uniform(0.14, 0.19), rng.uniform(0.40, 0.46))
        cols = (rng.uniform(0.04, 0.12), rng.uniform(0.88, 0.96))
    else:  # lower face
        rows = (rng.uniform(0.56, 0.62), rng.uniform(0.88, 0.96))
        cols = (rng.uniform(0.16, 0.24), rng.uniform(0.76, 0.84))
    top, bottom = round(h * rows[0]), round(h * rows[1])
    left, right = round(w * cols[0]), round(w * cols[1])
    patch = _print_render(donor, rng)[top:bottom, left:right]
    patch[[0, -1], :] *= np.float32(rng.uniform(0.5, 0.8))
    patch[1:-1, [0, -1]] *= np.float32(rng.uniform(0.5, 0.8))
    out = image.copy()
    out[top:bottom, left:right] = patch
    mask = np.zeros_like(image)
    mask[top:bottom, left:right] = 1.0
    return out, mask


def _attack_recapture(
    image: Float32Array, rng: np.random.Generator
) -> tuple[Float32Array, Float32Array]:
    h, w = image.shape
    scale = rng.uniform(0.5, 0.7)
    small_h, small_w = max(1, round(h * scale)), max(1, round(w * scale))
    # anti-alias before the downscale, as an area filter would
    small = _resize(_blur(image, 0.5 / scale - 0.3), small_h, small_w)
    x = _blur(_resize(small, h, w), rng.uniform(0.3, 0.8))
    out = _jpeg(np.clip(x, 0.0, 1.0), int(rng.integers(10, 41)))
    return out, np.ones_like(image)


def _attack_mask3d(
    image: Float32Array, rng: np.random.Generator
) -> tuple[Float32Array, Float32Array]:
    h, w = image.shape
    region, _ = _face_ellipse(h, w, rng)
    smooth = image
    sigma_space, sigma_range = rng.uniform(1.0, 1.6), rng.uniform(0.06, 0.12)
    for _ in range(int(rng.integers(2, 4))):
        smooth = _bilateral(smooth, sigma_space, sigma_range)
    # a rigid, uniformly coloured material: weaker shading and detail, a different albedo
    low = _blur(smooth, 0.08 * min(h, w))
    detail = smooth - low
    centre = float(low[region].mean()) if region.any() else float(low.mean())
    low = centre + rng.uniform(0.5, 0.75) * (low - centre) + rng.uniform(-0.05, 0.08)
    x = low + rng.uniform(0.5, 0.8) * detail
    yy, xx = _grid(h, w)
    spots = np.array([[0.22, 0.50], [0.58, 0.50], [0.55, 0.30], [0.55, 0.70]])
    chosen = rng.permutation(len(spots))[: int(rng.integers(2, 5))]
    highlight = np.zeros((h, w))
    for cy, cx in spots[chosen]:
        cy, cx = h * (cy + rng.uniform(-0.04, 0.04)), w * (cx + rng.uniform(-0.04, 0.04))
        sigma = min(h, w) * rng.uniform(0.03, 0.06)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
        highlight = np.maximum(highlight, rng.uniform(0.15, 0.4) * blob)
    x = np.clip(x + highlight * (1.0 - x), 0.0, 1.0)
    rim = region & ~_erode(region)
    x = np.where(rim, x * rng.uniform(0.7, 0.9), x)
    out = np.where(region, x, image).astype(np.float32)
    return out, region.astype(np.float32)


def attack(
    image: Float32Array,
    kind: str,
    rng: np.random.Generator,
    *,
    donor: Float32Array | None = None,
) -> tuple[Float32Array, Float32Array]:
    """Render one presentation attack of type ``kind`` over a face.

    Faces are assumed tight, upright and roughly centred (the Olivetti and Extended Yale B crops);
    positions below are fractions of the frame. Every random choice comes from ``rng``.

    - ``"print"``: the face as a photographed print: blur (sigma 0.5-1 px, the print's loss of
      detail), tone compression ``b + (w - b) x ** gamma`` (gamma 1.2-2, b 0.05-0.15,
      w 0.85-0.95), a clustered-dot halftone (rotated cosine screen, 2-4 px pitch, random angle,
      soft threshold, partly resolved), low-pass multiplicative paper grain (2-5 %).
      Mask: the full frame.
    - ``"replay"``: the face on a screen: display gamma 0.7-1.4 and black level 0.02-0.08, moire
      ``1 + a cos(2 pi f (x cos t + y sin t) + phi)`` (f 0.3-0.48 cycles/px, a 0.03-0.12),
      a subpixel grid (lines every 2-3 px, 3-8 % darker), glare (a blob or a gradient, 0.1-0.4).
      With probability 0.5 the screen fills the frame; otherwise it is a rectangle (margins 3-12 %
      per side) showing the whole face shrunk to fit, with a dark 1 px bezel, and the pixels outside
      are the input's. Mask: the screen rectangle (the full frame in the first case).
    - ``"paper_mask"``: a print rendering (as ``"print"``) of ``donor`` if given, else of the face
      itself, slightly misregistered (shift ~0.6 px, scale 0.97-1.03), over the face ellipse, with
      eye holes (rows 26-32 % of the height, 20-24 % of the width either side of the centre) and a
      mouth hole (rows 71-77 %) showing the live pixels, and a dark 1 px rim along every cut.
      Mask: the ellipse minus the holes; pixels outside the mask are the input's.
    - ``"partial"``: a print rendering of ``donor``'s eye band (rows about 14-46 %) or lower face
      (rows about 56-96 %) pasted at the same place, with a dark 1 px edge. Mask: the patch
      rectangle; pixels outside it are the input's.
    - ``"recapture"``: downscale by 0.5-0.7 (anti-aliased bilinear) and back, blur (sigma 0.3-0.8),
      JPEG-like compression: 8x8 block DCT quantised with the standard luminance table scaled for
      quality 10-40. Mask: the full frame.
    - ``"mask3d"``: inside the face ellipse, edge-preserving smoothing (2-3 passes of a 5x5
      bilateral filter), shading contrast reduced to 50-75 % and detail to 50-80 %, an albedo shift,
      2-4 specular highlights (forehead, nose, cheeks), a slightly dark rim. Mask: the ellipse;
      pixels outside are the input's.

    Parameters
    ----------
    image : ndarray of float, shape (H, W)
        The live face, values in [0, 1]; not modified. ``H, W >= 16`` is sensible (dots, 8x8 blocks).
    kind : str
        One of :data:`ATTACKS`.
    rng : numpy.random.Generator
    donor : ndarray of float, shape (H, W), optional
        Another identity's face in [0, 1]: required by ``"partial"``, used by ``"paper_mask"`` if
        given (an impersonation mask), ignored by the other attacks.

    Returns
    -------
    spoof : ndarray of float32, shape (H, W)
        Values in [0, 1].
    mask : ndarray of float32, shape (H, W)
        Values in [0, 1] (these attacks give exactly 0 or 1): 1 where the pixel shows the attack
        instrument.

    Raises
    ------
    TypeError
        If ``image`` or ``donor`` is not a floating-point numpy array, or ``rng`` is not a Generator.
    ValueError
        If ``kind`` is not in :data:`ATTACKS` (the message lists them); if ``image`` or ``donor``
        is not 2-D, is empty, not finite or outside [0, 1]; if ``donor`` is missing for
        ``"partial"`` or its shape differs from ``image``'s.
    """
    if kind not in ATTACKS:
        raise ValueError(f"kind must be one of {list(ATTACKS)}, got {kind!r}")
    x = _check_image(image, "image")
    rng = _check_rng(rng)
    face = None
    if donor is not None:
        face = _check_image(donor, "donor")
        if face.shape != x.shape:
            raise ValueError(f"donor must have the image's shape {x.shape}, got {face.shape}")
    if kind == "print":
        return _attack_print(x, rng)
    if kind == "replay":
        return _attack_replay(x, rng)
    if kind == "paper_mask":
        return _attack_paper_mask(x, rng, face)
    if kind == "partial":
        if face is None:
            raise ValueError("attack 'partial' needs a donor face of another identity (donor=None)")
        return _attack_partial(x, rng, face)
    if kind == "recapture":
        return _attack_recapture(x, rng)
    return _attack_mask3d(x, rng)


@dataclass(frozen=True)
class SpoofSet:
    """Live and synthetic spoof samples with per-pixel masks and their provenance.

    Attributes
    ----------
    images : ndarray of float32, shape (n, size, size)
        Values in [0, 1], after :func:`jitter`.
    masks : ndarray of float32, shape (n, size, size)
        Values in [0, 1], 1 where the pixel shows the attack instrument; all zero for live rows.
    attack : ndarray of int8, shape (n,)
        -1 for live rows, else an index into ``attack_names``.
    identity : ndarray of int64, shape (n,)
        Identity label of the source face.
    source : ndarray of int64, shape (n,)
        Row of the source face in the face array (``source_rows`` of :func:`make_spoof_set`).
    attack_names : tuple of str
    """

    images: Float32Array
    masks: Float32Array
    attack: NDArray[np.int8]
    identity: NDArray[np.int64]
    source: NDArray[np.int64]
    attack_names: tuple[str, ...]

    @property
    def is_spoof(self) -> NDArray[np.bool_]:
        """``attack >= 0``, shape (n,)."""
        return self.attack >= 0

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.attack.shape[0])

    def subset(self, rows: ArrayLike) -> SpoofSet:
        """The samples at ``rows``, in that order (copies).

        Parameters
        ----------
        rows : array_like of int, shape (m,)
            Row numbers in ``[-n, n)``; repeats allowed. A boolean array of length ``n`` also works.

        Returns
        -------
        SpoofSet
            Same ``attack_names``.

        Raises
        ------
        TypeError
            If ``rows`` is neither integer nor boolean.
        ValueError
            If ``rows`` is not 1-D, a boolean ``rows`` has the wrong length, or an index is out of range.
        """
        index = np.asarray(rows)
        if index.ndim != 1:
            raise ValueError(f"rows must be 1-D, got shape {index.shape}")
        if index.dtype == np.bool_:
            if index.shape[0] != self.n:
                raise ValueError(f"boolean rows must have length {self.n}, got {index.shape[0]}")
            index = np.flatnonzero(index)
        elif index.size == 0:
            index = index.astype(np.int64)
        elif index.dtype.kind not in "iu":
            raise TypeError(f"rows must be integer or boolean, got dtype {index.dtype}")
        elif index.min() < -self.n or index.max() >= self.n:
            raise ValueError(
                f"rows must lie in [-{self.n}, {self.n}), got {index.min()}..{index.max()}"
            )
        return SpoofSet(
            images=self.images[index],
            masks=self.masks[index],
            attack=self.attack[index],
            identity=self.identity[index],
            source=self.source[index],
            attack_names=self.attack_names,
        )


def _sample_rng(seed: int, source_row: int, attack_index: int) -> np.random.Generator:
    """The generator of one sample: ``attack_index`` is -1 for live, else the index in ATTACKS."""
    return np.random.default_rng([seed, source_row, attack_index + 1])


def make_spoof_set(
    images: ArrayLike,
    identities: ArrayLike,
    *,
    attacks: Sequence[str] = ATTACKS,
    size: int = 64,
    seed: int = 0,
    progress: bool = False,
    source_rows: ArrayLike | None = None,
) -> SpoofSet:
    """One live and one spoof sample per attack type for every source face.

    Faces are brought to ``size`` by :func:`to_size`. Rows are ordered by source face; for each
    face the live sample comes first, then one sample per entry of ``attacks``, in that order. A
    live sample is ``jitter(face, rng)``; a spoof sample is ``jitter(attack(face, kind, rng,
    donor=...), rng)`` with the same ``rng`` (so live and spoof share the jitter distribution).

    Each sample's generator is ``np.random.default_rng([seed, source_row, k + 1])`` with ``k`` the
    attack's index in :data:`ATTACKS` (not in ``attacks``) and ``k = -1`` for live, so a sample
    never depends on which other samples are generated: restricting ``attacks`` or passing a subset
    of faces with their original ``source_rows`` reproduces the same samples byte for byte, with one
    exception: the donor of ``"partial"`` is a face of a different identity picked among the given
    faces (by one ``rng.random()`` draw, so the rest of that sample's stream, including its patch
    and mask, is unchanged), so with a different face pool its donor pixels may differ.
    ``"paper_mask"`` prints the source face itself (no donor).

    Parameters
    ----------
    images : array_like, shape (n, h, w)
        ``uint8`` or floating point in [0, 1] (see :func:`to_size`).
    identities : array_like of int, shape (n,)
        Identity label per face; at least 2 distinct labels (``"partial"`` needs a donor).
    attacks : sequence of str, default ATTACKS
        Attack types, distinct, each in :data:`ATTACKS`; may be empty (live only).
    size : int, default 64
        Working side length in px, ``>= 16``.
    seed : int, default 0
        Non-negative.
    progress : bool, default False
        Show :class:`pyembed.train.progress.ProgressBar` on stderr, if that module is already
        imported (``pyembed.train`` imports torch, which this module never does); else nothing is
        printed.
    source_rows : array_like of int, shape (n,), optional
        Row numbers of ``images`` in the full face array, distinct and non-negative; they seed
        the samples and fill :attr:`SpoofSet.source`. Default ``arange(n)``.

    Returns
    -------
    SpoofSet
        ``n * (1 + len(attacks))`` samples; ``attack_names = tuple(attacks)``.

    Raises
    ------
    TypeError
        If ``images`` has an unsupported dtype, ``identities`` or ``source_rows`` is not integer,
        ``size`` or ``seed`` is not an integer, or ``attacks`` is a plain string.
    ValueError
        If ``images`` is not 3-D, empty, not finite or outside [0, 1]; ``identities`` is not 1-D,
        its length differs from ``images``' or it has fewer than 2 distinct labels; ``attacks`` has
        unknown or repeated names; ``size < 16``; ``seed < 0``; ``source_rows`` has the wrong
        shape, negative or repeated values.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an integer, got {type(size).__name__}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE}, got {size}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if isinstance(attacks, str):
        raise TypeError(f"attacks must be a sequence of attack names, not the string {attacks!r}")
    names = tuple(attacks)
    unknown = [a for a in names if a not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attacks {unknown}; known: {list(ATTACKS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"attacks must be distinct, got {list(names)}")
    faces = to_size(images, size)
    n = faces.shape[0]
    labels = np.asarray(identities)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"identities must be integers, got dtype {labels.dtype}")
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"identities must have shape ({n},) to match images, got {labels.shape}")
    labels = labels.astype(np.int64)
    if np.unique(labels).size < 2:
        raise ValueError("identities must hold at least 2 distinct labels (partial needs a donor)")
    if source_rows is None:
        sources = np.arange(n, dtype=np.int64)
    else:
        sources = np.asarray(source_rows)
        if sources.dtype.kind not in "iu":
            raise TypeError(f"source_rows must be integers, got dtype {sources.dtype}")
        if sources.shape != (n,):
            raise ValueError(
                f"source_rows must have shape ({n},) to match images, got {sources.shape}"
            )
        sources = sources.astype(np.int64)
        if sources.min() < 0 or np.unique(sources).size != n:
            raise ValueError("source_rows must be distinct and non-negative")

    kinds = [ATTACKS.index(a) for a in names]
    per_face = 1 + len(names)
    total = n * per_face
    out_images = np.empty((total, size, size), dtype=np.float32)
    out_masks = np.zeros((total, size, size), dtype=np.float32)
    bar = None
    if progress and "pyembed.train.progress" in sys.modules:
        bar = sys.modules["pyembed.train.progress"].ProgressBar(n, "spoof set")
    for i in range(n):
        row = i * per_face
        out_images[row] = jitter(faces[i], _sample_rng(seed, int(sources[i]), -1))
        for j, k in enumerate(kinds, start=1):
            rng = _sample_rng(seed, int(sources[i]), k)
            donor = None
            if ATTACKS[k] == "partial":
                others = np.flatnonzero(labels != labels[i])
                donor = faces[others[int(rng.random() * others.size)]]
            spoof, mask = attack(faces[i], ATTACKS[k], rng, donor=donor)
            out_images[row + j] = jitter(spoof, rng)
            out_masks[row + j] = mask
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    codes = np.tile(np.arange(-1, len(names), dtype=np.int8), n)
    return SpoofSet(
        images=out_images,
        masks=out_masks,
        attack=codes,
        identity=np.repeat(labels, per_face),
        source=np.repeat(sources, per_face),
        attack_names=names,
    )


@dataclass(frozen=True)
class Fold:
    """One leave-one-attack-out fold: row numbers into a :class:`SpoofSet` (ascending, int64).

    Attributes
    ----------
    held_out : str
        The attack never seen in training or validation.
    train : ndarray of int64
        Training identities (validation ones excluded): live rows and every attack but ``held_out``.
    validation : ndarray of int64
        Validation identities (taken from the non-test identities, disjoint from ``train``'s): live
        rows and the seen attacks; for fixing the decision threshold a priori.
    test : ndarray of int64
        Test identities: live rows and the ``held_out`` attack only.
    """

    held_out: str
    train: NDArray[np.int64]
    validation: NDArray[np.int64]
    test: NDArray[np.int64]


def _check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in (0, 1), got {type(value).__name__}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return float(value)


def zero_shot_folds(
    data: SpoofSet,
    *,
    test_fraction: float = 0.3,
    validation_fraction: float = 0.2,
    seed: int = 0,
) -> list[Fold]:
    """Leave-one-attack-out, identity-disjoint folds.

    The distinct identities of ``data`` (sorted) are shuffled by ``np.random.default_rng(seed)``;
    the first ``max(1, round(test_fraction * n_ids))`` are test identities, and of the remaining
    ``n_rest`` the next ``max(1, round(validation_fraction * n_rest))`` are validation identities;
    the rest train. The split is the same for every fold; there is one fold per entry of
    ``data.attack_names``, in order.

    Parameters
    ----------
    data : SpoofSet
        At least 2 attack types (a seen and an unseen one).
    test_fraction : float, default 0.3
        In (0, 1).
    validation_fraction : float, default 0.2
        In (0, 1), a share of the non-test identities.
    seed : int, default 0
        Non-negative.

    Returns
    -------
    list of Fold
        ``len(data.attack_names)`` folds.

    Raises
    ------
    TypeError
        If ``data`` is not a SpoofSet, a fraction is not a number or ``seed`` is not an integer.
    ValueError
        If a fraction is outside (0, 1), ``seed < 0``, ``data`` has fewer than 2 attack types, or
        the test, validation or training part would get no identity.
    """
    if not isinstance(data, SpoofSet):
        raise TypeError(f"data must be a SpoofSet, got {type(data).__name__}")
    test_share = _check_fraction(test_fraction, "test_fraction")
    validation_share = _check_fraction(validation_fraction, "validation_fraction")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if len(data.attack_names) < 2:
        raise ValueError(
            f"leave-one-attack-out needs at least 2 attack types, got {list(data.attack_names)}"
        )
    ids = np.random.default_rng(seed).permutation(np.unique(data.identity))
    n_test = max(1, round(test_share * ids.size))
    n_rest = ids.size - n_test
    n_validation = max(1, round(validation_share * n_rest))
    if n_rest - n_validation < 1:
        raise ValueError(
            f"{ids.size} identities are too few for test_fraction={test_fraction} and "
            f"validation_fraction={validation_fraction}: test {n_test}, validation {n_validation}, "
            f"training {n_rest - n_validation} (each part needs >= 1)"
        )
    test_rows = np.isin(data.identity, ids[:n_test])
    validation_rows = np.isin(data.identity, ids[n_test : n_test + n_validation])
    train_rows = np.isin(data.identity, ids[n_test + n_validation :])
    live = data.attack < 0
    folds = []
    for index, name in enumerate(data.attack_names):
        held = data.attack == index
        folds.append(
            Fold(
                held_out=name,
                train=np.flatnonzero(train_rows & ~held).astype(np.int64),
                validation=np.flatnonzero(validation_rows & ~held).astype(np.int64),
                test=np.flatnonzero(test_rows & (live | held)).astype(np.int64),
            )
        )
    return folds

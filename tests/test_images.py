"""``pyembed.datasets.images``: the preprocessing ``pyembed query`` and ``pyembed serve`` share."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

PIL = pytest.importorskip("PIL.Image")

from pyembed.datasets.images import (  # noqa: E402
    MAX_PIXELS,
    ImageError,
    decode_image,
    face_crop,
    read_face_images,
)


def encode(array: np.ndarray, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    PIL.fromarray(array).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_grayscale_is_the_601_luma_and_alpha_is_dropped():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[0, 2] = (0, 0, 255)
    rgb[1, :] = (200, 100, 50)
    gray = decode_image(encode(rgb))
    # L = R * 299/1000 + G * 587/1000 + B * 114/1000, rounded
    assert gray.dtype == np.uint8 and gray.shape == (2, 3)
    assert gray[0].tolist() == [76, 150, 29]
    assert gray[1].tolist() == [round(200 * 0.299 + 100 * 0.587 + 50 * 0.114)] * 3
    rgba = np.dstack([rgb, np.full((2, 3), 7, np.uint8)])
    assert np.array_equal(decode_image(encode(rgba)), gray)


def test_exif_orientation_is_applied():
    tall = np.zeros((4, 2), np.uint8)
    tall[0, :] = 255  # a white top row
    image = PIL.fromarray(tall)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=100)
    shown = decode_image(buffer.getvalue())
    assert shown.shape == (2, 4)
    assert shown[:, -1].min() > 200 and shown[:, 0].max() < 60  # the top row is now on the right


def test_centre_crop_keeps_the_centred_box_of_the_models_aspect_ratio():
    frame = np.zeros((240, 400), np.uint8)
    frame[48:192, 128:272] = 200  # a 144 x 144 square in the centre: 0.6 of the height
    out = face_crop(frame, (64, 64), crop=0.6)
    assert out.shape == (64, 64) and out.min() == 200 == out.max()
    whole = face_crop(frame, (64, 64), crop=1.0)  # the 240 x 240 centre square
    assert whole[32, 32] == 200 and whole[0, 0] == 0
    assert whole.mean() == pytest.approx(200 * 0.36, abs=2)
    # A wide model input takes a wide box: the full width of a tall image.
    tall = np.zeros((100, 50), np.uint8)
    tall[25:75, :] = 90
    assert face_crop(tall, (16, 32)).min() == 90


def test_an_image_of_the_models_size_is_unchanged_and_shrinking_averages_areas():
    rng = np.random.default_rng(5)
    face = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    assert np.array_equal(face_crop(face, (64, 64)), face)
    big = np.kron(face, np.ones((3, 3), np.uint8))  # each pixel repeated 3 x 3
    assert np.array_equal(face_crop(big, (64, 64)), face)
    small = face_crop(face, (32, 32))
    means = face.reshape(32, 2, 32, 2).mean(axis=(1, 3))
    assert np.abs(small.astype(float) - means).max() <= 1.0  # Pillow's fixed-point rounding


def test_read_face_images_decodes_crops_and_stacks(tmp_path):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        paths[-1].write_bytes(encode(np.full((80, 80), 10 * i, np.uint8)))
    out = read_face_images(paths, (32, 32), crop=0.5)
    assert out.shape == (3, 32, 32) and out[:, 0, 0].tolist() == [0, 10, 20]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int) -> bytes:
    """A few hundred bytes claiming a ``width`` x ``height`` grey PNG."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "data,words",
    [
        (b"", "empty"),
        (b"plain text, not an image", "not an image of an accepted format"),
        ("TRUNCATED", "corrupt or truncated"),
        (_png_header(7_000, 7_000), f"7000 x 7000 pixels, more than the {MAX_PIXELS:,}"),
        (_png_header(100_000, 100_000), f"more than the {MAX_PIXELS:,}"),
    ],
    ids=["empty", "text", "truncated", "forged-large-header", "forged-huge-header"],
)
def test_bad_images_are_image_errors_naming_the_input(data, words):
    if data == "TRUNCATED":
        full = encode(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
        data = full[: len(full) // 2]
    with pytest.raises(ImageError, match="upload.png") as info:
        decode_image(data, name="upload.png")
    assert words in str(info.value)


def test_bad_crop_and_shape_are_value_errors(tmp_path):
    face = np.zeros((8, 8), np.uint8)
    for crop in (0.0, -1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="crop"):
            face_crop(face, (4, 4), crop)
    with pytest.raises(ValueError, match="shape"):
        face_crop(face, (0, 4))
    with pytest.raises(ValueError, match="2-D uint8"):
        face_crop(face.astype(np.float32), (4, 4))
    with pytest.raises(FileNotFoundError):
        decode_image(tmp_path / "missing.png")


def test_a_damaged_tiff_whose_decoder_raises_type_error_is_an_image_error():
    data = (Path(__file__).parent / "data" / "images" / "byte-flipped.tif").read_bytes()
    with pytest.raises(ImageError, match="corrupt or truncated"):
        decode_image(data, name="byte-flipped.tif")


def test_wide_grey_samples_are_scaled_not_clipped():
    ramp16 = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    buffer = io.BytesIO()
    PIL.fromarray(ramp16).save(buffer, format="PNG")
    assert decode_image(buffer.getvalue()).tolist() == [[0, 1, 128, 255]]
    ramp = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    buffer = io.BytesIO()
    PIL.fromarray(ramp, mode="F").save(buffer, format="TIFF")
    assert decode_image(buffer.getvalue()).tolist() == [[0, 128, 255]]


def test_formats_outside_the_list_are_refused():
    buffer = io.BytesIO()
    PIL.fromarray(np.zeros((16, 16), np.uint8)).save(buffer, format="ICO")
    with pytest.raises(ImageError, match="not an image of an accepted format"):
        decode_image(buffer.getvalue(), name="icon.ico")

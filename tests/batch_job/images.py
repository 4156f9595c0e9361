"""Small generated test images: ordinary, odd-but-valid, and broken ones (all built here with Pillow)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

ORIENTATION = 0x0112


def photo(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth random RGB picture (upsampled noise), so JPEG round trips stay close to it."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray((rng.random((6, 8, 3)) * 255).astype(np.uint8))
    return small.resize((width, height), Image.Resampling.BICUBIC)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(image: Image.Image, **options: object) -> bytes:
    return encode(image, "JPEG", quality=95, **options)


def png(image: Image.Image) -> bytes:
    return encode(image, "PNG")


def exif_rotated_pair(seed: int = 3) -> tuple[bytes, bytes]:
    """(JPEG stored rotated with EXIF Orientation=6, PNG of the same decoded pixels turned upright).

    A viewer honouring EXIF shows the JPEG exactly as the PNG, so both must give the same vector.
    """
    upright = photo(64, 48, seed)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote: 48x64
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    data = jpeg(stored, exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as raw:
        decoded = raw.convert("RGB")  # the stored pixels, orientation ignored
    return data, png(decoded.transpose(Image.Transpose.ROTATE_270))


def odd_valid_images() -> dict[str, bytes]:
    """Images in unusual modes that must still be embedded."""
    base = photo(64, 48, 1)
    gray16 = (np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    rotated, _ = exif_rotated_pair()
    return {
        "odd/cmyk.jpg": jpeg(base.convert("CMYK")),
        "odd/gray.jpg": jpeg(base.convert("L")),
        "odd/gray16.png": png(Image.fromarray(gray16)),  # mode I;16
        "odd/rgba.png": png(rgba),
        "odd/palette.png": png(palette),
        "odd/rotated.jpg": rotated,
        "odd/tiny.png": png(photo(3, 2, 5)),
    }


def decompression_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A valid-looking PNG that declares width x height 8-bit gray pixels in a few hundred bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 4096)  # the start of the (never decoded) pixel stream
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def invalid_images() -> dict[str, bytes]:
    """Files named like images that are not (decodable, sane) images: each must become a failure."""
    good = jpeg(photo(64, 48, 2))
    rng = np.random.default_rng(7)
    corrupt = good[:20] + rng.integers(0, 256, len(good) - 20, dtype=np.uint8).tobytes()
    return {
        "bad/corrupt.jpg": corrupt,
        "bad/truncated.jpg": good[: len(good) // 2],
        "bad/zero.jpg": b"",
        "bad/notes.jpg": b"this is a text file, not a JPEG\n",
        "bad/bomb.png": decompression_bomb(),
    }

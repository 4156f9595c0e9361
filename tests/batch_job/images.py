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


def detailed_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like picture with detail at every scale: smooth colour regions (upsampled noise), a warped
    stripe texture of 3-20 px period and sensor-like noise (sigma 8), so that a scaled decode has fine
    structure to lose (flat colour would hide any difference between decoders)."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray((rng.random((height // 64 + 2, width // 64 + 2, 3)) * 255).astype(np.uint8))
    pixels = np.asarray(base.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = 20 * np.sin(x / 3.1 + 3 * np.sin(y / 17.0)) + 12 * np.sin(y / (2 + seed % 3) + x / 40.0)
    pixels += texture[..., None] + rng.normal(0, 8, (height, width, 3)).astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


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


def striped_tiff(rows: int, *, width: int = 1, rows_per_strip: int = 1, pages: int = 1) -> bytes:
    """An uncompressed 8-bit gray TIFF, ``width`` x ``rows``, in ``rows / rows_per_strip`` strips.

    ``striped_tiff(4_000_000)`` is the hostile file of the issue: 36 MB, 4 Mpx (under both the size and the
    pixel limits), 4 million one-row strips. ``pages`` > 1 chains that many IFDs (all pointing at the same
    pixels), as a multi-page TIFF does.
    """
    strips = -(-rows // rows_per_strip)
    pixel_bytes = width * rows
    header = 8
    pixels_at = header
    offsets_at = pixels_at + pixel_bytes + (pixel_bytes & 1)
    counts_at = offsets_at + 4 * strips
    ifd_at = counts_at + 4 * strips
    strip_bytes = width * rows_per_strip
    offsets = np.arange(strips, dtype="<u4") * strip_bytes + pixels_at
    counts = np.full(strips, strip_bytes, dtype="<u4")
    counts[-1] = pixel_bytes - strip_bytes * (strips - 1)

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        return struct.pack("<HHII", tag, kind, count, value)

    short, long_ = 3, 4
    entries = [
        entry(256, long_, 1, width),
        entry(257, long_, 1, rows),
        entry(258, short, 1, 8),
        entry(259, short, 1, 1),  # no compression
        entry(262, short, 1, 1),  # black is zero
        entry(273, long_, strips, offsets_at if strips > 1 else int(offsets[0])),
        entry(277, short, 1, 1),
        entry(278, long_, 1, rows_per_strip),
        entry(279, long_, strips, counts_at if strips > 1 else int(counts[0])),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    ifds = b""
    for page in range(pages):
        next_at = ifd_at + (page + 1) * ifd_size if page + 1 < pages else 0
        ifds += struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", next_at)
    pixels = bytes(np.arange(pixel_bytes, dtype=np.uint8)) + b"\x00" * (pixel_bytes & 1)
    return b"II*\x00" + struct.pack("<I", ifd_at) + pixels + offsets.tobytes() + counts.tobytes() + ifds


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_with_chunks(extra: list[bytes]) -> bytes:
    """A valid 8x8 gray PNG with ``extra`` chunks (built with :func:`png_chunk`) before its pixels."""
    data = png(Image.new("L", (8, 8), 128))
    ihdr_end = 8 + 25
    return data[:ihdr_end] + b"".join(extra) + data[ihdr_end:]


def apng_header_claiming(frames: int) -> bytes:
    """A PNG whose acTL chunk claims ``frames`` animation frames (only the default image is present)."""
    return png_with_chunks([png_chunk(b"acTL", struct.pack(">II", frames, 0))])


# Formats Pillow can open but the job must refuse, as the first bytes of a file named like a JPEG. Each is a
# header Pillow identifies (checked in test_preprocess), built here; none needs its external tool to be refused.
def foreign_formats() -> dict[str, bytes]:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n%%EndComments\nshowpage\n%%EOF\n"
    ico = encode(photo(16, 16), "ICO")
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    return {
        "eps.jpg": eps,
        "ico.jpg": ico,
        "pcx.jpg": encode(photo(8, 8), "PCX"),
        "ppm.jpg": encode(photo(8, 8), "PPM"),
        "tga.png": encode(photo(8, 8), "TGA"),
        "pdf.jpg": pdf,
        "psd.jpg": b"8BPS\x00\x01" + b"\x00" * 6 + struct.pack(">HIIHH", 3, 8, 8, 8, 3) + b"\x00" * 64,
    }

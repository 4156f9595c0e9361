"""Which image formats the job decodes, and the checks that bound a file's decode cost before Pillow parses it.

Pillow identifies a file by its content, whatever its name, and knows some forty formats: an EPS named
``photo.jpg`` would make it run Ghostscript. The job hands Pillow only :data:`ALLOWED_FORMATS`; anything else
is a failure naming the format when one of a few common signatures identifies it (the file's bytes are never
copied into the reason).

Limits that file size and pixel count do not cover (each refusal names its limit):

- TIFF strips/tiles: Pillow builds one Python object per strip or tile when it opens a TIFF, so a 1x4,000,000
  TIFF of one-row strips costs seconds and gigabytes before a pixel is decoded. The first IFD is read here
  (entry counts only, never the offset arrays) and more than :data:`MAX_TIFF_BLOCKS` is refused.
- Frames: only the first frame is decoded; a TIFF chaining more than :data:`MAX_FRAMES` IFDs (walked here,
  a few bytes per IFD), or an APNG/WebP declaring more, is refused.
"""

from __future__ import annotations

import struct

# Pillow's format ids, passed as Image.open(formats=...). JPEG includes MPO (JPEG frames), PNG includes APNG.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
# A 64 Mpx uncompressed TIFF in libtiff's default 8 KB strips has 24,576; tiled 256x256 it has 1,024 tiles.
MAX_TIFF_BLOCKS = 65_536
# Frames (pages) an image file may declare; only the first is decoded.
MAX_FRAMES = 10_000

_STRIP_OFFSETS, _STRIP_BYTE_COUNTS, _TILE_OFFSETS, _TILE_BYTE_COUNTS = 273, 279, 324, 325
_BLOCK_TAGS = {_STRIP_OFFSETS, _STRIP_BYTE_COUNTS, _TILE_OFFSETS, _TILE_BYTE_COUNTS}

# A few formats Pillow (or other tools) would read, named in the failure reason when a file starts so.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"icns", "ICNS"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"DDS ", "DDS"),
    (b"qoif", "QOI"),
    (b"SIMPLE  =", "FITS"),
    (b"P1", "PBM"),
    (b"P2", "PGM"),
    (b"P3", "PPM"),
    (b"P4", "PBM"),
    (b"P5", "PGM"),
    (b"P6", "PPM"),
    (b"P7", "PAM"),
    (b"\x0a\x05\x01", "PCX"),
    (b"\x0a\x03\x01", "PCX"),
    (b"\x0a\x00\x01", "PCX"),
    (b"\x01\xda", "SGI"),
    (b"<svg", "SVG"),
    (b"<?xml", "XML/SVG"),
    (b"#define", "XBM"),
    (b"/* XPM */", "XPM"),
    (b"\xd7\xcd\xc6\x9a", "WMF"),
)


def foreign_format(data: bytes) -> str | None:
    """The name of a known format that the job does not decode, if ``data`` starts with its signature."""
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand[:3] in (b"hei", b"hev", b"mif") or brand == b"msf1":
            return "HEIF/HEIC"
        return "ISO media (MP4/HEIF)"
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    return None


def tiff_limits(data: bytes, *, max_blocks: int = MAX_TIFF_BLOCKS, max_frames: int = MAX_FRAMES) -> str | None:
    """Why this TIFF is refused before Pillow opens it, or None (also for what is not a TIFF).

    Reads the strip/tile tag counts of the first IFD and walks the IFD chain: a few bytes per IFD, whatever
    the file declares. A malformed structure is left for Pillow to report.
    """
    if data[:4] == b"II*\x00":
        order = "<"
    elif data[:4] == b"MM\x00*":
        order = ">"
    elif data[:4] in (b"II+\x00", b"MM\x00+"):
        return _bigtiff_limits(data, "<" if data[:1] == b"I" else ">", max_blocks, max_frames)
    else:
        return None
    (offset,) = struct.unpack_from(order + "I", data, 4)
    seen: set[int] = set()
    first = True
    while offset and offset not in seen and offset + 2 <= len(data):
        seen.add(offset)
        if len(seen) > max_frames:
            return f"TIFF has more than {max_frames} pages (limit MAX_FRAMES={max_frames})"
        (entries,) = struct.unpack_from(order + "H", data, offset)
        end = offset + 2 + 12 * entries
        if first:
            for n in range(min(entries, (len(data) - offset - 2) // 12)):
                tag, _kind, count = struct.unpack_from(order + "HHI", data, offset + 2 + 12 * n)
                if tag in _BLOCK_TAGS and count > max_blocks:
                    return _blocks_reason(tag, count, max_blocks)
            first = False
        if end + 4 > len(data):
            break
        (offset,) = struct.unpack_from(order + "I", data, end)
    return None


def _bigtiff_limits(data: bytes, order: str, max_blocks: int, max_frames: int) -> str | None:
    if len(data) < 16:
        return None
    (offset,) = struct.unpack_from(order + "Q", data, 8)
    seen: set[int] = set()
    first = True
    while offset and offset not in seen and offset + 8 <= len(data):
        seen.add(offset)
        if len(seen) > max_frames:
            return f"TIFF has more than {max_frames} pages (limit MAX_FRAMES={max_frames})"
        (entries,) = struct.unpack_from(order + "Q", data, offset)
        end = offset + 8 + 20 * entries
        if first:
            for n in range(min(entries, (len(data) - offset - 8) // 20)):
                tag, _kind, count = struct.unpack_from(order + "HHQ", data, offset + 8 + 20 * n)
                if tag in _BLOCK_TAGS and count > max_blocks:
                    return _blocks_reason(tag, count, max_blocks)
            first = False
        if end + 8 > len(data):
            break
        (offset,) = struct.unpack_from(order + "Q", data, end)
    return None


def _blocks_reason(tag: int, count: int, limit: int) -> str:
    kind = "strips" if tag in (_STRIP_OFFSETS, _STRIP_BYTE_COUNTS) else "tiles"
    return f"TIFF declares {count} {kind}, over the limit of {limit} (MAX_TIFF_BLOCKS)"

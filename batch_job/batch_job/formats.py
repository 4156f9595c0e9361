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
from dataclasses import dataclass

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
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        layout = _CLASSIC_TIFF
    elif data[:4] in (b"II+\x00", b"MM\x00+"):
        layout = _BIG_TIFF
    else:
        return None
    return _walk_ifds(data, "<" if data[:1] == b"I" else ">", layout, max_blocks, max_frames)


@dataclass(frozen=True)
class _IfdLayout:
    """Where a TIFF flavour keeps its IFD chain: classic TIFF uses 32-bit offsets, BigTIFF 64-bit ones."""

    first_offset_at: int  # the header's offset of the first IFD
    offset: str  # struct format of an IFD offset
    entry_count: str  # struct format of an IFD's number of entries
    entry: str  # struct format of an entry's tag, type and count
    entry_size: int


_CLASSIC_TIFF = _IfdLayout(first_offset_at=4, offset="I", entry_count="H", entry="HHI", entry_size=12)
_BIG_TIFF = _IfdLayout(first_offset_at=8, offset="Q", entry_count="Q", entry="HHQ", entry_size=20)


def _walk_ifds(data: bytes, order: str, layout: _IfdLayout, max_blocks: int, max_frames: int) -> str | None:
    offset_size = struct.calcsize(layout.offset)
    count_size = struct.calcsize(layout.entry_count)
    if len(data) < layout.first_offset_at + offset_size:
        return None
    (offset,) = struct.unpack_from(order + layout.offset, data, layout.first_offset_at)
    seen: set[int] = set()
    first = True
    while offset and offset not in seen and offset + count_size <= len(data):
        seen.add(offset)
        if len(seen) > max_frames:
            return f"TIFF has more than {max_frames} pages (limit MAX_FRAMES={max_frames})"
        (entries,) = struct.unpack_from(order + layout.entry_count, data, offset)
        end = offset + count_size + layout.entry_size * entries
        if first:
            for n in range(min(entries, (len(data) - offset - count_size) // layout.entry_size)):
                position = offset + count_size + layout.entry_size * n
                tag, _kind, count = struct.unpack_from(order + layout.entry, data, position)
                if tag in _BLOCK_TAGS and count > max_blocks:
                    return _blocks_reason(tag, count, max_blocks)
            first = False
        if end + offset_size > len(data):
            break
        (offset,) = struct.unpack_from(order + layout.offset, data, end)
    return None


def _blocks_reason(tag: int, count: int, limit: int) -> str:
    kind = "strips" if tag in (_STRIP_OFFSETS, _STRIP_BYTE_COUNTS) else "tiles"
    return f"TIFF declares {count} {kind}, over the limit of {limit} (MAX_TIFF_BLOCKS)"

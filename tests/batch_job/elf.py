"""The DT_NEEDED entries of an ELF64 shared library (what ``readelf -d`` lists as NEEDED), in plain Python."""

from __future__ import annotations

import struct
from pathlib import Path

_SHT_DYNAMIC = 6
_DT_NULL, _DT_NEEDED = 0, 1


def needed(path: Path) -> list[str]:
    """Shared libraries ``path`` links against, in link order (64-bit ELF only)."""
    with path.open("rb") as file:
        ident = file.read(16)
        if ident[:4] != b"\x7fELF" or ident[4] != 2:
            raise ValueError(f"{path}: not a 64-bit ELF file")
        order = "<" if ident[5] == 1 else ">"
        (shoff,) = struct.unpack(order + "Q", _read_at(file, 0x28, 8))
        shentsize, shnum = struct.unpack(order + "HH", _read_at(file, 0x3A, 4))
        sections = [
            struct.unpack(order + "IIQQQQIIQQ", _read_at(file, shoff + n * shentsize, 64)) for n in range(shnum)
        ]
        dynamic = [s for s in sections if s[1] == _SHT_DYNAMIC]
        if len(dynamic) != 1:
            raise ValueError(f"{path}: expected one .dynamic section, found {len(dynamic)}")
        _, _, _, _, offset, size, link, _, _, _ = dynamic[0]
        strings = _read_at(file, sections[link][4], sections[link][5])
        entries = _read_at(file, offset, size)
    result = []
    for start in range(0, len(entries), 16):
        tag, value = struct.unpack(order + "qQ", entries[start : start + 16])
        if tag == _DT_NULL:
            break
        if tag == _DT_NEEDED:
            result.append(strings[value : strings.index(b"\0", value)].decode())
    return result


def _read_at(file: object, offset: int, size: int) -> bytes:
    file.seek(offset)  # type: ignore[attr-defined]
    data: bytes = file.read(size)  # type: ignore[attr-defined]
    if len(data) != size:
        raise ValueError(f"ELF file ends at {offset + len(data)}, expected {size} bytes at {offset}")
    return data

"""What the fuzz tests of ``local``, ``run`` and ``quantize`` share: hostile image bytes, and a snapshot of a
folder to prove inputs untouched."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import strategies as st

from tests.batch_job import images

# A small valid image of every allowed format, then files of formats the job refuses.
ALLOWED = [
    images.jpeg(images.photo(32, 24, seed=9)),
    images.png(images.photo(20, 20, seed=8)),
    images.encode(images.photo(16, 12, seed=7), "WEBP"),
    images.encode(images.photo(16, 12, seed=6), "GIF"),
    images.encode(images.photo(16, 12, seed=5), "BMP"),
    images.encode(images.photo(16, 12, seed=4), "TIFF"),
]
FOREIGN = list(images.foreign_formats().values())


@st.composite
def hostile_bytes(draw: st.DrawFn) -> bytes:
    """Valid small images, truncated or mutated ones, random bytes, foreign formats, TIFF limit breakers."""
    kind = draw(st.sampled_from(["valid", "mutated", "random", "truncated", "foreign", "tiff-limits"]))
    base = draw(st.sampled_from(ALLOWED + FOREIGN))
    if kind == "valid":
        return draw(st.sampled_from(ALLOWED))
    if kind == "random":
        return draw(st.binary(max_size=256))
    if kind == "truncated":
        return base[: draw(st.integers(0, len(base)))]
    if kind == "foreign":
        return draw(st.sampled_from(FOREIGN))
    if kind == "tiff-limits":
        return draw(st.sampled_from([images.striped_tiff(70_000), images.striped_tiff(2, pages=10_001)]))
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


# File names: any text, or bytes that are not UTF-8, without '/' or NUL.
NAMES = st.one_of(
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12),
    st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b"..")),
)
EXTENSIONS = st.sampled_from([".jpg", ".JPEG", ".png", ".gif", ".tif", ".webp", ".bmp", ".txt", ""])


def snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` (not following links) and its bytes."""
    found: dict[str, bytes] = {}
    for folder, _dirs, names in os.walk(os.fsencode(root)):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    found[os.fsdecode(os.path.relpath(path, os.fsencode(root)))] = handle.read()
    return found

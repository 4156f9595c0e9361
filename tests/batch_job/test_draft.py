"""Draft (DCT-scaled) JPEG decoding: within the documented bound of a full decode for every kind of JPEG;
small JPEGs and other formats decoded exactly as before; the sampled check falls back to full decode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from batch_job.engine import Embedder
from batch_job.errors import ImageError
from batch_job.preprocess import DRAFT_MAX_MAD, DRAFT_MIN_PSNR, decode_scaled, draft_scale, fidelity, preprocess
from PIL import Image

from batch_job import preprocess as pre
from tests.batch_job import images
from tests.batch_job.texture_model import texture_model

# 1605x1203: neither side a multiple of 4 or 8, so the partial last block of a scaled decode matters.
WIDTH, HEIGHT = 1605, 1203


@pytest.fixture(autouse=True)
def fresh_check() -> Iterator[None]:
    pre.DRAFT_CHECK.reset()
    yield
    pre.DRAFT_CHECK.reset()


def _jpeg(image: Image.Image, **options: object) -> bytes:
    return images.encode(image, "JPEG", quality=90, **options)


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[images.ORIENTATION] = orientation
    return exif.tobytes()


def jpeg_kinds() -> dict[str, bytes]:
    photo = images.detailed_photo(WIDTH, HEIGHT, seed=5)
    kinds = {
        "baseline-4:2:0": _jpeg(photo, subsampling=2),
        "baseline-4:2:2": _jpeg(photo, subsampling=1),
        "baseline-4:4:4": _jpeg(photo, subsampling=0),
        "progressive": _jpeg(photo, progressive=True),
        "cmyk": _jpeg(photo.convert("CMYK")),
        "grayscale": _jpeg(photo.convert("L")),
        "optimized-huffman": _jpeg(photo, optimize=True),
        # a phone's multi-picture file (MPO): the first frame is a JPEG, drafted as one
        "mpo": images.encode(photo, "MPO", save_all=True, append_images=[photo.rotate(90)], quality=90),
    }
    for orientation in range(2, 9):
        kinds[f"exif-orientation-{orientation}"] = _jpeg(photo, exif=_exif(orientation))
    return kinds


KINDS = jpeg_kinds()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_draft_decode_is_within_the_bound_of_full_decode(kind: str) -> None:
    # GIVEN a detailed 1605x1203 JPEG of one kind
    data = KINDS[kind]
    # WHEN it is preprocessed with and without draft decoding
    drafted, full = preprocess(data, draft=True), preprocess(data, draft=False)
    # THEN it was decoded at 1/4 (short side 301 >= 256) and its tensor is within the documented bound
    assert decode_scaled(data).scale == 4
    psnr, mad = fidelity(drafted, full)
    assert psnr >= DRAFT_MIN_PSNR and mad <= DRAFT_MAX_MAD, (kind, psnr, mad)
    # (measured: 45-46 dB, 0.017-0.019; the bound leaves room for other pictures, see the docs)
    # AND the tensors do differ (the draft path was really taken)
    assert not np.array_equal(drafted, full)


def test_exif_orientation_is_applied_to_the_drafted_image() -> None:
    # GIVEN a sideways JPEG (orientation 6) and the same picture stored upright
    photo = images.detailed_photo(WIDTH, HEIGHT, seed=5)
    sideways = _jpeg(photo.transpose(Image.Transpose.ROTATE_90), exif=_exif(6))
    upright = KINDS["baseline-4:2:0"]
    decoded = decode_scaled(sideways)
    # THEN the drafted image is upright (portrait stored, landscape shown) and close to the upright file's
    assert decoded.size == (WIDTH, HEIGHT) and decoded.image.width > decoded.image.height
    psnr, _ = fidelity(preprocess(sideways, draft=True), preprocess(upright, draft=False))
    assert psnr >= DRAFT_MIN_PSNR


def test_wrong_block_offset_would_break_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check above can fail: ignoring where the partial last block lands after a 180-degree turn
    # shifts the picture by 3 full-resolution pixels and drops the PSNR to about 27 dB.
    data = KINDS["exif-orientation-3"]
    monkeypatch.setattr(pre, "_REVERSES_X", set())
    monkeypatch.setattr(pre, "_REVERSES_Y", set())
    psnr, mad = fidelity(preprocess(data, draft=True), preprocess(data, draft=False))
    assert psnr < DRAFT_MIN_PSNR and mad > DRAFT_MAX_MAD


def test_twelve_megapixel_photo_is_decoded_at_one_eighth_within_the_bound() -> None:
    data = _jpeg(images.detailed_photo(4032, 3024, seed=7))
    decoded = decode_scaled(data)
    assert decoded.scale == 8 and decoded.image.size == (504, 378)
    psnr, mad = fidelity(preprocess(data, draft=True), preprocess(data, draft=False))
    assert psnr >= DRAFT_MIN_PSNR and mad <= DRAFT_MAX_MAD, (psnr, mad)


@pytest.mark.parametrize(
    ("size", "scale"),
    [
        ((640, 480), 1),
        ((1000, 511), 1),
        ((1000, 512), 2),
        ((1023, 1023), 2),
        ((1024, 1024), 4),
        ((1920, 1080), 4),
        ((2048, 2047), 4),
        ((2048, 2048), 8),
        ((4032, 3024), 8),
        ((3024, 4032), 8),
    ],
)
def test_draft_scale_keeps_the_short_side_at_least_256(size: tuple[int, int], scale: int) -> None:
    assert draft_scale(*size) == scale
    assert min(size) / scale >= 256


def test_jpeg_under_512_on_its_short_side_is_decoded_in_full() -> None:
    # GIVEN a JPEG of 900x511: one pixel short of being decodable at 1/2
    data = _jpeg(images.detailed_photo(900, 511, seed=1))
    # THEN it is decoded in full, and the tensor is exactly the full decode's
    assert decode_scaled(data).scale == 1
    np.testing.assert_array_equal(preprocess(data), preprocess(data, draft=False))
    # while 900x512 is drafted at 1/2
    assert decode_scaled(_jpeg(images.detailed_photo(900, 512, seed=1))).scale == 2


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "BMP"])
def test_other_formats_are_never_drafted(fmt: str) -> None:
    data = images.encode(images.detailed_photo(1100, 900, seed=2), fmt)
    decoded = decode_scaled(data)
    assert decoded.scale == 1 and decoded.image.size == (1100, 900)
    np.testing.assert_array_equal(preprocess(data), preprocess(data, draft=False))


def test_truncated_large_jpeg_still_fails_with_a_reason() -> None:
    data = KINDS["baseline-4:2:0"]
    with pytest.raises(ImageError, match=r"^corrupt JPEG data: image file is truncated"):
        preprocess(data[: len(data) // 2])


def test_sampled_check_keeps_drafting_while_within_the_bound() -> None:
    check = pre.DRAFT_CHECK
    check.every = 3
    data = KINDS["baseline-4:2:0"]
    for _ in range(7):
        preprocess(data)
    # the 1st, 4th and 7th drafted images were also decoded in full and compared
    assert check.enabled and check.checked == 3
    assert check.worst_psnr >= DRAFT_MIN_PSNR


def test_check_outside_the_bound_falls_back_to_full_decode(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a bound no drafted image can meet
    monkeypatch.setattr(pre, "DRAFT_MIN_PSNR", 99.0)
    data = KINDS["progressive"]
    full = preprocess(data, draft=False)
    # WHEN the first large JPEG is preprocessed THEN it gets the full-decode tensor, drafting is off, one warning
    np.testing.assert_array_equal(preprocess(data), full)
    assert not pre.DRAFT_CHECK.enabled
    np.testing.assert_array_equal(preprocess(data), full)
    err = capsys.readouterr().err
    assert err.count("warning: draft JPEG decoding turned off") == 1
    assert "1605x1203 JPEG decoded at 1/4 gave PSNR" in err


def test_embeddings_of_draft_and_full_decode_agree(tmp_path: Path, embedder: Embedder) -> None:
    # No pretrained checkpoint can be obtained offline here, and a random-weight ResNet-18 maps any two
    # photos to nearly the same direction (cosine ~0.99 between unrelated images), so its cosine says little.
    # A model with deterministic, non-random weights that is sensitive to detail and position does: Gabor
    # filters at 3 frequencies and 4 orientations, pooled on a 7x7 grid (texture_model.py).
    textures = Embedder(texture_model(tmp_path / "texture.onnx"))
    cosines, unrelated = [], []
    names = sorted(KINDS)
    for kind in names:
        data = KINDS[kind]
        drafted, full = preprocess(data, draft=True), preprocess(data, draft=False)
        a, b = textures.embed(np.stack([drafted, full]))
        cosines.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    other = textures.embed(preprocess(_jpeg(images.detailed_photo(WIDTH, HEIGHT, seed=9)), draft=False)[None])[0]
    base = textures.embed(preprocess(KINDS["baseline-4:2:0"], draft=False)[None])[0]
    unrelated.append(float(other @ base / (np.linalg.norm(other) * np.linalg.norm(base))))
    # THEN draft and full decode give nearly the same vector, far closer than two different photos
    assert min(cosines) >= 0.999, dict(zip(names, cosines, strict=True))
    assert max(unrelated) < min(cosines) - 0.001
    # AND the random ResNet-18 agrees too (weak evidence on its own, see above)
    data = KINDS["baseline-4:2:0"]
    r = embedder.embed(np.stack([preprocess(data, draft=True), preprocess(data, draft=False)]))
    assert float(r[0] @ r[1] / (np.linalg.norm(r[0]) * np.linalg.norm(r[1]))) >= 0.999

"""``python -m batch_job quantize``: the int8 model keeps what tells images apart in the fp32 vectors.

The test model has random weights, which map any two images to nearly the same direction (raw cosine
0.985-0.991 between different images, measured), so a raw cosine between int8 and fp32 vectors cannot show
that quantization kept the vectors. The test compares the vectors after removing the component every image
shares (the fp32 mean over the batch): there, int8 and fp32 of one image measured 0.989-0.997 and different
images -0.72 to 0.51.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from batch_job.cli import main
from batch_job.engine import Embedder
from batch_job.preprocess import preprocess
from batch_job.quantize import cosine_rows

from tests.batch_job import images


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_int8_model_is_close_to_fp32_on_unseen_images(
    model_path: Path, embedder: Embedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN 16 sample images to calibrate on
    samples = tmp_path / "samples"
    samples.mkdir()
    for n in range(16):
        (samples / f"s{n:02d}.jpg").write_bytes(images.jpeg(images.photo(96, 72, seed=300 + n)))
    out = tmp_path / "int8.onnx"
    # WHEN the model is quantized
    assert main(["quantize", "--model", str(model_path), "--images", str(samples), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(
        r"calibrated on 8 images \(0 unusable, skipped\); cosine to fp32 on 8 held-out images: min 0\.9", printed
    )
    # THEN it is a 512-d model named after the fp32 one, and on images it never saw its vectors point the same
    # way as the fp32 vectors
    int8 = Embedder(out)
    assert int8.name == "resnet18-random-int8" and int8.dimension == 512
    unseen = np.stack([preprocess(images.jpeg(images.photo(80, 60, seed=900 + n))) for n in range(6)])
    fp32_vectors, int8_vectors = embedder.embed(unseen), int8.embed(unseen)
    shared = fp32_vectors.mean(axis=0)
    fp32_own, int8_own = fp32_vectors - shared, int8_vectors - shared
    assert cosine_rows(fp32_own, int8_own).min() >= 0.9
    # AND each image's int8 vector is nearest to its own fp32 vector, not to another image's
    similarity = unit_rows(int8_own) @ unit_rows(fp32_own).T
    assert similarity.argmax(axis=1).tolist() == list(range(len(unseen)))


def test_too_few_images_to_calibrate_is_one_clear_line(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "only.jpg").write_bytes(images.jpeg(images.photo()))
    (folder / "broken.jpg").write_bytes(b"")
    code = main(["quantize", "--model", str(model_path), "--images", str(folder), "--out", str(tmp_path / "q.onnx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].endswith("need at least 2 decodable images to calibrate, found 1")


@pytest.mark.parametrize("target", ["model", "image", "under-images", "device"])
def test_out_that_would_destroy_an_input_is_refused_before_any_work(
    target: str, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    samples = tmp_path / "samples"
    samples.mkdir()
    for n in range(3):
        (samples / f"s{n}.jpg").write_bytes(images.jpeg(images.photo(seed=n)))
    model = tmp_path / "m.onnx"
    shutil.copy(model_path, model)
    out = {"model": model, "image": samples / "s0.jpg", "under-images": samples / "q.onnx", "device": Path("/dev/null")}
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code = main(["quantize", "--model", str(model), "--images", str(samples), "--out", str(out[target])])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --out "), err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_calibration_images_follow_the_local_reading_rules(model_path: Path, tmp_path: Path) -> None:
    from batch_job.local import file_reader, list_images
    from batch_job.quantize import _tensors

    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "good.jpg").write_bytes(images.jpeg(images.photo()))
    (samples / "passwd.jpg").symlink_to("/etc/passwd")
    (samples / "eps.jpg").write_bytes(images.foreign_formats()["eps.jpg"])
    listing = list_images(samples)
    assert listing.image_ids == ["eps.jpg", "good.jpg"] and [f.image_id for f in listing.refused] == ["passwd.jpg"]
    assert len(_tensors(listing, listing.image_ids)) == 1
    assert file_reader(listing)("good.jpg")[:2] == b"\xff\xd8"

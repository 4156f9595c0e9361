"""``python -m batch_job quantize``: the int8 model stays within cosine 0.99 of the fp32 vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from batch_job.cli import main
from batch_job.engine import Embedder
from batch_job.preprocess import preprocess
from batch_job.quantize import cosine_rows

from tests.batch_job import images


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
    assert "cosine to fp32 on held-out images: min 0.9" in capsys.readouterr().out
    # THEN it is a 512-d model named after the fp32 one, and on images it never saw its vectors point the same
    # way as the fp32 vectors
    int8 = Embedder(out)
    assert int8.name == "resnet18-random-int8" and int8.dimension == 512
    unseen = np.stack([preprocess(images.jpeg(images.photo(80, 60, seed=900 + n))) for n in range(6)])
    assert cosine_rows(embedder.embed(unseen), int8.embed(unseen)).min() >= 0.99


def test_too_few_images_to_calibrate_is_one_clear_line(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "only.jpg").write_bytes(images.jpeg(images.photo()))
    (tmp_path / "broken.jpg").write_bytes(b"")
    code = main(["quantize", "--model", str(model_path), "--images", str(tmp_path), "--out", str(tmp_path / "q.onnx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].endswith("need at least 2 decodable images to calibrate, found 1")

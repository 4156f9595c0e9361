"""``python -m batch_job local``: a folder of images to Parquet plus a failures file, no AWS."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_job.cli import main
from batch_job.engine import Embedder
from batch_job.preprocess import preprocess

from tests.batch_job import images


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    write_tree(
        root,
        {
            "cats/a.jpg": images.jpeg(images.photo(seed=10)),
            "dogs/a.jpg": images.jpeg(images.photo(seed=11)),  # same file name, other folder
            "UPPER.JPEG": images.jpeg(images.photo(seed=12)),
            "notes.txt": b"not listed: not an image extension",
            **images.odd_valid_images(),
            **images.invalid_images(),
        },
    )
    return root


def test_local_writes_vectors_and_failures(
    image_dir: Path, model_path: Path, embedder: Embedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "vectors.parquet"
    # WHEN the local command runs over a folder with good, odd and broken images
    code = main(["local", "--images", str(image_dir), "--out", str(out), "--model", str(model_path)])
    # THEN it exits 0 and every listed image is either a row or a failure line
    assert code == 0
    table = pq.read_table(out)
    assert table.schema.field("image_id").type == pa.string()
    assert table.schema.field("vector").type == pa.list_(pa.float32())
    rows = dict(zip(table["image_id"].to_pylist(), table["vector"].to_pylist(), strict=True))
    failures = [json.loads(line) for line in (out.parent / "vectors.parquet.failures.jsonl").read_text().splitlines()]
    assert all(set(f) == {"image_id", "error"} and f["error"] for f in failures)
    listed = 3 + len(images.odd_valid_images()) + len(images.invalid_images())
    assert len(rows) + len(failures) == listed
    assert set(rows) == {"cats/a.jpg", "dogs/a.jpg", "UPPER.JPEG", *images.odd_valid_images()}
    assert {f["image_id"] for f in failures} == set(images.invalid_images())
    # and the vectors are the model's vectors for those files
    expected = embedder.embed(preprocess((image_dir / "cats/a.jpg").read_bytes())[None])[0]
    np.testing.assert_allclose(np.array(rows["cats/a.jpg"], dtype=np.float32), expected, rtol=1e-4, atol=1e-5)
    assert all(len(v) == 512 for v in rows.values())
    assert not np.allclose(rows["cats/a.jpg"], rows["dogs/a.jpg"])
    summary = capsys.readouterr().out
    assert f"summary: images={listed} embedded={len(rows)} failed={len(failures)}" in summary
    assert "images/s=" in summary


def test_local_small_batches_and_more_workers_give_the_same_rows(
    image_dir: Path, model_path: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert main(["local", "--images", str(image_dir), "--out", str(first), "--model", str(model_path)]) == 0
    args = ["--batch-size", "3", "--workers", "5"]
    assert main(["local", "--images", str(image_dir), "--out", str(second), "--model", str(model_path), *args]) == 0
    a, b = (pq.read_table(p).sort_by("image_id").to_pydict() for p in (first, second))
    assert a["image_id"] == b["image_id"]
    np.testing.assert_allclose(np.array(a["vector"]), np.array(b["vector"]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing-dir", r"--images .*missing: not a directory \(expected a folder of images\)"),
        ("empty-dir", r"--images .*empty: no image files \(.*\.jpg.*\) in it or below it"),
        ("missing-model", r"model .*nope\.onnx: no such file \(expected an ONNX model"),
        ("bad-model", r"model .*bad\.onnx: not a loadable ONNX model"),
        ("out-is-dir", r"--out .*: is a directory \(expected a \.parquet file path\)"),
    ],
)
def test_local_bad_input_is_one_clear_line(
    setup: str, message: str, image_dir: Path, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images_arg, model_arg, out_arg = image_dir, model_path, tmp_path / "v.parquet"
    if setup == "missing-dir":
        images_arg = tmp_path / "missing"
    elif setup == "empty-dir":
        images_arg = tmp_path / "empty"
        images_arg.mkdir()
        (images_arg / "readme.txt").write_text("no images here")
    elif setup == "missing-model":
        model_arg = tmp_path / "nope.onnx"
    elif setup == "bad-model":
        model_arg = tmp_path / "bad.onnx"
        model_arg.write_text("not onnx")
    else:
        out_arg = tmp_path
    code = main(["local", "--images", str(images_arg), "--out", str(out_arg), "--model", str(model_arg)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ")
    assert re.search(message, err[0]), err[0]
    assert not (tmp_path / "v.parquet").exists()

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


# --- hostile models, images and outputs -----------------------------------------------------------------------

from tests.batch_job.tiny_model import tiny_model  # noqa: E402


def calibration_folder(root: Path, count: int = 6) -> Path:
    folder = root / "samples"
    folder.mkdir()
    for n in range(count):
        (folder / f"s{n}.jpg").write_bytes(images.jpeg(images.photo(80, 60, seed=40 + n)))
    return folder


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: file bytes, or what a link points at (``local`` tests' shape)."""
    result: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            result[key] = f"-> {path.readlink()}"
        elif path.is_file():
            result[key] = path.read_bytes()
    return result


def make_model(kind: str, folder: Path, model_path: Path) -> Path:
    path = folder / f"{kind}.onnx"
    if kind == "random-bytes":
        path.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)))
    elif kind == "truncated":
        path.write_bytes(model_path.read_bytes()[:5000])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "wrong-input":
        tiny_model(path, input_shape=("N", 1, 28, 28))
    elif kind == "external-escape":
        tiny_model(path, external="../../../../etc/passwd")
    elif kind == "external-absolute":
        tiny_model(path, external="/etc/hostname")
    elif kind == "already-int8":
        fp32 = tiny_model(folder / "fp32.onnx")
        samples = calibration_folder(_mkdir(folder / "cal"))
        assert main(["quantize", "--model", str(fp32), "--images", str(samples), "--out", str(path)]) == 0
    elif kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        import os

        os.mkfifo(path)
    else:
        raise AssertionError(kind)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("random-bytes", r"^error: model .*random-bytes.onnx: not a loadable ONNX model \("),
        ("truncated", r"^error: model .*truncated.onnx: not a loadable ONNX model \("),
        ("empty", r"^error: model .*empty.onnx: not a loadable ONNX model \("),
        ("wrong-input", r"^error: model .*: expected one input \(N, 3, 224, 224\), got \[\['N', 1, 28, 28\]\]$"),
        ("external-escape", r"^error: model .*: not a loadable ONNX model \(.*External data path"),
        ("external-absolute", r"^error: model .*: not a loadable ONNX model \(.*[Aa]bsolute path not allowed"),
        ("already-int8", r"^error: --model .*already-int8.onnx: is already quantized \(DequantizeLinear, Quant"),
        ("directory", r"^error: model .*directory.onnx: not a regular file"),
        ("fifo", r"^error: model .*fifo.onnx: not a regular file"),
    ],
)
def test_a_bad_model_is_one_clear_line_and_nothing_is_written(
    kind: str, message: str, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a --model that is not an fp32 image model, and good calibration images
    model = make_model(kind, tmp_path, model_path)
    samples = calibration_folder(_mkdir(tmp_path / "in"))
    capsys.readouterr()
    before = snapshot(tmp_path)
    out = tmp_path / "outdir" / "q.onnx"
    # WHEN it is quantized
    code = main(["quantize", "--model", str(model), "--images", str(samples), "--out", str(out)])
    # THEN one error line, exit 2, and the filesystem is as it was (no output, no temporary file, no folder)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and re.search(message, lines[0]), lines
    assert snapshot(tmp_path) == before and not (tmp_path / "outdir").exists()


def test_hostile_calibration_images_are_skipped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    # GIVEN a tiny model and a folder where most "images" are hostile: foreign formats, TIFF bombs, a PNG
    # text bomb, a truncated file, links leading outside, a FIFO
    model = tiny_model(tmp_path / "tiny.onnx")
    samples = calibration_folder(_mkdir(tmp_path / "in"), count=4)
    for name, data in images.foreign_formats().items():
        (samples / name).write_bytes(data)
    (samples / "pages.tif").write_bytes(images.striped_tiff(4, pages=10_001))
    (samples / "strips.tif").write_bytes(images.striped_tiff(70_000))
    (samples / "bomb.png").write_bytes(images.decompression_bomb())
    (samples / "cut.jpg").write_bytes(images.jpeg(images.photo(seed=3))[:200])
    (samples / "passwd.jpg").symlink_to("/etc/passwd")
    (samples / "environ.png").symlink_to("/proc/self/environ")
    os.mkfifo(samples / "pipe.jpg")
    hostile = len(images.foreign_formats()) + 4 + 3
    before = snapshot(tmp_path)
    out = tmp_path / "q.onnx"
    # WHEN it is quantized
    assert main(["quantize", "--model", str(model), "--images", str(samples), "--out", str(out)]) == 0
    # THEN only the 4 good images were used, the rest counted as unusable; inputs untouched, one output
    printed = capsys.readouterr().out
    assert f"calibrated on 2 images ({hostile} unusable, skipped); cosine to fp32 on 2 held-out images" in printed
    assert Embedder(out).name == "tiny-int8"
    assert set(snapshot(tmp_path)) - set(before) == {"q.onnx"}
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "q.onnx"} == before


def test_a_model_with_zero_vectors_reports_cosine_zero_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from batch_job.quantize import cosine_rows

    # GIVEN a model whose vectors are all zero (no weights, no bias): they have no direction to compare
    model = tiny_model(tmp_path / "zero.onnx", scale=0.0, bias=0.0)
    samples = calibration_folder(_mkdir(tmp_path / "in"))
    # WHEN it is quantized
    assert main(["quantize", "--model", str(model), "--images", str(samples), "--out", str(tmp_path / "q.onnx")]) == 0
    # THEN the cosine is reported as 0, not NaN, and so the "calibrate on images closer to yours" warning shows
    out, err = capsys.readouterr()
    assert "min 0.0000, mean 0.0000" in out and "nan" not in out.lower()
    assert err.strip() == "warning: min cosine 0.0000 < 0.99: calibrate on images closer to yours"
    zero, one = np.zeros((1, 4), np.float32), np.ones((1, 4), np.float32)
    assert cosine_rows(zero, one).tolist() == [0.0] and cosine_rows(zero, zero).tolist() == [0.0]
    assert cosine_rows(one, one).tolist() == [1.0]

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
from tests.batch_job.hostile import snapshot


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


# --- fuzz: hostile models and calibration folders -------------------------------------------------------------

from hypothesis import HealthCheck, event, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.batch_job.hostile import EXTENSIONS, NAMES, hostile_bytes  # noqa: E402


@pytest.fixture(scope="module")
def fuzz_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Model files by kind: a good tiny fp32 model and bad ones (bytes, so each example copies its own)."""
    from batch_job.quantize import quantize_model

    folder = tmp_path_factory.mktemp("fuzz-models")
    good = tiny_model(folder / "tiny.onnx").read_bytes()
    samples = calibration_folder(folder, count=4)
    quantize_model(folder / "tiny.onnx", samples, folder / "int8.onnx")
    return {
        "tiny": good,
        "truncated": good[: len(good) // 3],
        "random": bytes(np.random.default_rng(2).integers(0, 256, 2048, dtype=np.uint8)),
        "wrong-input": tiny_model(folder / "wrong.onnx", input_shape=("N", 3, 64, 64)).read_bytes(),
        "already-int8": (folder / "int8.onnx").read_bytes(),
    }


@seed(31)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    model_kind=st.sampled_from(["tiny", "tiny", "tiny", "truncated", "random", "wrong-input", "already-int8"]),
    files=st.lists(st.tuples(NAMES, EXTENSIONS, hostile_bytes()), min_size=0, max_size=8),
    good=st.integers(0, 3),
    calibration=st.integers(1, 8),
)
def test_fuzz_quantize_never_tracebacks_and_writes_a_loadable_model_or_nothing(
    fuzz_models: dict[str, bytes],
    tmp_path_factory: pytest.TempPathFactory,
    model_kind: str,
    files: list[tuple[str | bytes, str, bytes]],
    good: int,
    calibration: int,
) -> None:
    import contextlib
    import io
    import os

    # GIVEN a model file of some kind and a folder of hostile files with odd names (and a few good images)
    root = tmp_path_factory.mktemp("fuzz")
    model = root / "model.onnx"
    model.write_bytes(fuzz_models[model_kind])
    folder = os.fsencode(root / "imgs")
    os.mkdir(folder)
    good_files = [(f"good-{n}", ".jpg", images.jpeg(images.photo(40, 30, seed=n))) for n in range(good)]
    for name, ext, data in files + good_files:
        raw = (os.fsencode(name) if isinstance(name, str) else name) + ext.encode()
        if raw not in (b".", b".."):
            with open(os.path.join(folder, raw), "wb") as handle:
                handle.write(data)
    before = snapshot(root)
    out_path = root / "out" / "q.onnx"
    out, err = io.StringIO(), io.StringIO()
    args = ["--model", str(model), "--images", os.fsdecode(folder), "--out", str(out_path)]
    # WHEN it is quantized
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["quantize", *args, "--calibration", str(calibration)])
    # THEN exit 0 with one loadable model and the inputs untouched, or exit 2 with one line and nothing written
    lines = err.getvalue().strip().splitlines()
    event(f"exit {code}" + (f": {lines[0].split(': ')[-1][:40]}" if code else ""))
    assert code in (0, 2), err.getvalue()
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        assert snapshot(root) == before and not (root / "out").exists()
        return
    assert model_kind == "tiny"
    assert all(line.startswith("warning: min cosine") for line in lines), lines
    after = snapshot(root)
    assert set(after) - set(before) == {"out/q.onnx"}
    assert {k: v for k, v in after.items() if k != "out/q.onnx"} == before
    int8 = Embedder(out_path)
    assert (int8.name, int8.dimension) == ("tiny-int8", 8)
    assert re.search(r"calibrated on \d+ images \(\d+ unusable, skipped\)", out.getvalue())

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
from tests.batch_job.hostile import EXTENSIONS, NAMES, hostile_bytes, snapshot


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


def read_results(out: Path) -> tuple[list[str], dict[str, str]]:
    rows = pq.read_table(out)["image_id"].to_pylist()
    lines = (out.parent / (out.name + ".failures.jsonl")).read_text(encoding="utf-8").splitlines()
    return rows, {f["image_id"]: f["error"] for f in map(json.loads, lines)}


def test_links_and_special_files_are_failures_and_never_read(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    # GIVEN a folder with one good image, links out of it (a file, /etc/passwd, /proc/self/environ, a device),
    # dangling and looping links, a FIFO, a link to a directory and an image inside the folder reached by a link
    root = tmp_path / "imgs"
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(images.jpeg(images.photo(seed=1)))
    write_tree(root, {"good.jpg": images.jpeg(images.photo(seed=2))})
    (root / "passwd.jpg").symlink_to("/etc/passwd")
    (root / "environ.png").symlink_to("/proc/self/environ")
    (root / "zero.jpg").symlink_to("/dev/zero")
    (root / "outside.jpg").symlink_to(outside)
    (root / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    (root / "inside.jpg").symlink_to(root / "good.jpg")
    (root / "etc").symlink_to("/etc")
    os.mkfifo(root / "fifo.jpg")
    out = tmp_path / "v.parquet"
    # WHEN local runs
    assert main(["local", "--images", str(root), "--out", str(out), "--model", str(model_path)]) == 0
    rows, failures = read_results(out)
    # THEN only the regular files inside the folder are embedded; every other entry is a failure with a reason
    assert sorted(rows) == ["good.jpg", "inside.jpg"]
    assert failures == {
        "passwd.jpg": "symbolic link to a path outside --images; not read",
        "environ.png": "symbolic link to a path outside --images; not read",
        "zero.jpg": "symbolic link to a path outside --images; not read",
        "outside.jpg": "symbolic link to a path outside --images; not read",
        "dangling.jpg": "dangling symbolic link (its target does not exist); not read",
        "loop.jpg": "symbolic link loop; not read",
        "etc": "symbolic link to a path outside --images; not read",
        "fifo.jpg": "not a regular file (a FIFO); not read",
    }
    assert "root:" not in (out.parent / "v.parquet.failures.jsonl").read_text()
    assert f"summary: images=10 embedded=2 failed={len(failures)}" in capsys.readouterr().out


def test_unreadable_subfolder_is_one_failure_not_a_silent_skip(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    root = tmp_path / "imgs"
    write_tree(root, {"a.jpg": images.jpeg(images.photo(seed=3)), "locked/b.jpg": images.jpeg(images.photo())})
    (root / "locked").chmod(0)
    real_scandir = os.scandir

    def scandir(path: str) -> object:  # the tests may run as root, who lists every folder
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    try:
        out = tmp_path / "v.parquet"
        assert main(["local", "--images", str(root), "--out", str(out), "--model", str(model_path)]) == 0
        rows, failures = read_results(out)
    finally:
        (root / "locked").chmod(0o755)
    assert rows == ["a.jpg"]
    assert list(failures) == ["locked/"] and "cannot list folder: Permission denied" in failures["locked/"]


def test_names_that_are_not_utf8_are_escaped_and_accounted_for(model_path: Path, tmp_path: Path) -> None:
    import os

    root = tmp_path / "imgs"
    root.mkdir()
    good, bad = os.fsencode(root) + b"/caf\xe9 a\\b.jpg", os.fsencode(root) + b"/\xff\xfe.png"
    with open(good, "wb") as handle:
        handle.write(images.jpeg(images.photo(seed=4)))
    with open(bad, "wb") as handle:
        handle.write(b"not an image")
    out = tmp_path / "v.parquet"
    assert main(["local", "--images", str(root), "--out", str(out), "--model", str(model_path)]) == 0
    rows, failures = read_results(out)
    assert rows == ["caf\\xe9 a\\\\b.jpg"]
    assert list(failures) == ["\\xff\\xfe.png"] and failures["\\xff\\xfe.png"].startswith("not an image")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("input-image", r"--out .*a\.jpg: is inside the --images folder"),
        ("under-images", r"--out .*v\.parquet: is inside the --images folder"),
        ("failures-name", r"--out .*: is a failures file name"),
        ("device", r"--out /dev/null: is a device \(expected a regular file path\)"),
        ("fifo", r"--out .*fifo: is a FIFO \(expected a regular file path\)"),
        ("model", r"--out .*model\.onnx: is the --model input"),
        ("parent-is-file", r"--out .*a\.jpg/v\.parquet: .*is not a directory|inside the --images folder"),
    ],
)
def test_outputs_that_would_destroy_inputs_are_refused_before_any_work(
    target: str,
    message: str,
    model_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import os
    import shutil

    root = tmp_path / "imgs"
    write_tree(root, {"a.jpg": images.jpeg(images.photo(seed=5))})
    model = tmp_path / "model.onnx"
    shutil.copy(model_path, model)
    out = {
        "input-image": root / "a.jpg",
        "under-images": root / "v.parquet",
        "failures-name": tmp_path / "old.parquet.failures.jsonl",
        "device": Path("/dev/null"),
        "fifo": tmp_path / "fifo",
        "model": model,
        "parent-is-file": root / "a.jpg" / "v.parquet",
    }[target]
    if target == "fifo":
        os.mkfifo(out)
    before = snapshot(tmp_path)
    code = main(["local", "--images", str(root), "--out", str(out), "--model", str(model)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert re.search(message, err[0]), err[0]
    assert snapshot(tmp_path) == before  # inputs byte-identical, nothing written, no temp files


def test_a_failed_run_leaves_no_output_and_no_temp_files(
    image_dir: Path, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batch_job import local

    out = tmp_path / "new" / "v.parquet"

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(local, "embed_stream", broken)
    assert main(["local", "--images", str(image_dir), "--out", str(out), "--model", str(model_path)]) == 130
    assert not (tmp_path / "new").exists()


def test_rerun_replaces_both_outputs_atomically(image_dir: Path, model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.parquet"
    out.write_bytes(b"old")
    assert main(["local", "--images", str(image_dir), "--out", str(out), "--model", str(model_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.parquet", "v.parquet.failures.jsonl"]


# --- fuzz: hostile folders -------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@seed(11)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(files=st.lists(st.tuples(NAMES, EXTENSIONS, hostile_bytes()), min_size=1, max_size=6))
def test_fuzz_local_never_tracebacks_and_accounts_for_every_image(
    model_path: Path, tmp_path_factory: pytest.TempPathFactory, files: list[tuple[str | bytes, str, bytes]]
) -> None:
    import os
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("fuzz")
    folder = os.fsencode(root / "imgs")
    os.mkdir(folder)
    for name, ext, data in files:
        raw = (os.fsencode(name) if isinstance(name, str) else name) + ext.encode()
        if raw in (b".", b".."):
            continue
        with open(os.path.join(folder, raw), "wb") as handle:
            handle.write(data)
    out = root / "v.parquet"
    before = snapshot(root)
    model = ["--model", str(model_path)]
    done = subprocess.run(
        [sys.executable, "-m", "batch_job", "local", "--images", os.fsdecode(folder), "--out", str(out), *model],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 2), done.stderr
    after = snapshot(root)
    inputs_after = {k: v for k, v in after.items() if k.startswith("imgs/")}
    assert inputs_after == before  # inputs untouched
    if done.returncode == 2:
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")
        assert set(after) == set(before)
        return
    rows, failures = read_results(out)
    listed = int(re.search(r"summary: images=(\d+)", done.stdout).group(1))  # type: ignore[union-attr]
    assert len(rows) + len(failures) == listed
    assert f"embedded={len(rows)} failed={len(failures)}" in done.stdout
    assert set(after) - set(before) == {"v.parquet", "v.parquet.failures.jsonl"}  # complete, no temp files

"""Progress of ``local``: a bar with rate and ETA on a terminal (stderr), plain lines otherwise."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from batch_job.pipeline import Progress

from tests.batch_job import images
from tests.batch_job.tiny_model import tiny_model


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_carry_rate_and_eta_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(10, every=4, stream=stream)
    for done in range(1, 11):
        progress.update(done, failed=1 if done > 5 else 0)
    progress.close()
    lines = stream.getvalue().splitlines()
    # every 4 images and at the end; no carriage returns or escape codes in a log
    assert [line.split(" images")[0] for line in lines] == ["progress: 4/10", "progress: 8/10", "progress: 10/10"]
    assert re.fullmatch(r"progress: 4/10 images \(0 failed\), [0-9.]+ images/s, ETA \d+:\d\d", lines[0])
    assert re.fullmatch(r"progress: 10/10 images \(1 failed\), [0-9.]+ images/s", lines[2])
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_bar_with_rate_and_eta_on_a_terminal() -> None:
    stream = Terminal()
    progress = Progress(50, stream=stream)
    for done in range(1, 51):
        progress.update(done, failed=done // 10)
    progress.close()
    text = stream.getvalue()
    # redrawn in place (carriage returns), ends at 100% with the count, the rate, the failures and a newline
    assert "\r" in text and text.endswith("\n")
    final = text.rstrip("\n").split("\r")[-1]
    assert re.search(r"embedding: 100%.*\| 50/50 \[[0-9:]+<[0-9:]+, +[0-9.]+(img/s|s/img), 5 failed\]", final), final
    assert "progress:" not in text


@pytest.mark.parametrize("terminal", [True, False])
def test_local_command_shows_a_bar_only_on_a_terminal(tmp_path: Path, terminal: bool) -> None:
    # GIVEN a folder of 30 images and the local command with stderr on a pseudo-terminal (or a pipe)
    folder = tmp_path / "images"
    folder.mkdir()
    for n in range(30):
        (folder / f"{n:02d}.jpg").write_bytes(images.jpeg(images.photo(80, 60, seed=n)))
    model = tiny_model(tmp_path / "tiny.onnx")
    command = [
        sys.executable,
        "-m",
        "batch_job",
        "local",
        "--images",
        str(folder),
        "--out",
        str(tmp_path / "v.parquet"),
    ]
    command += ["--model", str(model)]
    if terminal:
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))  # 120 columns
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=follower, timeout=120, check=False)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        err = b"".join(chunks).decode("utf-8", "replace")
    else:
        completed = subprocess.run(command, capture_output=True, timeout=120, check=False)
        done, err = completed, completed.stderr.decode()
    # THEN it succeeds, the summary is on stdout either way
    assert done.returncode == 0, err
    assert b"summary: images=30 embedded=30 failed=0" in done.stdout
    if terminal:
        assert re.search(r"embedding: 100%.*30/30 \[.*(img/s|s/img), 0 failed\]", err), err
        assert "progress: " not in err
    else:
        assert "progress: 30/30 images (0 failed)" in err and "\r" not in err

"""benchmarks.peak_rss measures the child's own peak RSS, where os.wait4 reports the parent's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.peak_rss import vm_hwm_bytes

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def _touched(size: int) -> bytearray:
    buffer = bytearray(size)
    for offset in range(0, size, 4096):
        buffer[offset] = 1
    return buffer


def test_child_reports_its_own_peak_not_the_parents(tmp_path: Path) -> None:
    held = _touched(512 * MIB)  # the parent is large, as the embeddings benchmark is when it starts the job
    assert vm_hwm_bytes() >= 512 * MIB
    report = tmp_path / "rss"
    command = [sys.executable, "-m", "benchmarks.peak_rss", str(report), "json.tool", "--help"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # What the benchmark used to report: the parent's high-water mark carried across exec.
    assert usage.ru_maxrss * 1024 >= 512 * MIB
    child = int(report.read_text())
    assert 1 * MIB < child < 128 * MIB  # a bare interpreter printing help
    del held


def test_child_peak_grows_with_what_the_child_allocates(tmp_path: Path) -> None:
    script = tmp_path / "grow.py"
    script.write_text("b = bytearray(256 * 1024 * 1024)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\n")
    report = tmp_path / "rss"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    subprocess.run([sys.executable, "-m", "benchmarks.peak_rss", str(report), "grow"], cwd=ROOT, env=env, check=True)
    assert int(report.read_text()) >= 256 * MIB


def test_exit_status_and_report_survive_sys_exit(tmp_path: Path) -> None:
    report = tmp_path / "rss"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.peak_rss", str(report), "json.tool", "/nonexistent/file.json"],
        cwd=ROOT,
        capture_output=True,
    )
    assert completed.returncode != 0
    assert int(report.read_text()) > 0

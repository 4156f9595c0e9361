"""``python -m benchmarks.peak_rss OUT MODULE [ARGS...]``: run MODULE as ``__main__`` and write its peak RSS to OUT.

Why not ``os.wait4``'s ``ru_maxrss``: Linux keeps a process's high-water RSS across ``execve`` (the signal
struct's ``maxrss`` takes the old address space's high-water mark), and Python starts children with
``vfork``/``posix_spawn``, whose old address space is the parent's. A child of a 1.4 GiB benchmark process then
reports at least 1.4 GiB whatever it used (see ``getrusage(2)``: ``ru_maxrss``). ``VmHWM`` in
``/proc/self/status`` belongs to the new address space only, so the child reads it itself when it exits
(https://man7.org/linux/man-pages/man5/proc_pid_status.5.html).
"""

from __future__ import annotations

import atexit
import runpy
import sys
from pathlib import Path


def vm_hwm_bytes() -> int:
    """This process's peak resident set size (``VmHWM``), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise RuntimeError(f"unexpected VmHWM unit {unit!r}")
            return int(value) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: python -m benchmarks.peak_rss OUT MODULE [ARGS...]")
    out, module = Path(argv[0]), argv[1]
    atexit.register(lambda: out.write_text(f"{vm_hwm_bytes()}\n"))
    sys.argv = [module, *argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])

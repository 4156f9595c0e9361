"""The output rule of every command: never destroy an input, never leave a partial output.

An output path is refused (one line, exit 2, before any work) when it is a directory, exists and is not a
regular file (device, FIFO, socket, symbolic link), is one of the inputs (same path or same file), equals
another output, lies under an input folder, or its parent is not a directory. Outputs are written to
temporary files in their own directory and renamed into place only when the whole command succeeds.
(The container image has no devops_blueprints, so this is the job's own copy of the rule.)
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from batch_job.errors import EXIT_USAGE, JobError


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_outputs(
    outputs: Sequence[tuple[str, Path]],
    *,
    inputs: Sequence[tuple[str, Path]] = (),
    input_dirs: Sequence[tuple[str, Path]] = (),
) -> None:
    """Raise JobError (exit 2) naming the option when an output breaks the rule (see the module doc)."""
    resolved: dict[Path, str] = {}
    for option, out in outputs:
        where = f"{option} {out}"
        parent = out.parent if str(out.parent) else Path(".")
        if parent.exists() and not parent.is_dir():
            raise JobError(f"{where}: {parent} is not a directory", EXIT_USAGE)
        try:
            info = out.lstat()
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise JobError(f"{where}: cannot be checked ({exc.strerror or exc})", EXIT_USAGE) from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise JobError(f"{where}: is {_kind(info.st_mode)} (expected a regular file path)", EXIT_USAGE)
        real = Path(os.path.realpath(out))
        for in_option, path in inputs:
            same = real == Path(os.path.realpath(path))
            if not same and info is not None and path.exists():
                with contextlib.suppress(OSError):
                    same = os.path.samefile(out, path)
            if same:
                raise JobError(f"{where}: is the {in_option} input (it would be overwritten)", EXIT_USAGE)
        for in_option, folder in input_dirs:
            if _inside(real, Path(os.path.realpath(folder))):
                raise JobError(f"{where}: is inside the {in_option} folder {folder} (an input)", EXIT_USAGE)
        if real in resolved:
            raise JobError(f"{where}: is also the {resolved[real]} output", EXIT_USAGE)
        resolved[real] = option


@contextlib.contextmanager
def staged(outputs: Sequence[Path]) -> Iterator[list[Path]]:
    """Temporary paths beside each output; renamed onto the outputs only if the block completes.

    Missing parent folders are created, and removed again (when still empty) if the block fails.
    """
    created: list[Path] = []
    temps: list[Path] = []
    try:
        for out in outputs:
            missing = [p for p in [out.parent, *out.parent.parents] if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                created.append(folder)
            handle, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
            os.close(handle)
            temps.append(Path(name))
        yield temps
        for temp, out in zip(temps, outputs, strict=True):
            os.replace(temp, out)
    except BaseException:
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink()
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise

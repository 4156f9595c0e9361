"""The output rule of every ``devops-blueprints`` command: never destroy an input, never leave a partial output.

An output path is refused (one line, before any work) when it is a directory, exists and is not a regular file
(device, FIFO, socket, symbolic link), is one of the inputs (same path after resolving links, or the same file),
equals another output, lies under an input folder, or its parent exists and is not a directory. Outputs are
written to temporary files in their own directory and renamed into place only when the whole command succeeds.

The Batch job's container has no ``devops_blueprints``, so ``batch_job/batch_job/outputs.py`` is that
package's own copy of the same rule.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path


class OutputError(ValueError):
    """An output path that breaks the rule; ``str()`` is one line naming the option and the path."""


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
    """Raise :class:`OutputError` naming the option when an output breaks the rule (see the module doc).

    ``outputs``, ``inputs`` and ``input_dirs`` are ``(option, path)`` pairs, e.g. ``("--template", path)``.
    """
    resolved: dict[Path, str] = {}
    for option, out in outputs:
        where = f"{option} {out}"
        parent = out.parent if str(out.parent) else Path(".")
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{where}: {parent} is not a directory")
        try:
            info = out.lstat()
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise OutputError(f"{where}: cannot be checked ({exc.strerror or exc})") from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{where}: is {_kind(info.st_mode)} (expected a regular file path)")
        real = Path(os.path.realpath(out))
        for in_option, path in inputs:
            same = real == Path(os.path.realpath(path))
            if not same and info is not None and path.exists():
                with contextlib.suppress(OSError):
                    same = os.path.samefile(out, path)
            if same:
                raise OutputError(f"{where}: is the {in_option} input (it would be overwritten)")
        for in_option, folder in input_dirs:
            if _inside(real, Path(os.path.realpath(folder))):
                raise OutputError(f"{where}: is inside the {in_option} folder {folder} (an input)")
        if real in resolved:
            raise OutputError(f"{where}: is also the {resolved[real]} output")
        resolved[real] = option


@contextlib.contextmanager
def staged(outputs: Sequence[Path]) -> Iterator[list[Path]]:
    """Temporary paths beside each output; renamed onto the outputs only if the block completes.

    Missing parent folders are created, and removed again (when still empty) if the block fails.
    """
    created: list[Path] = []
    temps: list[Path] = []
    umask = os.umask(0)
    os.umask(umask)
    try:
        for out in outputs:
            missing = [p for p in [out.parent, *out.parent.parents] if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                created.append(folder)
            handle, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
            os.fchmod(handle, 0o666 & ~umask)  # what a plain open() would give, not mkstemp's 0600
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


def write_texts(files: Sequence[tuple[str, Path, str]]) -> None:
    """Write every ``(option, path, text)`` through :func:`staged`: all of them, or none.

    An ``OSError`` (disk full, no permission to create the folder) becomes one :class:`OutputError` line.
    """
    try:
        with staged([path for _option, path, _text in files]) as temps:
            for temp, (_option, _path, text) in zip(temps, files, strict=True):
                temp.write_text(text, encoding="utf-8")
    except OSError as exc:
        where = ", ".join(f"{option} {path}" for option, path, _text in files)
        raise OutputError(f"{where}: cannot write ({exc.strerror or exc}); nothing written") from None

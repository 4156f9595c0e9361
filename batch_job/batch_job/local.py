"""``python -m batch_job local``: a folder of images -> a Parquet file, no AWS.

Listing: every entry under ``--images`` whose name has an image extension is listed, and becomes a row or a
failure. Only regular files inside the folder (after resolving links) are read; a link leading outside,
a dangling or looping link, a FIFO, device or socket is a failure with the reason and is never opened.
Links to directories are not followed and a subfolder that cannot be listed is one failure (its id ends
with ``/``), so nothing is skipped silently: ``embedded + failed == listed``.

Image ids: the path relative to the folder with ``/`` separators. A name that is not valid UTF-8 is written
with each byte that is not part of a UTF-8 character as ``\\xNN`` (two lowercase hex digits) and each
backslash already in that name doubled, so the id is printable UTF-8 and maps back to the bytes; valid
UTF-8 names are unchanged. Two files with one id (only when a valid name spells out such an escape) are
one row and one failure.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from batch_job.engine import Embedder
from batch_job.errors import EXIT_USAGE, JobError, SourceError
from batch_job.outputs import check_outputs, staged
from batch_job.pipeline import (
    MAX_BYTES_IN_FLIGHT,
    ByteBudget,
    Failure,
    Progress,
    Reader,
    ReadLimit,
    Reserve,
    Summary,
    embed_stream,
)
from batch_job.sinks import ParquetSink, write_failures_file

# Default of --workers: the most file reads in flight; how many are, adapts to the latency (ReadLimit): about
# one per decoder from a local disk or the page cache, more from a network file system (EFS, FSx, NFS).
MAX_FILE_READS = 16
# Listed by extension, case-insensitive; a file with one of these names that is not an image is a failure.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
MAX_FILE_BYTES = 64 * 1024 * 1024
FAILURES_SUFFIX = ".failures.jsonl"


def image_id_of(relative: str) -> str:
    """The documented escape of a relative path (``str`` from the OS, surrogate-escaped where not UTF-8)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in relative):
        return relative
    return "".join(
        f"\\x{ord(ch) - 0xDC00:02x}" if "\udc80" <= ch <= "\udcff" else ("\\\\" if ch == "\\" else ch)
        for ch in relative
    )


@dataclass(frozen=True)
class Listing:
    """What ``--images`` holds: readable files by image id, and the entries refused at listing time."""

    root: Path
    files: dict[str, Path]  # image id -> resolved path of a regular file inside root
    refused: list[Failure]

    @property
    def image_ids(self) -> list[str]:
        return sorted(self.files)

    def __len__(self) -> int:
        return len(self.files) + len(self.refused)


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_images(root: Path) -> Listing:
    """Walk ``root`` (see the module doc); refuses a missing folder or one with no image names."""
    if not root.is_dir():
        raise JobError(f"--images {root}: not a directory (expected a folder of images)", EXIT_USAGE)
    real_root = Path(os.path.realpath(root))
    files: dict[str, Path] = {}
    refused: list[Failure] = []

    def refuse(relative: str, reason: str) -> None:
        refused.append(Failure(image_id_of(relative), reason))

    def walk(folder: Path, prefix: str) -> None:
        try:
            with os.scandir(folder) as entries:
                children = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            refuse(prefix or "./", f"cannot list folder: {exc.strerror or exc}; images in it are not listed")
            return
        for entry in children:
            relative = prefix + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    walk(Path(entry.path), relative + "/")
                    continue
                link = entry.is_symlink()
            except OSError as exc:
                refuse(relative, f"cannot stat: {exc.strerror or exc}")
                continue
            if not link and not _is_image_name(entry.name):
                continue
            if link:
                reason = _link_problem(Path(entry.path), real_root)
                if reason is None and not _is_image_name(entry.name):
                    continue
                if reason is not None:
                    # A link to a folder is reported too: images under it are not listed.
                    if _is_image_name(entry.name) or os.path.isdir(entry.path):
                        refuse(relative, reason)
                    continue
            target = Path(os.path.realpath(entry.path))
            try:
                mode = os.stat(target).st_mode
            except OSError as exc:
                refuse(relative, f"cannot stat: {exc.strerror or exc}")
                continue
            if not stat.S_ISREG(mode):
                refuse(relative, f"not a regular file ({_kind(mode)}); not read")
                continue
            image_id = image_id_of(relative)
            if image_id in files:
                refused.append(Failure(image_id, "another file has the same image id (see the name escaping)"))
                continue
            files[image_id] = target

    walk(real_root, "")
    if not files and not refused:
        extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise JobError(f"--images {root}: no image files ({extensions}) in it or below it", EXIT_USAGE)
    return Listing(real_root, files, refused)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _link_problem(link: Path, real_root: Path) -> str | None:
    """Why a symbolic link is not read, or None when it leads to something inside ``real_root``."""
    try:
        target = Path(os.path.realpath(link, strict=True))
    except FileNotFoundError:
        return "dangling symbolic link (its target does not exist); not read"
    except OSError as exc:
        if exc.errno is not None and exc.errno == 40:  # ELOOP
            return "symbolic link loop; not read"
        return f"symbolic link cannot be resolved: {exc.strerror or exc}; not read"
    if target != real_root and real_root not in target.parents:
        return "symbolic link to a path outside --images; not read"
    if target.is_dir():
        return "symbolic link to a directory: not followed (images under it are not listed)"
    return None


def _no_reservation(size: int) -> None:
    return None


def file_reader(listing: Listing) -> Reader:
    """Reads a listed file: opened without following a (swapped-in) link, without blocking, regular only."""

    def read(image_id: str, reserve: Reserve = _no_reservation) -> bytes:
        path = listing.files[image_id]
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise SourceError(f"cannot read: {exc.strerror or exc}", infrastructure=False) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SourceError(f"not a regular file ({_kind(info.st_mode)}); not read", infrastructure=False)
            if info.st_size > MAX_FILE_BYTES:
                raise SourceError(
                    f"file is {info.st_size} bytes, over the {MAX_FILE_BYTES}-byte limit", infrastructure=False
                )
            reserve(info.st_size)
            with os.fdopen(fd, "rb", closefd=True) as handle:
                fd = -1
                return handle.read(info.st_size)
        except OSError as exc:
            raise SourceError(f"cannot read: {exc.strerror or exc}", infrastructure=False) from None
        finally:
            if fd >= 0:
                os.close(fd)

    return read


def failures_path(out: Path) -> Path:
    return out.with_name(out.name + FAILURES_SUFFIX)


def check_out(out: Path, images: Path | None = None, model: Path | None = None) -> None:
    """The output rule for ``local`` (one line, exit 2): see :mod:`batch_job.outputs`."""
    if out.name.endswith(FAILURES_SUFFIX):
        raise JobError(f"--out {out}: is a failures file name (expected a .parquet file path)", EXIT_USAGE)
    if out.is_dir():
        raise JobError(f"--out {out}: is a directory (expected a .parquet file path)", EXIT_USAGE)
    check_outputs(
        [("--out", out), ("failures file", failures_path(out))],
        inputs=[("--model", model)] if model is not None else [],
        input_dirs=[("--images", images)] if images is not None else [],
    )


def run_local(
    images: Path,
    out: Path,
    embedder: Embedder,
    *,
    listing: Listing | None = None,
    batch_size: int = 32,
    workers: int = MAX_FILE_READS,
    progress_every: int = 200,
    max_bytes_in_flight: int = MAX_BYTES_IN_FLIGHT,
    budget: ByteBudget | None = None,
    reads: ReadLimit | None = None,
    progress: Progress | None = None,
) -> tuple[Summary, list[Failure]]:
    """Embed every image under ``images`` into ``out`` and ``<out>.failures.jsonl`` (both or neither).

    At most ``workers`` files are read at once (as many as the latency needs, see :class:`ReadLimit`), and
    at most ``max_bytes_in_flight`` bytes of them are held before they are decoded (``budget`` replaces that
    budget, ``reads`` the read limit; tests read their ``peak``). ``progress`` replaces the progress display.
    """
    if max_bytes_in_flight < MAX_FILE_BYTES:
        raise JobError(
            f"--max-bytes-in-flight ({max_bytes_in_flight}) must be at least the {MAX_FILE_BYTES}-byte file limit "
            "(an image as large as the limit must fit)",
            EXIT_USAGE,
        )
    check_out(out, images)
    if listing is None:
        listing = list_images(images)
    with staged([out, failures_path(out)]) as (parquet_tmp, failures_tmp):
        sink = ParquetSink(parquet_tmp)
        image_ids = listing.image_ids
        try:
            summary, failures = embed_stream(
                image_ids,
                file_reader(listing),
                embedder,
                sink,
                batch_size=batch_size,
                workers=workers,
                progress=progress or Progress(len(listing), every=progress_every),
                budget=budget or ByteBudget(max_bytes_in_flight),
                reads=reads,
            )
        except BaseException:
            sink.abort()
            raise
        failures = listing.refused + failures
        summary = Summary(len(listing), summary.embedded, len(failures), summary.seconds)
        write_failures_file(failures_tmp, failures)
    return summary, failures

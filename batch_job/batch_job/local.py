"""``python -m batch_job local``: a folder of images -> a Parquet file, no AWS."""

from __future__ import annotations

from pathlib import Path

from batch_job.engine import Embedder
from batch_job.errors import EXIT_USAGE, JobError, SourceError
from batch_job.pipeline import Failure, Progress, Reader, Summary, embed_stream
from batch_job.sinks import ParquetSink, write_failures_file

# Listed by extension, case-insensitive; a file with one of these names that is not an image is a failure.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
MAX_FILE_BYTES = 64 * 1024 * 1024


def list_images(root: Path) -> list[str]:
    """Image files under ``root`` (recursively) as sorted POSIX paths relative to it: the image ids."""
    if not root.is_dir():
        raise JobError(f"--images {root}: not a directory (expected a folder of images)", EXIT_USAGE)
    ids = [
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
    ]
    if not ids:
        extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise JobError(f"--images {root}: no image files ({extensions}) in it or below it", EXIT_USAGE)
    return sorted(ids)


def file_reader(root: Path) -> Reader:
    def read(image_id: str) -> bytes:
        path = root / image_id
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise SourceError(f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit", infrastructure=False)
            return path.read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}", infrastructure=False) from None

    return read


def failures_path(out: Path) -> Path:
    return out.with_name(out.name + ".failures.jsonl")


def check_out(out: Path) -> None:
    if out.is_dir():
        raise JobError(f"--out {out}: is a directory (expected a .parquet file path)", EXIT_USAGE)


def run_local(
    images: Path,
    out: Path,
    embedder: Embedder,
    *,
    image_ids: list[str] | None = None,
    batch_size: int = 32,
    workers: int = 2,
    progress_every: int = 200,
) -> tuple[Summary, list[Failure]]:
    """Embed every image under ``images`` (or just ``image_ids``) into ``out`` and ``<out>.failures.jsonl``."""
    check_out(out)
    if image_ids is None:
        image_ids = list_images(images)
    out.parent.mkdir(parents=True, exist_ok=True)
    sink = ParquetSink(out)
    try:
        summary, failures = embed_stream(
            image_ids,
            file_reader(images),
            embedder,
            sink,
            batch_size=batch_size,
            workers=workers,
            progress=Progress(len(image_ids), every=progress_every),
        )
    except BaseException:
        sink.abort()
        raise
    write_failures_file(failures_path(out), failures)
    return summary, failures

"""Reading CloudTrail log files as a trail delivers them to S3: gzip'd JSON ``{"Records": [...]}``.

A log file is one JSON object, so it is read one file at a time: decompressed within a bound
(:data:`MAX_FILE_BYTES` of JSON, so a decompression bomb or an oversized file is one problem line, not
an exhausted machine), parsed with orjson, and its records handed on before the next file is opened.
Memory is bounded by the largest file, never by the number of files or events.

A bad file (not gzip or JSON, truncated, not a CloudTrail log, a digest file, an unreadable object or
prefix) is a :class:`FileProblem` with one line of explanation; reading goes on with the next file.

References:

* file names and format: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html
  (``AccountID_CloudTrail_RegionName_YYYYMMDDTHHmmZ_UniqueString.json.gz``);
* digest files (``..._CloudTrail-Digest_...json.gz``, top-level ``digestStartTime`` and no ``Records``):
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

# A trail delivers a file about every five minutes per account and region; 256 MiB of JSON is far above
# what one such file holds, and bounds what one file can make us hold.
MAX_FILE_BYTES = 256 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
DIGEST_MARK = "CloudTrail-Digest"
_GZIP_MAGIC = b"\x1f\x8b"

# FileProblem reasons (stable, used to group the summary)
DIGEST = "digest-file"
NOT_CLOUDTRAIL = "not-cloudtrail"
NOT_JSON = "not-json"
BAD_GZIP = "bad-gzip"
TOO_LARGE = "too-large"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FileProblem:
    """A file (or S3 prefix) that was skipped: ``reason`` is one of the constants above."""

    source: str
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass(frozen=True)
class LogFile:
    source: str
    records: list[Any]


Chunks = Callable[[], Iterable[bytes]]


class _Problem(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _local_files(root: Path) -> Iterator[tuple[str, Chunks] | FileProblem]:
    if root.is_dir():
        for folder, dirs, files in os.walk(root):  # does not follow links to folders
            dirs.sort()
            for name in sorted(files):
                yield from _local_files(Path(folder) / name)
        return
    if not root.exists():
        yield FileProblem(str(root), UNREADABLE, "no such file or folder")
        return
    if not root.is_file():
        yield FileProblem(str(root), UNREADABLE, "not a regular file")
        return

    def chunks(path: Path = root) -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    yield str(root), chunks


def _s3_files(url: str, client: Any) -> Iterator[tuple[str, Chunks] | FileProblem]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _slash, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        yield FileProblem(url, UNREADABLE, "an s3:// location needs a bucket: s3://BUCKET/PREFIX")
        return
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue

                def chunks(key: str = key) -> Iterator[bytes]:
                    try:
                        body = client.get_object(Bucket=bucket, Key=key)["Body"]
                        yield from body.iter_chunks(CHUNK_BYTES)
                    except (BotoCoreError, ClientError) as exc:
                        raise _Problem(UNREADABLE, f"cannot read the object: {exc}") from None

                yield f"s3://{bucket}/{key}", chunks
    except (BotoCoreError, ClientError) as exc:
        yield FileProblem(url, UNREADABLE, f"cannot list the prefix: {exc}")


def log_files(locations: Sequence[str], *, s3_client: Any = None) -> Iterator[tuple[str, Chunks] | FileProblem]:
    """Every file under the given local paths (files or folders, in name order) and ``s3://`` prefixes,
    as ``(name, chunks)``; a location that cannot be listed is a :class:`FileProblem`."""
    client = s3_client
    for location in locations:
        if location.startswith("s3://"):
            if client is None:
                from devops_blueprints._aws import client as aws_client

                client = aws_client("s3")
            yield from _s3_files(location, client)
        else:
            yield from _local_files(Path(location))


def _decompressed(chunks: Iterable[bytes], max_bytes: int) -> bytes:
    data = bytearray()
    iterator = iter(chunks)
    first = next(iterator, b"")
    if not first.startswith(_GZIP_MAGIC):  # not compressed: read as JSON text within the bound
        data += first
        for chunk in iterator:
            data += chunk
            if len(data) > max_bytes:
                break
    else:
        decompressor = zlib.decompressobj(wbits=31)
        pending = first
        try:
            while True:
                while pending:
                    data += decompressor.decompress(pending, max_bytes + 1 - len(data))
                    if len(data) > max_bytes:
                        break
                    pending = decompressor.unconsumed_tail
                    if decompressor.eof and decompressor.unused_data:  # a further gzip member
                        pending = decompressor.unused_data
                        decompressor = zlib.decompressobj(wbits=31)
                if len(data) > max_bytes:
                    break
                pending = next(iterator, b"")
                if not pending:
                    break
        except zlib.error as exc:
            raise _Problem(BAD_GZIP, f"not a readable gzip file ({exc})") from None
        if len(data) <= max_bytes and not decompressor.eof:
            raise _Problem(BAD_GZIP, "truncated gzip file (the compressed stream ends early)")
    if len(data) > max_bytes:
        raise _Problem(TOO_LARGE, f"more than {max_bytes:,} bytes of JSON (the per-file bound); skipped")
    return bytes(data)


def read_log_file(name: str, chunks: Chunks, *, max_bytes: int = MAX_FILE_BYTES) -> LogFile | FileProblem:
    """One log file's records, or why it was skipped."""
    if DIGEST_MARK in name.rsplit("/", 1)[-1]:
        return FileProblem(name, DIGEST, "a CloudTrail digest file (log file validation), not a log; skipped")
    try:
        text = _decompressed(chunks(), max_bytes)
    except _Problem as exc:
        return FileProblem(name, exc.reason, str(exc))
    except OSError as exc:
        return FileProblem(name, UNREADABLE, f"cannot read: {exc.strerror or exc}")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return FileProblem(name, NOT_JSON, f"not JSON ({exc})")
    if isinstance(document, dict):
        records = document.get("Records")
        if isinstance(records, list):
            return LogFile(name, records)
        if "digestStartTime" in document:
            return FileProblem(name, DIGEST, "a CloudTrail digest file (log file validation), not a log; skipped")
    return FileProblem(name, NOT_CLOUDTRAIL, 'not a CloudTrail log (expected a JSON object {"Records": [...]})')

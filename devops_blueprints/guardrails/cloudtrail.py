"""Reading CloudTrail log files as a trail delivers them to S3: gzip'd JSON ``{"Records": [...]}``.

A log file is one JSON object, so it is read one file at a time: decompressed within a bound
(:data:`MAX_FILE_BYTES` of JSON, so a decompression bomb or an oversized file is one problem line, not
an exhausted machine), parsed, and its records handed on before the next file is opened. Memory is
bounded by the largest file, never by the number of files or events.

Parsing is msgspec's, into :class:`Event` structs that hold only the fields a replay reads (the rest of
each record is skipped without building Python objects; ``requestParameters`` and ``resources`` are kept as
raw JSON and parsed only when a policy needs them), which is about three times faster than building every record as
dictionaries. A file whose records do not fit that shape (a record that is not an object, a
``userIdentity`` that is a string) is parsed again generically and each bad record becomes a
:class:`BadRecord` with the reason, so one bad event costs only itself.

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
from types import ModuleType
from typing import Any

import msgspec

_inflate: ModuleType
try:  # ISA-L's inflate (python-isal), zlib's interface at about 1.8x its speed: https://github.com/pycompression/python-isal
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - a platform without its wheel: the standard library's zlib
    _inflate = zlib
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, getattr(_inflate, "error", zlib.error))

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


# The structs are frozen, so hashable: a replay caches what it derives from a userIdentity on the identity
# itself. Fields are typed as CloudTrail writes them; a record that does not fit (an eventName that is a
# number) sends its file through the generic path below, where that record alone becomes a BadRecord.
class Issuer(msgspec.Struct, frozen=True, gc=False):
    arn: str | None = None
    type: str | None = None


class Attributes(msgspec.Struct, frozen=True, gc=False):
    mfaAuthenticated: str | bool | None = None


class SessionContext(msgspec.Struct, frozen=True, gc=False):
    sessionIssuer: Issuer | None = None
    attributes: Attributes | None = None


class Identity(msgspec.Struct, frozen=True, gc=False):
    """``userIdentity`` (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html)."""

    type: str | None = None
    arn: str | None = None
    accountId: str | None = None
    sessionContext: SessionContext | None = None
    invokedBy: str | None = None


class Event(msgspec.Struct, gc=False):
    """The fields of a CloudTrail record a replay reads
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html)."""

    eventTime: str | None = None
    eventSource: str | None = None
    eventName: str | None = None
    awsRegion: str | None = None
    eventType: str | None = None
    errorCode: str | None = None
    recipientAccountId: str | None = None
    sourceIPAddress: str | None = None
    vpcEndpointId: str | None = None
    userIdentity: Identity | None = None
    # kept as raw JSON, parsed only when a policy needs the resource or the request's tags
    resources: msgspec.Raw = msgspec.Raw(b"null")
    requestParameters: msgspec.Raw = msgspec.Raw(b"null")


class _Log(msgspec.Struct, gc=False):
    Records: list[Event] | None = None
    digestStartTime: Any = None


@dataclass(frozen=True)
class BadRecord:
    """A record that is not shaped like a CloudTrail event (counted by ``reason``)."""

    reason: str


@dataclass(frozen=True)
class LogFile:
    source: str
    records: list[Event | BadRecord]


_LOG = msgspec.json.Decoder(_Log)
_ANY = msgspec.json.Decoder()
_EVENT = msgspec.json.Decoder(Event)
_ENCODE = msgspec.json.Encoder()


def event_from_dict(record: Any) -> Event | BadRecord:
    """A parsed record (a ``dict``, as ``json.loads`` gives it) as an :class:`Event`."""
    if not isinstance(record, dict):
        return BadRecord("not-an-event: a record that is not a JSON object")
    try:
        return _EVENT.decode(_ENCODE.encode(record))
    except (msgspec.ValidationError, TypeError) as exc:
        message, _at, where = str(exc).partition(" - at ")
        return BadRecord(f"bad-event: {where.strip('`')}: {message}" if where else f"bad-event: {message}")


Chunks = Callable[[], Iterable[bytes]]


class _Problem(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class LogSource:
    """One log file to read: a local ``path``, or ``bucket`` and ``key`` in S3 (picklable, so a worker
    process can read it)."""

    name: str
    path: str | None = None
    bucket: str | None = None
    key: str | None = None

    def chunks(self, s3_client: Any = None) -> Iterator[bytes]:
        if self.path is not None:
            with open(self.path, "rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    yield chunk
            return
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = s3_client.get_object(Bucket=self.bucket, Key=self.key)["Body"]
            yield from body.iter_chunks(CHUNK_BYTES)
        except (BotoCoreError, ClientError) as exc:
            raise _Problem(UNREADABLE, f"cannot read the object: {exc}") from None


def _local_files(root: Path) -> Iterator[LogSource | FileProblem]:
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
    yield LogSource(str(root), path=str(root))


def _s3_files(url: str, client: Any) -> Iterator[LogSource | FileProblem]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _slash, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        yield FileProblem(url, UNREADABLE, "an s3:// location needs a bucket: s3://BUCKET/PREFIX")
        return
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if not key.endswith("/"):
                    yield LogSource(f"s3://{bucket}/{key}", bucket=bucket, key=key)
    except (BotoCoreError, ClientError) as exc:
        yield FileProblem(url, UNREADABLE, f"cannot list the prefix: {exc}")


def default_s3_client() -> Any:
    from devops_blueprints._aws import client

    return client("s3")


def log_files(locations: Sequence[str], *, s3_client: Any = None) -> Iterator[LogSource | FileProblem]:
    """Every file under the given local paths (files or folders, in name order) and ``s3://`` prefixes;
    a location that cannot be listed is a :class:`FileProblem`."""
    client = s3_client
    for location in locations:
        if location.startswith("s3://"):
            if client is None:
                client = default_s3_client()
            yield from _s3_files(location, client)
        else:
            yield from _local_files(Path(location))


def _decompressed(chunks: Iterable[bytes], max_bytes: int) -> bytes:
    pieces: list[bytes] = []
    size = 0
    iterator = iter(chunks)
    first = next(iterator, b"")
    if not first.startswith(_GZIP_MAGIC):  # not compressed: read as JSON text within the bound
        pieces.append(first)
        size = len(first)
        for chunk in iterator:
            if size > max_bytes:
                break
            pieces.append(chunk)
            size += len(chunk)
    else:
        inflate = _inflate
        decompressor = inflate.decompressobj(wbits=31)
        pending = first
        try:
            while pending and size <= max_bytes:
                while pending and size <= max_bytes:
                    piece = decompressor.decompress(pending, max_bytes + 1 - size)
                    pieces.append(piece)
                    size += len(piece)
                    pending = decompressor.unconsumed_tail
                    if decompressor.eof and decompressor.unused_data:  # a further gzip member
                        pending = decompressor.unused_data
                        decompressor = inflate.decompressobj(wbits=31)
                if size <= max_bytes:
                    pending = next(iterator, b"")
        except _INFLATE_ERRORS as exc:
            raise _Problem(BAD_GZIP, f"not a readable gzip file ({exc})") from None
        if size <= max_bytes and not decompressor.eof:
            raise _Problem(BAD_GZIP, "truncated gzip file (the compressed stream ends early)")
    if size > max_bytes:
        raise _Problem(TOO_LARGE, f"more than {max_bytes:,} bytes of JSON (the per-file bound)")
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def read_source(source: LogSource, *, max_bytes: int = MAX_FILE_BYTES, s3_client: Any = None) -> LogFile | FileProblem:
    return read_log_file(source.name, lambda: source.chunks(s3_client), max_bytes=max_bytes)


def read_log_file(name: str, chunks: Chunks, *, max_bytes: int = MAX_FILE_BYTES) -> LogFile | FileProblem:
    """One log file's records, or why it was skipped."""
    if DIGEST_MARK in name.rsplit("/", 1)[-1]:
        return FileProblem(name, DIGEST, "a CloudTrail digest file (log file validation), not a log")
    try:
        text = _decompressed(chunks(), max_bytes)
    except _Problem as exc:
        return FileProblem(name, exc.reason, str(exc))
    except OSError as exc:
        return FileProblem(name, UNREADABLE, f"cannot read: {exc.strerror or exc}")
    try:
        log = _LOG.decode(text)
    except msgspec.ValidationError:
        return _generic(name, text)
    except msgspec.DecodeError as exc:
        return FileProblem(name, NOT_JSON, f"not JSON ({exc})")
    except RecursionError:
        return FileProblem(name, NOT_JSON, "JSON nested too deeply")
    if log.Records is not None:
        return LogFile(name, list(log.Records))
    if log.digestStartTime is not None:
        return FileProblem(name, DIGEST, "a CloudTrail digest file (log file validation), not a log")
    return FileProblem(name, NOT_CLOUDTRAIL, _NOT_A_LOG)


_NOT_A_LOG = 'not a CloudTrail log (expected a JSON object {"Records": [...]})'


def _generic(name: str, text: bytes) -> LogFile | FileProblem:
    try:
        document = _ANY.decode(text)
    except RecursionError:
        return FileProblem(name, NOT_JSON, "JSON nested too deeply")
    if not isinstance(document, dict) or not isinstance(document.get("Records"), list):
        if isinstance(document, dict) and "digestStartTime" in document:
            return FileProblem(name, DIGEST, "a CloudTrail digest file (log file validation), not a log")
        return FileProblem(name, NOT_CLOUDTRAIL, _NOT_A_LOG)
    return LogFile(name, [event_from_dict(record) for record in document["Records"]])

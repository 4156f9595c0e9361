"""``python -m batch_job run``: one AWS Batch array child — its slice of the manifest, S3 -> DynamoDB.

Environment (interface): ``IMAGES_BUCKET``, ``RESULTS_TABLE``, ``MANIFEST_KEY``
(``manifests/<run-id>/...``, one image key per line), ``CHUNK_SIZE``, ``AWS_BATCH_JOB_ARRAY_INDEX``
(absent: 0), ``EMBEDDING_MODEL`` (a file path in the image, or ``s3://<bucket>/<key>``: downloaded once
when the job starts, e.g. an int8 model made by ``quantize``). Child ``i`` embeds the manifest's non-empty lines
``[i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)``. Failures go to ``failures/<run-id>/<i>.jsonl`` in the bucket
(written on every run, empty when nothing failed, so a retried child replaces its earlier attempt's record).
boto3 honours ``AWS_ENDPOINT_URL`` for every client.

Untrusted input: every image is sized with HeadObject before a byte of it is downloaded; an object over
``max_image_bytes`` is a failure and is never downloaded, and the rest count against ``max_bytes_in_flight``
(:class:`~batch_job.pipeline.ByteBudget`) from before their GetObject until they are decoded. The GetObject
names the ETag the HeadObject saw (``If-Match``), so an object replaced in between is a failure rather than an
unbounded read, and the body read stops at the size that was reserved. A manifest line that is not UTF-8
is a failure (no S3 key can be such a line); names and values quoted in messages have their control
characters escaped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from batch_job.engine import MAX_MODEL_BYTES
from batch_job.errors import EXIT_SYSTEMIC, EXIT_USAGE, JobError, SourceError, printable
from batch_job.local import image_id_of
from batch_job.pipeline import (
    MAX_BYTES_IN_FLIGHT,
    ByteBudget,
    Failure,
    Progress,
    ReadLimit,
    Reserve,
    Summary,
    embed_stream,
)

# An object bigger than this is refused without being downloaded (no real photo comes close): the default
# of --max-image-bytes.
MAX_OBJECT_BYTES = 64 * 1024 * 1024
# Default of --workers: the most S3 reads in flight; how many are, adapts to the latency (ReadLimit). 64 keeps
# two cores' decoders fed at 640x480 with S3's first-byte latency, see docs/image-embeddings.md.
MAX_S3_READS = 64
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_CHANGED_CODES = {"PreconditionFailed", "412"}
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html: 3-63 characters, lowercase
# letters, digits, dots and hyphens, beginning and ending with a letter or digit, no two adjacent dots.
_BUCKET = re.compile(r"[a-z0-9](?!.*\.\.)[a-z0-9.-]{1,61}[a-z0-9]")
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html:
# 3-255 characters of a-z A-Z 0-9 _ - . (or the table's ARN, which DynamoDB accepts as TableName).
_TABLE = re.compile(r"[a-zA-Z0-9_.-]{3,255}|arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[a-zA-Z0-9_.-]{3,255}")
# S3 object keys are at most 1,024 bytes of UTF-8.
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class RunConfig:
    bucket: str
    table: str
    manifest_key: str
    run_id: str
    chunk_size: int
    index: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RunConfig:
        """Validate the job's environment; every problem is one line naming the variable."""
        values: dict[str, str] = {}
        for name in ("IMAGES_BUCKET", "RESULTS_TABLE", "MANIFEST_KEY", "CHUNK_SIZE"):
            value = env.get(name, "").strip()
            if not value:
                raise JobError(f"environment variable {name} is required", EXIT_USAGE)
            values[name] = value
        bucket, table, key = values["IMAGES_BUCKET"], values["RESULTS_TABLE"], values["MANIFEST_KEY"]
        if not _BUCKET.fullmatch(bucket):
            raise JobError(
                f"IMAGES_BUCKET must be an S3 bucket name (3-63 of a-z 0-9 . -), got '{printable(bucket)}'",
                EXIT_USAGE,
            )
        if not _TABLE.fullmatch(table):
            raise JobError(
                f"RESULTS_TABLE must be a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .) or ARN, "
                f"got '{printable(table)}'",
                EXIT_USAGE,
            )
        chunk_size = _int_env("CHUNK_SIZE", values["CHUNK_SIZE"], minimum=1)
        index = _int_env("AWS_BATCH_JOB_ARRAY_INDEX", env.get("AWS_BATCH_JOB_ARRAY_INDEX", "0").strip() or "0")
        run_id = PurePosixPath(key).parent.name
        if not run_id or not key.isprintable() or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise JobError(
                "MANIFEST_KEY must be manifests/<run-id>/<file> (the run id is its folder; printable, at most "
                f"{MAX_KEY_BYTES} bytes), got '{printable(key)}'",
                EXIT_USAGE,
            )
        return cls(bucket, table, key, run_id, chunk_size, index)

    @property
    def failures_key(self) -> str:
        return f"failures/{self.run_id}/{self.index}.jsonl"


# Batch array indexes are < 10,000; a chunk of more than a billion keys is no chunk.
_MAX_INT_ENV = 10**9


def _int_env(name: str, raw: str, *, minimum: int = 0) -> int:
    value = int(raw) if re.fullmatch(r"[0-9]{1,10}", raw) else minimum - 1
    if not minimum <= value <= _MAX_INT_ENV:
        raise JobError(
            f"environment variable {name} must be an integer from {minimum} to {_MAX_INT_ENV}, "
            f"got '{printable(raw, 40)}'",
            EXIT_USAGE,
        )
    return value


def client_config(workers: int) -> Any:
    from botocore.config import Config

    # Standard retry mode retries throttling and 5xx errors with backoff; the pool fits every reader thread.
    return Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=max(10, workers + 4))


def _error_code(exc: Exception) -> tuple[str, str]:
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Code", type(exc).__name__)), str(error.get("Message", exc))


@dataclass(frozen=True)
class ManifestSlice:
    """This child's manifest lines: the keys to embed, and the lines that cannot be keys (as failures)."""

    keys: list[str]
    refused: list[Failure]

    def __len__(self) -> int:
        return len(self.keys) + len(self.refused)


def _line_problem(key: str, cut: bool) -> str | None:
    """Why a (decoded) manifest line cannot name an S3 object, or None."""
    if cut:
        return f"manifest line is longer than {MAX_KEY_BYTES} bytes, the limit of an S3 key"
    if any("\udc80" <= ch <= "\udcff" for ch in key):
        return "manifest line is not valid UTF-8, so it names no S3 object (S3 keys are UTF-8)"
    return None


def bounded_lines(body: Any, limit: int, *, chunk_size: int = 64 * 1024) -> Iterator[tuple[bytes, bool]]:
    """Lines of a streamed body (ending in ``\n``, ``\r\n`` or ``\r``), each as (its first ``limit`` bytes,
    whether it was longer). Memory stays about ``limit + chunk_size`` whatever the body holds: botocore's
    ``iter_lines`` would keep a line of gigabytes without a line break whole."""
    pending = b""
    cut = False
    for chunk in body.iter_chunks(chunk_size):
        lines = (pending + chunk).splitlines(keepends=True)
        # The last piece may continue in the next chunk (also a "\r" whose "\n" has not arrived yet).
        pending = lines.pop() if lines and (not lines[-1].endswith((b"\n", b"\r")) or lines[-1][-1:] == b"\r") else b""
        for line in lines:
            text = line.rstrip(b"\r\n")
            yield text[:limit], cut or len(text) > limit
            cut = False
        carriage_return = pending[-1:] == b"\r"
        if len(pending) - carriage_return > limit:  # keep the start of the line (and a "\r" that may end it)
            pending, cut = pending[: limit + 1] + b"\r" * carriage_return, True
    if pending:
        text = pending.rstrip(b"\r\n")
        yield text[:limit], cut or len(text) > limit


def read_manifest_slice(s3: Any, config: RunConfig) -> ManifestSlice:
    """This child's lines of the manifest, streamed (the whole manifest is never held in memory).

    A line that cannot be a key (not UTF-8, too long) is a failure whose id escapes its bytes as ``local``
    escapes file names; a slice in which no line is UTF-8 is not a manifest (one error).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"MANIFEST_KEY s3://{config.bucket}/{printable(config.manifest_key)}"
    start = config.index * config.chunk_size
    stop = start + config.chunk_size
    keys: list[str] = []
    refused: list[Failure] = []
    line_number = 0
    try:
        body = s3.get_object(Bucket=config.bucket, Key=config.manifest_key)["Body"]
        for raw, cut in bounded_lines(body, MAX_KEY_BYTES):
            key = raw.decode("utf-8", "surrogateescape")
            if not key and not cut:
                continue  # only empty lines are skipped: " " and "\x1f" are S3 keys like any other
            if start <= line_number < stop:
                problem = _line_problem(key, cut)
                if problem is None:
                    keys.append(key)
                else:
                    refused.append(Failure(image_id_of(key), problem))
            line_number += 1
            if line_number >= stop:
                break
        body.close()
    except ClientError as exc:
        code, message = _error_code(exc)
        what = "not found" if code in _MISSING_CODES | {"NoSuchBucket"} else f"cannot be read ({code}: {message})"
        raise JobError(f"{where}: {what}", EXIT_SYSTEMIC) from exc
    except BotoCoreError as exc:
        raise JobError(f"{where}: cannot be read ({exc})", EXIT_SYSTEMIC) from exc
    if refused and not keys and all("UTF-8" in f.error for f in refused):
        raise JobError(f"{where}: not UTF-8 text (expected one image key per line)", EXIT_SYSTEMIC)
    if not keys and not refused:
        raise JobError(
            f"{where}: has {line_number} keys, so AWS_BATCH_JOB_ARRAY_INDEX={config.index} with "
            f"CHUNK_SIZE={config.chunk_size} (first line {start}) has nothing to embed",
            EXIT_USAGE,
        )
    return ManifestSlice(keys, refused)


def s3_reader(s3: Any, bucket: str, *, max_bytes: int = MAX_OBJECT_BYTES) -> Any:
    """A reader for the pipeline: (object key, reserve) -> bytes, errors as :class:`SourceError`.

    HeadObject first: an object over ``max_bytes`` is refused before any of it is downloaded; otherwise its
    size is reserved, then GetObject (``If-Match`` the ETag just seen) reads at most that many bytes.
    HeadObject needs only ``s3:GetObject``, the permission the job already has
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html); ``If-Match`` makes S3 answer 412
    PreconditionFailed when the object changed (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    def read(key: str, reserve: Reserve) -> bytes:
        where = f"s3://{bucket}/{key}"
        action = "HeadObject"
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
            size = int(head.get("ContentLength", 0))
            if size > max_bytes:
                raise SourceError(
                    f"object is {size} bytes, over the {max_bytes}-byte limit (--max-image-bytes); not downloaded",
                    infrastructure=False,
                )
            reserve(size)
            if size == 0:
                return b""
            action = "GetObject"
            etag = head.get("ETag")
            response = s3.get_object(Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {}))
            body = response["Body"]
            try:
                data = bytes(body.read(size + 1))
            finally:
                body.close()
            if len(data) != size:
                raise SourceError(
                    f"{where}: object changed while it was read ({len(data)} bytes, HeadObject said {size})",
                    infrastructure=False,
                )
            return data
        except ClientError as exc:
            code, message = _error_code(exc)
            if code in _MISSING_CODES:
                raise SourceError(f"{where}: object not found", infrastructure=False) from None
            if code in _CHANGED_CODES:
                raise SourceError(
                    f"{where}: object was replaced between HeadObject and GetObject; not read", infrastructure=False
                ) from None
            raise SourceError(f"{where}: S3 {action} failed: {code}: {message}", infrastructure=True) from None
        except BotoCoreError as exc:
            raise SourceError(f"{where}: S3 {action} failed: {exc}", infrastructure=True) from None

    return read


def parse_s3_uri(value: str) -> tuple[str, str]:
    """``s3://<bucket>/<key>`` -> (bucket, key); one JobError naming EMBEDDING_MODEL otherwise."""
    bucket, _, key = value.removeprefix("s3://").partition("/")
    if (
        not value.startswith("s3://")
        or not _BUCKET.fullmatch(bucket)
        or not key
        or key.endswith("/")
        or not key.isprintable()
        or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES
    ):
        raise JobError(
            f"EMBEDDING_MODEL must be a file path or s3://<bucket>/<key of an .onnx file>, got '{printable(value)}'",
            EXIT_USAGE,
        )
    return bucket, key


def fetch_model(s3: Any, uri: str, folder: Path, *, max_bytes: int = MAX_MODEL_BYTES) -> Path:
    """Download the model at ``uri`` into ``folder`` (streamed); returns its local path."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    where = f"EMBEDDING_MODEL {printable(uri)}"
    # The key's last segment names the file, unless it is "." or ".." (which would leave the folder).
    name = PurePosixPath(key).name
    target = folder / (name if name not in ("", ".", "..") else "model.onnx")
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        size = int(response.get("ContentLength", 0))
        if size > max_bytes:
            response["Body"].close()
            raise JobError(f"{where}: object is {size} bytes, over the {max_bytes}-byte limit for a model", EXIT_USAGE)
        with target.open("wb") as out:
            shutil.copyfileobj(response["Body"], out, length=1024 * 1024)
    except ClientError as exc:
        code, message = _error_code(exc)
        if code in _MISSING_CODES | {"NoSuchBucket"}:
            raise JobError(f"{where}: not found", EXIT_USAGE) from exc
        raise JobError(f"{where}: cannot be read ({code}: {message})", EXIT_SYSTEMIC) from exc
    except BotoCoreError as exc:
        raise JobError(f"{where}: cannot be read ({exc})", EXIT_SYSTEMIC) from exc
    return target


def check_table(dynamodb: Any, table: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        dynamodb.describe_table(TableName=table)
    except ClientError as exc:
        code, message = _error_code(exc)
        what = "table not found" if code == "ResourceNotFoundException" else f"cannot be described ({code}: {message})"
        raise JobError(f"RESULTS_TABLE '{table}': {what}", EXIT_SYSTEMIC) from exc
    except BotoCoreError as exc:
        raise JobError(f"RESULTS_TABLE '{table}': cannot be reached ({printable(str(exc))})", EXIT_SYSTEMIC) from exc


def upload_failures(s3: Any, config: RunConfig, failures: list[Failure]) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    # An empty object when nothing failed: it replaces what an earlier attempt of this child recorded.
    lines = (json.dumps(f.record(), ensure_ascii=False) + "\n" for f in failures)
    body = "".join(lines).encode("utf-8", "backslashreplace")
    where = f"s3://{config.bucket}/{config.failures_key}"
    try:
        s3.put_object(Bucket=config.bucket, Key=config.failures_key, Body=body, ContentType="application/x-ndjson")
    except (ClientError, BotoCoreError) as exc:
        # Failure records that cannot be stored would be lost: that fails the job, whatever was embedded.
        raise JobError(
            f"cannot write {len(failures)} failure records to {where} ({printable(str(exc))})", EXIT_SYSTEMIC
        ) from exc


def check_endpoints(environ: Mapping[str, str]) -> None:
    """AWS_ENDPOINT_URL (and its S3/DynamoDB forms) must be an http(s) URL with a host: one line otherwise,
    where botocore would raise a ValueError from client creation or fail on the first request."""
    from urllib.parse import urlsplit

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"):
        value = environ.get(name, "")
        if not value:
            continue
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and value.isprintable()
            valid = valid and " " not in value and (parts.port is None or parts.port > 0)
        except ValueError:
            valid = False
        if not valid:
            raise JobError(
                f"environment variable {name} must be an http:// or https:// URL with a host, got '{printable(value)}'",
                EXIT_USAGE,
            )


def make_clients(workers: int) -> tuple[Any, Any]:
    """(S3, DynamoDB) clients; a configuration boto3 refuses (no region, bad endpoint) is one JobError."""
    import boto3
    from botocore.exceptions import BotoCoreError

    check_endpoints(os.environ)
    try:
        return boto3.client("s3", config=client_config(workers)), boto3.client("dynamodb", config=client_config(1))
    except (BotoCoreError, ValueError) as exc:
        raise JobError(f"cannot create the AWS clients: {printable(str(exc))}", EXIT_USAGE) from exc


def run(
    env: Mapping[str, str] | None = None,
    *,
    model: Any = None,
    batch_size: int = 32,
    workers: int | None = None,
    dynamodb: Any = None,
    s3: Any = None,
    progress_every: int = 200,
    max_image_bytes: int = MAX_OBJECT_BYTES,
    max_bytes_in_flight: int = MAX_BYTES_IN_FLIGHT,
    budget: ByteBudget | None = None,
    reads: ReadLimit | None = None,
) -> tuple[Summary, list[Failure]]:
    """Embed this array child's slice of the manifest into the results table.

    ``model`` is an :class:`~batch_job.engine.Embedder` (default: load ``EMBEDDING_MODEL``, downloading it
    first when it is an ``s3://`` URI); ``dynamodb`` and ``s3`` replace the clients (tests wrap them to
    simulate throttling or to see which requests were made). Objects over ``max_image_bytes`` are failures, never downloaded; at most
    ``max_bytes_in_flight`` image bytes are downloaded and not yet decoded at once (``budget`` replaces
    that budget; tests read its ``peak``); ``reads`` replaces the adaptive limit of reads in flight (its
    ceiling is ``workers``).
    """
    if max_image_bytes < 1 or max_bytes_in_flight < max_image_bytes:
        raise JobError(
            f"--max-bytes-in-flight ({max_bytes_in_flight}) must be at least --max-image-bytes "
            f"({max_image_bytes}), which must be at least 1 (an image as large as the limit must fit)",
            EXIT_USAGE,
        )
    environment = os.environ if env is None else env
    budget = budget or ByteBudget(max_bytes_in_flight)
    with tempfile.TemporaryDirectory(prefix="batch-job-model-") as model_folder:
        return _run(
            environment,
            model,
            Path(model_folder),
            batch_size,
            workers,
            dynamodb,
            s3,
            progress_every,
            max_image_bytes,
            budget,
            reads,
        )


def _run(
    env: Mapping[str, str],
    model: Any,
    model_folder: Path,
    batch_size: int,
    workers: int | None,
    dynamodb: Any,
    s3: Any,
    progress_every: int,
    max_image_bytes: int,
    budget: ByteBudget,
    reads: ReadLimit | None,
) -> tuple[Summary, list[Failure]]:
    from batch_job.engine import Embedder, default_model_path
    from batch_job.sinks import DynamoDBSink

    config = RunConfig.from_env(env)
    # S3 reads mostly wait on the network: up to `workers` in flight, as many as the latency needs to feed
    # the decoders (ReadLimit); decoding is capped separately at one thread per CPU, bytes by the budget.
    workers = workers or MAX_S3_READS
    default_s3, default_dynamodb = make_clients(workers)
    s3 = s3 or default_s3
    setting = env.get("EMBEDDING_MODEL", "").strip()
    model_object = parse_s3_uri(setting) if setting.startswith("s3:") else None
    if model_object == (config.bucket, config.failures_key):
        raise JobError(
            f"s3://{config.bucket}/{config.failures_key}: this child's failures object is also EMBEDDING_MODEL; "
            "it would be overwritten",
            EXIT_USAGE,
        )
    if model is None:
        local = fetch_model(s3, setting, model_folder) if model_object else default_model_path(env)
        model = Embedder(local)
    embedder = model
    dynamodb = dynamodb or default_dynamodb
    check_table(dynamodb, config.table)
    manifest = read_manifest_slice(s3, config)
    keys = manifest.keys
    if config.failures_key in keys or config.failures_key == config.manifest_key:
        raise JobError(
            f"s3://{config.bucket}/{config.failures_key}: this child's failures object is also an input "
            "(manifest or listed image); it would be overwritten",
            EXIT_USAGE,
        )
    print(
        f"run {printable(config.run_id)} child {config.index}: {len(manifest)} images from s3://{config.bucket}/, "
        f"model {printable(embedder.name)} on {'/'.join(embedder.providers)} ({embedder.threads} threads)",
        file=sys.stderr,
        flush=True,
    )
    sink = DynamoDBSink(dynamodb, config.table, embedder.name)
    summary, failures = embed_stream(
        keys,
        s3_reader(s3, config.bucket, max_bytes=max_image_bytes),
        embedder,
        sink,
        batch_size=batch_size,
        workers=workers,
        progress=Progress(len(keys), every=progress_every),
        budget=budget,
        reads=reads,
    )
    failures = manifest.refused + failures
    summary = Summary(len(manifest), summary.embedded, len(failures), summary.seconds)
    upload_failures(s3, config, failures)
    if summary.embedded == 0 and any(f.infrastructure for f in failures):
        print(summary.line(), flush=True)  # the counts still reach the dashboard, which parses this line
        first = next(f for f in failures if f.infrastructure)
        raise JobError(
            f"{summary.line()}; no image could be embedded and the cause is not the images "
            f"(first: {printable(first.image_id)}: {printable(first.error)}); failures in "
            f"s3://{config.bucket}/{config.failures_key}",
            EXIT_SYSTEMIC,
        )
    return summary, failures

"""``python -m batch_job run``: one AWS Batch array child — its slice of the manifest, S3 -> DynamoDB.

Environment (interface): ``IMAGES_BUCKET``, ``RESULTS_TABLE``, ``MANIFEST_KEY``
(``manifests/<run-id>/...``, one image key per line), ``CHUNK_SIZE``, ``AWS_BATCH_JOB_ARRAY_INDEX``
(absent: 0), ``EMBEDDING_MODEL`` (a file path in the image, or ``s3://<bucket>/<key>``: downloaded once
when the job starts, e.g. an int8 model made by ``quantize``). Child ``i`` embeds the manifest's non-empty lines
``[i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)``. Failures go to ``failures/<run-id>/<i>.jsonl`` in the bucket.
boto3 honours ``AWS_ENDPOINT_URL`` for every client.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from batch_job.errors import EXIT_SYSTEMIC, EXIT_USAGE, JobError, SourceError
from batch_job.pipeline import Failure, Progress, Summary, embed_stream

# An object bigger than this is refused without being downloaded (no real photo comes close).
MAX_OBJECT_BYTES = 64 * 1024 * 1024
# A model object bigger than this is refused without being downloaded (ResNet-18 is 45 MB in fp32).
MAX_MODEL_BYTES = 1024 * 1024 * 1024
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


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
        chunk_size = _int_env("CHUNK_SIZE", values["CHUNK_SIZE"], minimum=1)
        index = _int_env("AWS_BATCH_JOB_ARRAY_INDEX", env.get("AWS_BATCH_JOB_ARRAY_INDEX", "0").strip() or "0")
        key = values["MANIFEST_KEY"]
        run_id = PurePosixPath(key).parent.name
        if not run_id:
            raise JobError(
                f"MANIFEST_KEY must be manifests/<run-id>/<file> (the run id is its folder), got {key!r}",
                EXIT_USAGE,
            )
        return cls(values["IMAGES_BUCKET"], values["RESULTS_TABLE"], key, run_id, chunk_size, index)

    @property
    def failures_key(self) -> str:
        return f"failures/{self.run_id}/{self.index}.jsonl"


def _int_env(name: str, raw: str, *, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise JobError(f"environment variable {name} must be an integer >= {minimum}, got {raw!r}", EXIT_USAGE)
    return value


def client_config(workers: int) -> Any:
    from botocore.config import Config

    # Standard retry mode retries throttling and 5xx errors with backoff; the pool fits every reader thread.
    return Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=max(10, workers + 4))


def _error_code(exc: Exception) -> tuple[str, str]:
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Code", type(exc).__name__)), str(error.get("Message", exc))


def read_manifest_slice(s3: Any, config: RunConfig) -> list[str]:
    """This child's lines of the manifest, streamed (the whole manifest is never held in memory)."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"MANIFEST_KEY s3://{config.bucket}/{config.manifest_key}"
    start = config.index * config.chunk_size
    stop = start + config.chunk_size
    keys: list[str] = []
    line_number = 0
    try:
        body = s3.get_object(Bucket=config.bucket, Key=config.manifest_key)["Body"]
        for raw in body.iter_lines():
            key = raw.decode("utf-8").strip("\r\n")
            if not key.strip():
                continue
            if start <= line_number < stop:
                keys.append(key)
            line_number += 1
            if line_number >= stop:
                break
        body.close()
    except ClientError as exc:
        code, message = _error_code(exc)
        what = "not found" if code in _MISSING_CODES | {"NoSuchBucket"} else f"cannot be read ({code}: {message})"
        raise JobError(f"{where}: {what}", EXIT_SYSTEMIC) from exc
    except UnicodeDecodeError as exc:
        raise JobError(f"{where}: not UTF-8 text (expected one image key per line)", EXIT_SYSTEMIC) from exc
    except BotoCoreError as exc:
        raise JobError(f"{where}: cannot be read ({exc})", EXIT_SYSTEMIC) from exc
    if not keys:
        raise JobError(
            f"{where}: has {line_number} keys, so AWS_BATCH_JOB_ARRAY_INDEX={config.index} with "
            f"CHUNK_SIZE={config.chunk_size} (first line {start}) has nothing to embed",
            EXIT_USAGE,
        )
    return keys


def s3_reader(s3: Any, bucket: str) -> Any:
    """A reader for the pipeline: object key -> bytes, errors as :class:`SourceError`."""
    from botocore.exceptions import BotoCoreError, ClientError

    def read(key: str) -> bytes:
        try:
            response = s3.get_object(Bucket=bucket, Key=key)
            size = int(response.get("ContentLength", 0))
            if size > MAX_OBJECT_BYTES:
                response["Body"].close()
                raise SourceError(
                    f"object is {size} bytes, over the {MAX_OBJECT_BYTES}-byte limit", infrastructure=False
                )
            return bytes(response["Body"].read())
        except ClientError as exc:
            code, message = _error_code(exc)
            if code in _MISSING_CODES:
                raise SourceError(f"s3://{bucket}/{key}: object not found", infrastructure=False) from None
            raise SourceError(
                f"s3://{bucket}/{key}: S3 GetObject failed: {code}: {message}", infrastructure=True
            ) from None
        except BotoCoreError as exc:
            raise SourceError(f"s3://{bucket}/{key}: S3 GetObject failed: {exc}", infrastructure=True) from None

    return read


def parse_s3_uri(value: str) -> tuple[str, str]:
    """``s3://<bucket>/<key>`` -> (bucket, key); one JobError naming EMBEDDING_MODEL otherwise."""
    bucket, _, key = value.removeprefix("s3://").partition("/")
    if not value.startswith("s3://") or not bucket or not key or key.endswith("/"):
        raise JobError(
            f"EMBEDDING_MODEL must be a file path or s3://<bucket>/<key of an .onnx file>, got {value!r}", EXIT_USAGE
        )
    return bucket, key


def fetch_model(s3: Any, uri: str, folder: Path, *, max_bytes: int = MAX_MODEL_BYTES) -> Path:
    """Download the model at ``uri`` into ``folder`` (streamed); returns its local path."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    where = f"EMBEDDING_MODEL {uri}"
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
        raise JobError(f"RESULTS_TABLE {table!r}: {what}", EXIT_SYSTEMIC) from exc
    except BotoCoreError as exc:
        raise JobError(f"RESULTS_TABLE {table!r}: cannot be reached ({exc})", EXIT_SYSTEMIC) from exc


def upload_failures(s3: Any, config: RunConfig, failures: list[Failure]) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    body = "".join(json.dumps(f.record(), ensure_ascii=False) + "\n" for f in failures).encode("utf-8")
    where = f"s3://{config.bucket}/{config.failures_key}"
    try:
        s3.put_object(Bucket=config.bucket, Key=config.failures_key, Body=body, ContentType="application/x-ndjson")
    except (ClientError, BotoCoreError) as exc:
        # Failure records that cannot be stored would be lost: that fails the job, whatever was embedded.
        raise JobError(f"cannot write {len(failures)} failure records to {where} ({exc})", EXIT_SYSTEMIC) from exc


def run(
    env: Mapping[str, str] | None = None,
    *,
    model: Any = None,
    batch_size: int = 32,
    workers: int | None = None,
    dynamodb: Any = None,
    progress_every: int = 200,
) -> tuple[Summary, list[Failure]]:
    """Embed this array child's slice of the manifest into the results table.

    ``model`` is an :class:`~batch_job.engine.Embedder` (default: load ``EMBEDDING_MODEL``, downloading it
    first when it is an ``s3://`` URI); ``dynamodb`` replaces the DynamoDB client (tests wrap it to simulate
    throttling).
    """
    environment = os.environ if env is None else env
    with tempfile.TemporaryDirectory(prefix="batch-job-model-") as model_folder:
        return _run(environment, model, Path(model_folder), batch_size, workers, dynamodb, progress_every)


def _run(
    env: Mapping[str, str],
    model: Any,
    model_folder: Path,
    batch_size: int,
    workers: int | None,
    dynamodb: Any,
    progress_every: int,
) -> tuple[Summary, list[Failure]]:
    import boto3

    from batch_job.engine import Embedder, default_model_path, usable_cpus
    from batch_job.sinks import DynamoDBSink

    config = RunConfig.from_env(env)
    # S3 reads mostly wait on the network: keep enough in flight to feed inference (decoding is capped
    # separately at one thread per CPU).
    workers = workers or max(8, 4 * usable_cpus())
    s3 = boto3.client("s3", config=client_config(workers))
    if model is None:
        setting = env.get("EMBEDDING_MODEL", "").strip()
        local = fetch_model(s3, setting, model_folder) if setting.startswith("s3:") else default_model_path(env)
        model = Embedder(local)
    embedder = model
    dynamodb = dynamodb or boto3.client("dynamodb", config=client_config(1))
    check_table(dynamodb, config.table)
    keys = read_manifest_slice(s3, config)
    if config.failures_key in keys or config.failures_key == config.manifest_key:
        raise JobError(
            f"s3://{config.bucket}/{config.failures_key}: this child's failures object is also an input "
            "(manifest or listed image); it would be overwritten",
            EXIT_USAGE,
        )
    print(
        f"run {config.run_id} child {config.index}: {len(keys)} images from s3://{config.bucket}/, "
        f"model {embedder.name} on {'/'.join(embedder.providers)} ({embedder.threads} threads)",
        file=sys.stderr,
        flush=True,
    )
    sink = DynamoDBSink(dynamodb, config.table, embedder.name)
    summary, failures = embed_stream(
        keys,
        s3_reader(s3, config.bucket),
        embedder,
        sink,
        batch_size=batch_size,
        workers=workers,
        progress=Progress(len(keys), every=progress_every),
    )
    if failures:
        upload_failures(s3, config, failures)
    if summary.embedded == 0 and any(f.infrastructure for f in failures):
        print(summary.line(), flush=True)  # the counts still reach the dashboard, which parses this line
        first = next(f for f in failures if f.infrastructure)
        raise JobError(
            f"{summary.line()}; no image could be embedded and the cause is not the images "
            f"(first: {first.image_id}: {first.error}); failures in s3://{config.bucket}/{config.failures_key}",
            EXIT_SYSTEMIC,
        )
    return summary, failures

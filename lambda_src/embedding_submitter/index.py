"""Embedding submitter: lists the images under some S3 prefixes and submits AWS Batch array jobs.

Event (ARCHITECTURE.md section 3): ``{"Paths": ["images", ...], "BatchSize": 1000}``. ``Paths`` are
literal key prefixes in ``IMAGES_BUCKET`` (``"images"`` also matches ``"images-2024/..."``; end the prefix
with ``/`` to mean one folder). ``BatchSize`` (default 1000, 1..10,000) is the number of images per array
child.

What a run does:

1. validates the event, lists every image key under every prefix (paginated ListObjectsV2; extensions
   ``.jpg .jpeg .png .bmp .gif .webp .tif .tiff`` in any case) and de-duplicates them (prefixes may
   overlap). A bad event or a prefix with no images raises :class:`InvalidEventError` before anything
   is written or submitted.
2. writes the manifests of the run under ``manifests/<run-id>/`` (``<run-id>`` = UTC time + a random
   UUID, and every manifest is written with ``If-None-Match: *``, so neither two prefixes nor two
   concurrent runs can overwrite each other's manifests). One manifest per array job: a run that needs
   at most 10,000 children (10 million images at the default batch size) has one manifest,
   ``manifests/<run-id>/manifest.txt``; a bigger run is split into parts of at most
   ``10,000 * BatchSize`` keys, ``manifests/<run-id>/<run-id>-part-0000/manifest.txt``, ... (the job takes
   the manifest's folder name as its run id for ``failures/<run-id>/<index>.jsonl``, so every part gets
   its own folder name and the failures of a run all start with ``failures/<run-id>``).
   A manifest is UTF-8 text, one key per line (``\\n``), sorted.
3. submits one array job per manifest (children = ceil(keys / BatchSize); ``arrayProperties`` is left
   out when a manifest needs a single child, because Batch array sizes are 2..10,000). Each job gets the
   environment overrides ``MANIFEST_KEY``, ``CHUNK_SIZE`` (= BatchSize) and ``RUN_ID`` (the manifest's
   folder name: ``<run-id>`` or ``<run-id>-part-0001``), so child ``i`` embeds lines
   ``[i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)`` of its own manifest.
   Throttling (``TooManyRequestsException``, ``ThrottlingException``, HTTP 429, ...) is retried with
   exponential backoff and full jitter, on top of botocore's adaptive retry mode.

4. emits one CloudWatch embedded-metric-format record through Powertools ``Metrics`` (namespace
   ``METRICS_NAMESPACE``, else ``POWERTOOLS_METRICS_NAMESPACE``, default ``DevOpsBlueprints/Embedding``;
   dimension ``JobQueue`` only; property ``RunId``): ``JobsSubmitted``, ``ChildJobsSubmitted``,
   ``ImagesSubmitted``, ``SkippedKeys``, all of unit ``Count``.

Logs are structured JSON (Powertools ``Logger``, service ``embedding-submitter``, with the Lambda context
keys): ``run submitted``, ``throttled; retrying`` and ``skipping keys with line breaks``.

Environment: ``IMAGES_BUCKET``, ``JOB_QUEUE``, ``JOB_DEFINITION`` (interface); optional
``IMAGES_PREFIX`` (every path must start with it: the job may read only that prefix) and
``METRICS_NAMESPACE``.

Returns ``{"RunId", "JobIds", "ImageCount", "JobCount", "ManifestKeys", "ArraySizes", "SkippedKeys"}``.
Keys that cannot be written as one manifest line (they contain a line break) are not submitted; they are
returned in ``SkippedKeys`` and logged, never silently dropped.
"""

from __future__ import annotations

import math
import os
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import ClientError

logger = Logger(service="embedding-submitter")
# The metrics' only dimension is JobQueue (the construct's dashboard and metric_*() methods query exactly that):
# an explicit empty service keeps Powertools from adding its default "service" dimension, which it takes from
# POWERTOOLS_SERVICE_NAME otherwise (https://docs.aws.amazon.com/powertools/python/latest/core/metrics/ ,
# "service: Optionally, sets service metric dimension across all metrics").
metrics = Metrics(service="")

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 10_000
MAX_ARRAY_SIZE = 10_000  # AWS Batch: an array job has 2..10,000 children
MANIFEST_PREFIX = "manifests/"
# Every path costs at least one ListObjectsV2 call: a bound keeps a hostile event from running the function to
# its timeout. A prefix longer than the longest S3 key (1,024 bytes of UTF-8,
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html) can match nothing.
MAX_PATHS = 1000
MAX_KEY_BYTES = 1024
DEFAULT_METRICS_NAMESPACE = "DevOpsBlueprints/Embedding"
THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
_BOTO_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, user_agent_extra="embedding-submitter")

T = TypeVar("T")


class InvalidEventError(ValueError):
    """The event cannot be submitted; the message names the field, the value and what is allowed."""


class ManifestExistsError(RuntimeError):
    """A manifest key already exists (a run id collision); nothing of this run was submitted."""


class SubmissionError(RuntimeError):
    """Batch refused a SubmitJob (after throttling retries); names the run, the part and what was submitted."""


@dataclass(frozen=True)
class SubmitRequest:
    """A validated event."""

    paths: tuple[str, ...]
    batch_size: int


@dataclass(frozen=True)
class Part:
    """One manifest and the array job that embeds it."""

    manifest_key: str
    run_id: str
    keys: tuple[str, ...]
    batch_size: int

    @property
    def array_size(self) -> int:
        """Children of the array job (1 means a plain job without ``arrayProperties``)."""
        return math.ceil(len(self.keys) / self.batch_size)


# --------------------------------------------------------------------------------------------- event


def _show(value: object) -> str:
    """``value`` for a message: at most 80 characters (an event may hold megabytes), never raising."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_event(event: Any, *, images_prefix: str = "") -> SubmitRequest:
    """Validate the event; raise :class:`InvalidEventError` naming the field on anything unexpected.

    ``images_prefix``: every path must start with it (the job role can read only that prefix).
    """
    if not isinstance(event, dict):
        raise InvalidEventError(
            f'event must be an object like {{"Paths": ["images"], "BatchSize": 1000}}, got {type(event).__name__}'
        )
    if "Paths" not in event:
        raise InvalidEventError('Paths is required: a non-empty list of key prefixes, e.g. {"Paths": ["images"]}')
    paths = event["Paths"]
    if not isinstance(paths, list) or not paths:
        raise InvalidEventError(f"Paths must be a non-empty list of key prefixes, got {_show(paths)}")
    if len(paths) > MAX_PATHS:
        raise InvalidEventError(f"Paths must hold at most {MAX_PATHS} prefixes, got {len(paths)}")
    for index, path in enumerate(paths):
        if not isinstance(path, str) or not path.strip():
            raise InvalidEventError(f"Paths[{index}] must be a non-empty string key prefix, got {_show(path)}")
        try:
            size = len(path.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the event's JSON) is no S3 key
            raise InvalidEventError(f"Paths[{index}] must be valid Unicode text, got {_show(path)}") from None
        if size > MAX_KEY_BYTES:
            raise InvalidEventError(
                f"Paths[{index}] must be at most {MAX_KEY_BYTES} bytes (the longest S3 key), got {size} bytes"
            )
        if path.startswith(MANIFEST_PREFIX):
            raise InvalidEventError(
                f"Paths[{index}] must not be under {MANIFEST_PREFIX!r} (the submitter's own manifests), got {path!r}"
            )
        if not path.startswith(images_prefix):
            raise InvalidEventError(
                f"Paths[{index}] must start with {images_prefix!r} (IMAGES_PREFIX, the prefix the job "
                f"may read), got {path!r}"
            )
    batch_size = event.get("BatchSize", DEFAULT_BATCH_SIZE)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise InvalidEventError(f"BatchSize must be an integer from 1 to {MAX_BATCH_SIZE}, got {_show(batch_size)}")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidEventError(f"BatchSize must be from 1 to {MAX_BATCH_SIZE}, got {_show(batch_size)}")
    unique_paths = tuple(dict.fromkeys(paths))
    return SubmitRequest(paths=unique_paths, batch_size=batch_size)


# ------------------------------------------------------------------------------------------- listing


def is_image_key(key: str) -> bool:
    """True for keys with an image extension (any case), excluding folder markers."""
    if key.endswith("/"):
        return False
    dot = key.rfind(".")
    return dot > key.rfind("/") and key[dot:].lower() in IMAGE_EXTENSIONS


def is_manifest_safe(key: str) -> bool:
    """True when the key is exactly one manifest line (no ``\\n``, ``\\r`` or other line breaks)."""
    return key.splitlines() == [key]


def list_image_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Every image key under ``prefix`` (all pages of ListObjectsV2)."""
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", ()) if is_image_key(item["Key"]))
    return keys


def collect_keys(s3: Any, bucket: str, paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """Sorted unique image keys under all prefixes, and the keys that cannot be manifest lines.

    Raises :class:`InvalidEventError` when a prefix holds no images.
    """
    found: set[str] = set()
    for index, prefix in enumerate(paths):
        keys = list_image_keys(s3, bucket, prefix)
        if not keys:
            extensions = " ".join(sorted(IMAGE_EXTENSIONS))
            raise InvalidEventError(
                f"Paths[{index}] {prefix!r} has no images in bucket {bucket!r} (looked for {extensions}, any case)"
            )
        found.update(keys)
    ordered = sorted(found)
    skipped = [key for key in ordered if not is_manifest_safe(key)]
    if skipped:
        logger.warning(
            "skipping keys with line breaks (cannot be manifest lines)",
            extra={"skipped_count": len(skipped), "skipped_keys": skipped},
        )
        ordered = [key for key in ordered if is_manifest_safe(key)]
    return ordered, skipped


# ---------------------------------------------------------------------------------------------- plan


def new_run_id(now: datetime | None = None) -> str:
    """A run id unique across concurrent runs: UTC time (sortable) + a random UUID."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex}"


def plan_parts(keys: Sequence[str], batch_size: int, run_id: str) -> list[Part]:
    """Split the keys into manifests of at most ``MAX_ARRAY_SIZE * batch_size`` keys (one array job each)."""
    per_part = MAX_ARRAY_SIZE * batch_size
    chunks = [tuple(keys[start : start + per_part]) for start in range(0, len(keys), per_part)]
    if len(chunks) == 1:
        return [Part(f"{MANIFEST_PREFIX}{run_id}/manifest.txt", run_id, chunks[0], batch_size)]
    return [
        Part(
            f"{MANIFEST_PREFIX}{run_id}/{run_id}-part-{n:04d}/manifest.txt",
            f"{run_id}-part-{n:04d}",
            chunk,
            batch_size,
        )
        for n, chunk in enumerate(chunks)
    ]


# ------------------------------------------------------------------------------------------- retries


def is_throttling(error: ClientError) -> bool:
    """True for the throttling errors of S3, Batch and the rest of AWS (codes and HTTP 429)."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in THROTTLING_CODES or status == 429


def call_with_backoff(
    call: Callable[[], T],
    *,
    what: str,
    max_attempts: int = 8,
    base_delay: float = 0.2,
    max_delay: float = 20.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run ``call``; on throttling retry with exponential backoff and full jitter, up to ``max_attempts``."""
    jitter = rng or random.Random()  # noqa: S311  # nosec B311  # jitter, not cryptography
    for attempt in range(1, max_attempts + 1):
        try:
            return call()
        except ClientError as error:
            if not is_throttling(error) or attempt == max_attempts:
                raise
            delay = jitter.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1)))
            logger.info(
                "throttled; retrying",
                extra={
                    "operation": what,
                    "attempt": attempt,
                    "max_attempts": max_attempts,
                    "delay_seconds": round(delay, 2),
                },
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------------------- side effects


def write_manifest(s3: Any, bucket: str, part: Part, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Write one manifest; refuses to overwrite an existing object (``If-None-Match: *``)."""
    body = ("\n".join(part.keys) + "\n").encode("utf-8")
    try:
        call_with_backoff(
            lambda: s3.put_object(
                Bucket=bucket,
                Key=part.manifest_key,
                Body=body,
                ContentType="text/plain; charset=utf-8",
                IfNoneMatch="*",
            ),
            what=f"PutObject {part.manifest_key}",
            sleep=sleep,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412"}:
            raise ManifestExistsError(f"manifest s3://{bucket}/{part.manifest_key} already exists") from error
        raise


def submit_part(
    batch: Any,
    part: Part,
    *,
    job_queue: str,
    job_definition: str,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Submit the array job of one manifest; returns its job id."""
    request: dict[str, Any] = {
        "jobName": f"embedding-{part.run_id}",
        "jobQueue": job_queue,
        "jobDefinition": job_definition,
        "containerOverrides": {
            "environment": [
                {"name": "MANIFEST_KEY", "value": part.manifest_key},
                {"name": "CHUNK_SIZE", "value": str(part.batch_size)},
                {"name": "RUN_ID", "value": part.run_id},
            ]
        },
    }
    if part.array_size > 1:
        request["arrayProperties"] = {"size": part.array_size}
    response = call_with_backoff(lambda: batch.submit_job(**request), what=f"SubmitJob {part.run_id}", sleep=sleep)
    return str(response["jobId"])


def submit_run(
    s3: Any,
    batch: Any,
    event: Any,
    *,
    bucket: str,
    job_queue: str,
    job_definition: str,
    images_prefix: str = "",
    run_id: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Validate, list, write the manifests and submit the array jobs of one run (see the module docstring)."""
    request = parse_event(event, images_prefix=images_prefix)
    keys, skipped = collect_keys(s3, bucket, request.paths)
    if not keys:
        raise InvalidEventError(f"Paths {list(request.paths)!r} hold no image key that fits on a manifest line")
    run = run_id or new_run_id()
    parts = plan_parts(keys, request.batch_size, run)
    for part in parts:
        write_manifest(s3, bucket, part, sleep=sleep)
    job_ids: list[str] = []
    for part in parts:
        try:
            job_ids.append(submit_part(batch, part, job_queue=job_queue, job_definition=job_definition, sleep=sleep))
        except ClientError as error:
            detail = error.response.get("Error", {})
            raise SubmissionError(
                f"run {run}: SubmitJob for {part.manifest_key} failed ({detail.get('Code')}: "
                f"{detail.get('Message')}); submitted before it: {job_ids or 'none'}; "
                f"manifests stay under {MANIFEST_PREFIX}{run}/"
            ) from error
    result: dict[str, Any] = {
        "RunId": run,
        "JobIds": job_ids,
        "ImageCount": len(keys),
        "JobCount": len(job_ids),
        "ManifestKeys": [part.manifest_key for part in parts],
        "ArraySizes": [part.array_size for part in parts],
        "SkippedKeys": skipped,
    }
    children = sum(part.array_size for part in parts)
    logger.info(
        "run submitted",
        extra={"run_id": run, "image_count": len(keys), "job_count": len(job_ids), "child_jobs": children},
    )
    return result


def add_run_metrics(metrics: Metrics, result: dict[str, Any], *, namespace: str, job_queue: str) -> None:
    """Add the metrics of a submitted run to ``metrics`` (published when the handler returns)."""
    metrics.namespace = namespace
    metrics.add_dimension(name="JobQueue", value=job_queue)
    metrics.add_metadata(key="RunId", value=result["RunId"])
    for name, value in (
        ("JobsSubmitted", result["JobCount"]),
        ("ChildJobsSubmitted", sum(result["ArraySizes"])),
        ("ImagesSubmitted", result["ImageCount"]),
        ("SkippedKeys", len(result["SkippedKeys"])),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


# ------------------------------------------------------------------------------------------- handler

_CLIENTS: dict[str, Any] = {}


def _client(service: str) -> Any:
    """One client per service per container (honours ``AWS_ENDPOINT_URL``)."""
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service, config=_BOTO_CONFIG)
    return _CLIENTS[service]


def _required_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point; ``IMAGES_BUCKET``, ``JOB_QUEUE``, ``JOB_DEFINITION`` come from the environment."""
    bucket = _required_env("IMAGES_BUCKET")
    job_queue = _required_env("JOB_QUEUE")
    job_definition = _required_env("JOB_DEFINITION")
    result = submit_run(
        _client("s3"),
        _client("batch"),
        event,
        bucket=bucket,
        job_queue=job_queue,
        job_definition=job_definition,
        images_prefix=os.environ.get("IMAGES_PREFIX", ""),
    )
    namespace = (
        os.environ.get("METRICS_NAMESPACE")
        or os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
        or DEFAULT_METRICS_NAMESPACE
    )
    add_run_metrics(metrics, result, namespace=namespace, job_queue=job_queue)
    return result

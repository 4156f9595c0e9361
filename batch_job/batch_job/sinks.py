"""Where vectors go: a Parquet file (``local``) or the DynamoDB results table (``run``)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from batch_job.errors import JobError
from batch_job.pipeline import Failure

# BatchWriteItem takes at most 25 put requests.
DYNAMODB_BATCH = 25
DATA_TYPE = "float32"


def utc_now() -> str:
    """ISO-8601 UTC with millisecond precision, e.g. ``2026-11-21T12:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def results_item(image_id: str, vector: NDArray[np.float32], model: str, created: str) -> dict[str, Any]:
    """One results-table item (interface), in the low-level DynamoDB attribute-value format."""
    data = np.ascontiguousarray(vector, dtype="<f4")
    return {
        "ImageId": {"S": image_id},
        "Vector": {"B": data.tobytes()},
        "DataType": {"S": DATA_TYPE},
        "Dimension": {"N": str(data.shape[0])},
        "Model": {"S": model},
        "Created": {"S": created},
    }


class ParquetSink:
    """Streams vectors into ``path`` (columns ``image_id`` string, ``vector`` list<float32>).

    ``path`` is a temporary file (see :func:`batch_job.outputs.staged`): it replaces the real output only
    when the job completes, so a crashed run never leaves a plausible-looking truncated file.
    """

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.path = path
        self.schema = pa.schema([("image_id", pa.string()), ("vector", pa.list_(pa.float32()))])
        self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def write(self, image_ids: list[str], vectors: NDArray[np.float32]) -> list[Failure]:
        pa = self._pa
        count, dim = vectors.shape
        offsets = pa.array(np.arange(0, (count + 1) * dim, dim, dtype=np.int32))
        values = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
        column = pa.ListArray.from_arrays(offsets, values, type=pa.list_(pa.float32()))
        table = pa.Table.from_arrays([pa.array(image_ids, pa.string()), column], schema=self.schema)
        self._writer.write_table(table)
        return []

    def close(self) -> list[Failure]:
        self._writer.close()
        return []

    def abort(self) -> None:
        self._writer.close()


def write_failures_file(path: Path, failures: Iterable[Failure]) -> None:
    """``{"image_id", "error"}`` per line (interface); the file is rewritten even when there is none."""
    with path.open("w", encoding="utf-8") as handle:
        for failure in failures:
            handle.write(json.dumps(failure.record(), ensure_ascii=False) + "\n")


def batch_write(
    client: Any,
    table: str,
    items: list[dict[str, Any]],
    *,
    max_attempts: int = 10,
    base_delay: float = 0.05,
    max_delay: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """BatchWriteItem ``items`` (<= 25); retry UnprocessedItems with exponential backoff and full jitter.

    Returns the items still unprocessed after ``max_attempts`` calls (normally none). Throttling *errors*
    are retried by botocore itself (see :func:`batch_job.aws.client_config`).
    """
    requests = [{"PutRequest": {"Item": item}} for item in items]
    for attempt in range(max_attempts):
        response = client.batch_write_item(RequestItems={table: requests})
        requests = response.get("UnprocessedItems", {}).get(table, [])
        if not requests:
            return []
        if attempt + 1 < max_attempts:
            sleep(random.uniform(0, min(max_delay, base_delay * 2**attempt)))  # noqa: S311  # nosec B311  # jitter, not crypto
    return [request["PutRequest"]["Item"] for request in requests]


class DynamoDBSink:
    """Writes results items in BatchWriteItem calls of 25; nothing is dropped silently."""

    def __init__(
        self,
        client: Any,
        table: str,
        model: str,
        *,
        max_attempts: int = 10,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.table, self.model, self.max_attempts = client, table, model, max_attempts
        self._sleep = sleep
        self._buffer: list[dict[str, Any]] = []

    def write(self, image_ids: list[str], vectors: NDArray[np.float32]) -> list[Failure]:
        created = utc_now()
        failures: list[Failure] = []
        for image_id, vector in zip(image_ids, vectors, strict=True):
            # One BatchWriteItem may not name the same key twice (a manifest listing a key twice).
            if any(item["ImageId"]["S"] == image_id for item in self._buffer):
                failures.extend(self._flush())
            self._buffer.append(results_item(image_id, vector, self.model, created))
            if len(self._buffer) == DYNAMODB_BATCH:
                failures.extend(self._flush())
        return failures

    def close(self) -> list[Failure]:
        return self._flush()

    def _flush(self) -> list[Failure]:
        items, self._buffer = self._buffer, []
        if not items:
            return []
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            left = batch_write(self.client, self.table, items, max_attempts=self.max_attempts, sleep=self._sleep)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "?"), error.get("Message", "")
            if code == "ResourceNotFoundException":
                raise JobError(f"RESULTS_TABLE {self.table!r}: table not found ({message})") from exc
            reason = f"DynamoDB BatchWriteItem failed: {code}: {message}"[:400]
            return [Failure(item["ImageId"]["S"], reason, infrastructure=True) for item in items]
        except BotoCoreError as exc:
            reason = f"DynamoDB BatchWriteItem failed: {exc}"[:400]
            return [Failure(item["ImageId"]["S"], reason, infrastructure=True) for item in items]
        reason = f"DynamoDB kept returning it as unprocessed after {self.max_attempts} BatchWriteItem attempts"
        return [Failure(item["ImageId"]["S"], reason, infrastructure=True) for item in left]

"""Embedding submitter: SubmitJob calls for 100,000 listed images, array jobs against the original design.

The submitter (``lambda_src/embedding_submitter/index.py``, the code the Lambda runs) lists, writes its
manifests and submits against counting fake S3 and Batch clients: ListObjectsV2 pages of 1,000 keys like
S3, every call counted, nothing sleeps. The baseline is the original article's design on the same listing:
one SubmitJob per batch of 1,000 images. Figures: SubmitJob calls of each design and their ratio, the same at smaller batch sizes (where the 10,000-children limit of an
array job splits a run into parts), and calls made when Batch throttles the first SubmitJob attempts.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from botocore.exceptions import ClientError

from devops_blueprints.assets import load_lambda_module

IMAGES = 100_000
BASELINE_BATCH = 1_000
PAGE = 1_000


def _submitter() -> ModuleType:
    return load_lambda_module("embedding_submitter")


class _Paginator:
    def __init__(self, s3: CountingS3) -> None:
        self._s3 = s3

    def paginate(self, *, Bucket: str, Prefix: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = self._s3.list_objects_v2(Bucket=Bucket, Prefix=Prefix, ContinuationToken=token)
            yield page
            token = page.get("NextContinuationToken")
            if not token:
                return


class CountingS3:
    """S3 as the submitter sees it: ListObjectsV2 in pages of 1,000 sorted keys, PutObject; calls counted."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = sorted(keys)
        self.calls: Counter[str] = Counter()
        self.objects: dict[str, bytes] = {}

    def get_paginator(self, operation: str) -> _Paginator:
        assert operation == "list_objects_v2"
        return _Paginator(self)

    def list_objects_v2(self, *, Bucket: str, Prefix: str, ContinuationToken: str | None) -> dict[str, Any]:
        self.calls["ListObjectsV2"] += 1
        start = int(ContinuationToken or 0)
        matching = [key for key in self.keys[start : start + PAGE] if key.startswith(Prefix)]
        page: dict[str, Any] = {"Contents": [{"Key": key} for key in matching]}
        if start + PAGE < len(self.keys):
            page["NextContinuationToken"] = str(start + PAGE)
        return page

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        self.calls["PutObject"] += 1
        self.objects[Key] = Body
        return {}


class CountingBatch:
    """Batch SubmitJob; the first ``throttle`` calls fail with TooManyRequestsException like the real API."""

    def __init__(self, throttle: int = 0) -> None:
        self.calls: Counter[str] = Counter()
        self.children = 0
        self._throttle = throttle

    def submit_job(self, **request: Any) -> dict[str, Any]:
        self.calls["SubmitJob"] += 1
        if self._throttle > 0:
            self._throttle -= 1
            error = {"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}}
            raise ClientError(error, "SubmitJob")
        self.children += request.get("arrayProperties", {}).get("size", 1)
        return {"jobId": f"job-{self.calls['SubmitJob']}", "jobName": request["jobName"]}


def _keys() -> list[str]:
    return [f"images/{n // 1000:03d}/{n:06d}.jpg" for n in range(IMAGES)]


def original_design(s3: CountingS3, batch: CountingBatch, *, batch_size: int) -> int:
    """The article's submitter: list, then one SubmitJob per ``batch_size`` images."""
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="b", Prefix="images")
        for item in page["Contents"]
    ]
    for start in range(0, len(keys), batch_size):
        batch.submit_job(jobName=f"embed-{start}", jobQueue="q", jobDefinition="d", containerOverrides={})
    return len(keys)


def _array_run(batch_size: int, *, throttle: int = 0) -> dict[str, Any]:
    submitter = _submitter()
    s3, batch = CountingS3(_keys()), CountingBatch(throttle)
    started = time.perf_counter()
    result = submitter.submit_run(
        s3,
        batch,
        {"Paths": ["images"], "BatchSize": batch_size},
        bucket="b",
        job_queue="q",
        job_definition="d",
        sleep=lambda _seconds: None,
    )
    seconds = time.perf_counter() - started
    assert result["ImageCount"] == IMAGES
    assert batch.children == math.ceil(IMAGES / batch_size)  # every image is in exactly one child's slice
    lines = sum(body.count(b"\n") for body in s3.objects.values())
    assert lines == IMAGES
    return {
        "submit_job_calls": batch.calls["SubmitJob"],
        "jobs": result["JobCount"],
        "children": batch.children,
        "manifests": len(result["ManifestKeys"]),
        "list_calls": s3.calls["ListObjectsV2"],
        "seconds": seconds,
    }


def _baseline(batch_size: int) -> int:
    s3, batch = CountingS3(_keys()), CountingBatch()
    assert original_design(s3, batch, batch_size=batch_size) == IMAGES
    return batch.calls["SubmitJob"]


def run() -> dict[str, Any]:
    figures: dict[str, Any] = {"images": IMAGES}
    array = _array_run(BASELINE_BATCH)
    baseline = _baseline(BASELINE_BATCH)
    ratio = baseline / array["submit_job_calls"]
    figures.update(
        array_submit_job_calls=array["submit_job_calls"],
        baseline_submit_job_calls=baseline,
        ratio=ratio,
        children=array["children"],
        list_calls=array["list_calls"],
        submitter_seconds=round(array["seconds"], 3),
    )
    print(
        f"  {IMAGES:,} images, BatchSize {BASELINE_BATCH}: {array['submit_job_calls']} SubmitJob call(s) "
        f"({array['children']} array children, {array['list_calls']} ListObjectsV2 pages, "
        f"{array['seconds']:.2f} s) vs {baseline} in the original design = {ratio:.0f}x fewer"
    )
    for batch_size in (100, 10, 1):
        small = _array_run(batch_size)
        small_baseline = _baseline(batch_size)
        figures[f"batch_{batch_size}"] = {
            "array_submit_job_calls": small["submit_job_calls"],
            "baseline_submit_job_calls": small_baseline,
            "ratio": small_baseline / small["submit_job_calls"],
        }
        print(
            f"  BatchSize {batch_size}: {small['submit_job_calls']} SubmitJob call(s) over {small['manifests']} "
            f"manifest(s) ({small['children']:,} children, <= 10,000 per array job) vs {small_baseline:,} "
            f"= {small_baseline / small['submit_job_calls']:.0f}x fewer"
        )
    throttled = _array_run(BASELINE_BATCH, throttle=3)
    figures["throttled_submit_job_attempts"] = throttled["submit_job_calls"]
    print(f"  Batch throttles the first 3 SubmitJob attempts: {throttled['submit_job_calls']} attempts, 1 job, no loss")
    print(
        f"submitter: {array['submit_job_calls']} SubmitJob call(s) for {IMAGES:,} images instead of {baseline} "
        f"({ratio:.0f}x fewer than one job per {BASELINE_BATCH} images)"
    )
    return figures


if __name__ == "__main__":
    run()

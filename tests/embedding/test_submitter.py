"""The embedding submitter against moto's server mode: listing, manifests, array jobs, throttling, bad
events."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.embedding.submitter_support import BatchEnv, create_batch_env, load_submitter
from tests.support.powertools import LambdaContext, captured_logs, emf_records, emitted_metrics

submitter = load_submitter()


@pytest.fixture
def env(aws: str) -> BatchEnv:
    return create_batch_env(aws)


def put_keys(env: BatchEnv, keys: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: env.s3.put_object(Bucket=env.bucket, Key=key, Body=b"x"), keys))


def run(env: BatchEnv, event: Any, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("sleep", lambda _seconds: None)
    return dict(
        submitter.submit_run(
            env.s3,
            env.batch,
            event,
            bucket=env.bucket,
            job_queue=env.job_queue,
            job_definition=env.job_definition,
            **kwargs,
        )
    )


def environment_of(job: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in job["container"]["environment"]}


# ------------------------------------------------------------------------------------------ listing


def test_lists_every_page_of_a_prefix_with_more_than_1000_images(env: BatchEnv) -> None:
    # GIVEN 1,205 images (more than one ListObjectsV2 page) and some objects that are not images
    images = [f"images/{n:05d}.jpg" for n in range(1205)]
    put_keys(env, [*images, "images/readme.txt", "images/labels.json", "images/sub/"])

    # WHEN the default event is submitted
    result = run(env, {"Paths": ["images"]})

    # THEN every image is in the run's one manifest, in one array job of ceil(1205 / 1000) children
    assert result["ImageCount"] == 1205
    assert result["ManifestKeys"] == [f"manifests/{result['RunId']}/manifest.txt"]
    assert env.read(result["ManifestKeys"][0]).splitlines() == images
    (job,) = env.top_level_jobs()
    assert job["jobId"] == result["JobIds"][0]
    assert job["arrayProperties"]["size"] == 2
    assert environment_of(job)["MANIFEST_KEY"] == result["ManifestKeys"][0]
    assert environment_of(job)["CHUNK_SIZE"] == "1000"
    assert environment_of(job)["RUN_ID"] == result["RunId"]


def test_image_extensions_match_in_any_case(env: BatchEnv) -> None:
    images = [
        "in/a.JPG",
        "in/b.Jpeg",
        "in/c.png",
        "in/d.BMP",
        "in/e.gif",
        "in/f.WebP",
        "in/g.tif",
        "in/h.TIFF",
        "in/archive.tar.jpg",
    ]
    not_images = ["in/i.txt", "in/jpg", "in/j.jpg.txt", "in/k.svg", "in/dir.jpg/", "in/dir.png/readme"]
    put_keys(env, images + not_images)

    result = run(env, {"Paths": ["in/"]})

    assert env.read(result["ManifestKeys"][0]).splitlines() == sorted(images)
    assert result["ImageCount"] == len(images)


def test_overlapping_prefixes_are_deduplicated_and_same_names_in_other_folders_are_kept(
    env: BatchEnv,
) -> None:
    put_keys(env, ["cats/1.jpg", "cats/2.jpg", "cats/kittens/1.jpg", "dogs/1.jpg"])

    result = run(env, {"Paths": ["cats/", "cats/kittens/", "dogs/", "cats/"], "BatchSize": 2})

    assert env.read(result["ManifestKeys"][0]).splitlines() == [
        "cats/1.jpg",
        "cats/2.jpg",
        "cats/kittens/1.jpg",
        "dogs/1.jpg",
    ]
    assert result["ImageCount"] == 4
    assert result["ArraySizes"] == [2]


def test_keys_with_line_breaks_are_reported_not_silently_dropped(env: BatchEnv) -> None:
    # (moto's HTTP server cannot store a key with a raw "\n"; the check is the same for every line break)
    put_keys(env, ["in/ok.jpg", "in/bad\u2028name.jpg", "in/bad\x0bname.png"])

    result = run(env, {"Paths": ["in/"]})

    assert env.read(result["ManifestKeys"][0]) == "in/ok.jpg\n"
    assert result["ImageCount"] == 1
    assert sorted(result["SkippedKeys"]) == ["in/bad\x0bname.png", "in/bad\u2028name.jpg"]
    assert not any(submitter.is_manifest_safe(f"a{c}b.jpg") for c in "\n\r\x1c\x85")


# ---------------------------------------------------------------------------------------- manifests


def test_two_concurrent_runs_over_several_prefixes_never_share_or_overwrite_a_manifest(env: BatchEnv) -> None:
    put_keys(env, [f"a/{n}.jpg" for n in range(30)] + [f"b/{n}.png" for n in range(20)])
    barrier = threading.Barrier(2)

    def one_run(paths: list[str]) -> dict[str, Any]:
        barrier.wait()
        return run(env, {"Paths": paths, "BatchSize": 7})

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(one_run, [["a/", "b/"], ["b/"]])

    assert first["RunId"] != second["RunId"]
    assert not set(first["ManifestKeys"]) & set(second["ManifestKeys"])
    # each manifest still holds exactly its own run's keys
    assert len(env.read(first["ManifestKeys"][0]).splitlines()) == 50
    assert env.read(second["ManifestKeys"][0]).splitlines() == sorted(f"b/{n}.png" for n in range(20))
    assert sorted(env.keys("manifests/")) == sorted(first["ManifestKeys"] + second["ManifestKeys"])
    assert {job["jobId"] for job in env.top_level_jobs()} == {*first["JobIds"], *second["JobIds"]}


def test_run_ids_sort_by_time_and_are_unique_within_one_second() -> None:
    ids = {submitter.new_run_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(run_id.split("-")) == 2 and run_id[8] == "T" for run_id in ids)


def test_an_existing_manifest_is_never_overwritten_and_nothing_is_submitted(env: BatchEnv) -> None:
    put_keys(env, ["in/1.jpg"])
    env.s3.put_object(Bucket=env.bucket, Key="manifests/fixed-run/manifest.txt", Body=b"earlier run\n")

    with pytest.raises(submitter.ManifestExistsError, match=r"manifests/fixed-run/manifest.txt already exists"):
        run(env, {"Paths": ["in/"]}, run_id="fixed-run")

    assert env.read("manifests/fixed-run/manifest.txt") == "earlier run\n"
    assert env.top_level_jobs() == []


# --------------------------------------------------------------------------------------- array jobs


@pytest.mark.parametrize(
    ("images", "batch_size", "array_size"),
    [(5, 10, None), (10, 10, None), (11, 10, 2), (25, 10, 3), (25, 1, 25)],
)
def test_array_size_is_ceil_of_images_over_batch_size_and_omitted_for_one_child(
    env: BatchEnv, images: int, batch_size: int, array_size: int | None
) -> None:
    put_keys(env, [f"in/{n:03d}.jpg" for n in range(images)])

    result = run(env, {"Paths": ["in/"], "BatchSize": batch_size})

    (job,) = env.top_level_jobs()
    assert job.get("arrayProperties", {}).get("size") == array_size
    assert result["ArraySizes"] == [array_size or 1]
    assert result["JobCount"] == 1
    assert environment_of(job)["CHUNK_SIZE"] == str(batch_size)


def test_runs_beyond_the_array_limit_get_one_manifest_and_one_job_per_part(
    env: BatchEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an array limit of 3 children (10,000 in AWS) and 7 images at one image per child
    monkeypatch.setattr(submitter, "MAX_ARRAY_SIZE", 3)
    images = [f"in/{n}.jpg" for n in range(7)]
    put_keys(env, images)

    result = run(env, {"Paths": ["in/"], "BatchSize": 1})

    run_id = result["RunId"]
    parts = [f"{run_id}-part-{n:04d}" for n in range(3)]
    assert result["ManifestKeys"] == [f"manifests/{run_id}/{part}/manifest.txt" for part in parts]
    assert [env.read(key).splitlines() for key in result["ManifestKeys"]] == [
        images[0:3],
        images[3:6],
        images[6:],
    ]
    assert result["ArraySizes"] == [3, 3, 1]
    assert result["JobCount"] == 3
    jobs = {job["jobId"]: job for job in env.top_level_jobs()}
    assert set(jobs) == set(result["JobIds"])
    for n, (job_id, manifest) in enumerate(zip(result["JobIds"], result["ManifestKeys"], strict=True)):
        assert environment_of(jobs[job_id])["MANIFEST_KEY"] == manifest
        # the job names its failures file after the manifest's folder: unique per part, under the run id
        assert PurePosixPath(manifest).parent.name == environment_of(jobs[job_id])["RUN_ID"] == parts[n]
    assert "arrayProperties" not in jobs[result["JobIds"][2]] or not jobs[result["JobIds"][2]]["arrayProperties"]


def test_plan_parts_caps_every_array_job_at_10000_children() -> None:
    keys = [f"k{n}" for n in range(20_001)]
    parts = submitter.plan_parts(keys, 1, "run")
    assert [part.array_size for part in parts] == [10_000, 10_000, 1]
    assert [len(part.keys) for part in parts] == [10_000, 10_000, 1]
    assert [key for part in parts for key in part.keys] == keys


# --------------------------------------------------------------------------------------- throttling


class ThrottlingProxy:
    """A real client that first fails ``failures`` calls of ``operation`` with a throttling error."""

    def __init__(self, client: Any, operation: str, failures: int, code: str, status: int = 400) -> None:
        self._client = client
        self._operation = operation
        self.remaining = failures
        self.calls = 0
        self._error = {
            "Error": {"Code": code, "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if name != self._operation:
            return target

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            if self.remaining > 0:
                self.remaining -= 1
                raise ClientError(self._error, name)
            return target(**kwargs)

        return call


@pytest.mark.parametrize(
    ("code", "status"), [("TooManyRequestsException", 429), ("ThrottlingException", 400), ("Unlisted", 429)]
)
def test_throttled_submit_job_is_retried_with_growing_jittered_delays(env: BatchEnv, code: str, status: int) -> None:
    put_keys(env, [f"in/{n}.jpg" for n in range(3)])
    throttled = ThrottlingProxy(env.batch, "submit_job", failures=4, code=code, status=status)
    delays: list[float] = []

    result = submitter.submit_run(
        env.s3,
        throttled,
        {"Paths": ["in/"], "BatchSize": 1},
        bucket=env.bucket,
        job_queue=env.job_queue,
        job_definition=env.job_definition,
        sleep=delays.append,
    )

    assert throttled.calls == 5
    assert len(delays) == 4
    assert all(0 <= delay <= 0.2 * 2**n for n, delay in enumerate(delays))
    assert [job["jobId"] for job in env.top_level_jobs()] == result["JobIds"]


def test_throttled_manifest_write_is_retried(env: BatchEnv) -> None:
    put_keys(env, ["in/1.jpg"])
    throttled_s3 = ThrottlingProxy(env.s3, "put_object", failures=2, code="SlowDown", status=503)

    result = submitter.submit_run(
        throttled_s3,
        env.batch,
        {"Paths": ["in/"]},
        bucket=env.bucket,
        job_queue=env.job_queue,
        job_definition=env.job_definition,
        sleep=lambda _seconds: None,
    )

    assert throttled_s3.calls == 3
    assert env.read(result["ManifestKeys"][0]) == "in/1.jpg\n"


def test_a_refused_submit_job_names_the_run_the_part_and_the_jobs_already_submitted(
    env: BatchEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submitter, "MAX_ARRAY_SIZE", 2)
    put_keys(env, [f"in/{n}.jpg" for n in range(3)])

    class RefuseSecondJob:
        def __init__(self) -> None:
            self.calls = 0

        def submit_job(self, **request: Any) -> Any:
            self.calls += 1
            if self.calls == 2:
                error = {"Error": {"Code": "ClientException", "Message": "job queue is disabled"}}
                raise ClientError(error, "SubmitJob")
            return env.batch.submit_job(**request)

    refusing = RefuseSecondJob()
    with pytest.raises(submitter.SubmissionError) as raised:
        submitter.submit_run(
            env.s3,
            refusing,
            {"Paths": ["in/"], "BatchSize": 1},
            bucket=env.bucket,
            job_queue=env.job_queue,
            job_definition=env.job_definition,
            run_id="r1",
            sleep=lambda _seconds: None,
        )

    (first,) = env.top_level_jobs()
    message = str(raised.value)
    assert message.startswith("run r1: SubmitJob for manifests/r1/r1-part-0001/manifest.txt failed (ClientException")
    assert f"submitted before it: ['{first['jobId']}']" in message
    assert refusing.calls == 2  # a refusal is not retried


def test_backoff_gives_up_after_max_attempts_and_never_retries_other_errors() -> None:
    calls: list[str] = []

    def always_throttled() -> None:
        calls.append("throttled")
        raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SubmitJob")

    def client_error() -> None:
        calls.append("invalid")
        raise ClientError({"Error": {"Code": "ClientException", "Message": "bad queue"}}, "SubmitJob")

    delays: list[float] = []
    with pytest.raises(ClientError, match="TooManyRequestsException"):
        submitter.call_with_backoff(
            always_throttled, what="t", max_attempts=5, sleep=delays.append, rng=random.Random(7)
        )
    assert calls == ["throttled"] * 5
    assert len(delays) == 4
    with pytest.raises(ClientError, match="bad queue"):
        submitter.call_with_backoff(client_error, what="t", sleep=delays.append)
    assert calls[5:] == ["invalid"]
    assert len(delays) == 4


# --------------------------------------------------------------------------------------- bad events


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, r"event must be an object .* got NoneType"),
        (["images"], r"event must be an object .* got list"),
        ({}, r"^Paths is required"),
        ({"paths": ["in/"]}, r"^Paths is required"),
        ({"Paths": []}, r"^Paths must be a non-empty list of key prefixes, got \[\]"),
        ({"Paths": "in/"}, r"^Paths must be a non-empty list of key prefixes, got 'in/'"),
        ({"Paths": ["in/", 3]}, r"^Paths\[1\] must be a non-empty string key prefix, got 3"),
        ({"Paths": [""]}, r"^Paths\[0\] must be a non-empty string key prefix, got ''"),
        ({"Paths": ["manifests/x"]}, r"^Paths\[0\] must not be under 'manifests/'"),
        ({"Paths": ["in/"], "BatchSize": 0}, r"^BatchSize must be from 1 to 10000, got 0$"),
        ({"Paths": ["in/"], "BatchSize": 10_001}, r"^BatchSize must be from 1 to 10000, got 10001$"),
        (
            {"Paths": ["in/"], "BatchSize": "1000"},
            r"^BatchSize must be an integer from 1 to 10000, got '1000'$",
        ),
        ({"Paths": ["in/"], "BatchSize": 2.5}, r"^BatchSize must be an integer from 1 to 10000, got 2.5$"),
        ({"Paths": ["in/"], "BatchSize": True}, r"^BatchSize must be an integer from 1 to 10000, got True$"),
        ({"Paths": ["in/"], "BatchSize": None}, r"^BatchSize must be an integer from 1 to 10000, got None$"),
        ({"Paths": ["in/", "empty/"]}, r"^Paths\[1\] 'empty/' has no images in bucket 'embedding-images'"),
        ({"Paths": ["docs/"]}, r"^Paths\[0\] 'docs/' has no images"),
    ],
)
def test_bad_events_raise_one_clear_error_and_write_or_submit_nothing(env: BatchEnv, event: Any, message: str) -> None:
    put_keys(env, ["in/1.jpg", "docs/readme.txt"])

    with pytest.raises(submitter.InvalidEventError, match=message) as raised:
        run(env, event)

    assert isinstance(raised.value, ValueError)
    assert "\n" not in str(raised.value)
    assert env.keys("manifests/") == []
    assert env.top_level_jobs() == []


HOSTILE_EVENTS = [
    ({"Paths": ["in/"] * 1001}, r"^Paths must hold at most 1000 prefixes, got 1001$"),
    ({"Paths": ["in/\ud800"]}, r"^Paths\[0\] must be valid Unicode text, got 'in/\\ud800'$"),
    (
        {"Paths": ["in/" + "x" * 1022]},
        r"^Paths\[0\] must be at most 1024 bytes \(the longest S3 key\), got 1025 bytes$",
    ),
    (
        {"Paths": ["in/" + "\u2603" * 341]},
        r"^Paths\[0\] must be at most 1024 bytes \(the longest S3 key\), got 1026 bytes$",
    ),
    ({"Paths": "x" * 100_000}, r"^Paths must be a non-empty list of key prefixes, got 'x{76}\.\.\.$"),
    (
        {"Paths": ["in/"], "BatchSize": 10**5000},
        r"^BatchSize must be from 1 to 10000, got a number of about 5000 digits$",
    ),
    (
        {"Paths": ["in/"], "BatchSize": [1] * 10_000},
        r"^BatchSize must be an integer from 1 to 10000, got \[1, 1, .{60,}\.\.\.$",
    ),
]


@pytest.mark.parametrize(("event", "message"), HOSTILE_EVENTS, ids=[m[:40] for _, m in HOSTILE_EVENTS])
def test_hostile_events_raise_one_short_error_and_write_or_submit_nothing(
    env: BatchEnv, event: Any, message: str
) -> None:
    put_keys(env, ["in/1.jpg"])

    with pytest.raises(submitter.InvalidEventError, match=message) as raised:
        run(env, event)

    assert "\n" not in str(raised.value) and len(str(raised.value)) < 200
    assert env.keys("manifests/") == []
    assert env.top_level_jobs() == []


def test_the_longest_prefix_and_the_most_paths_are_accepted(env: BatchEnv) -> None:
    longest = "in/" + "x" * 1017 + ".jpg"  # 1,024 bytes: the longest S3 key
    put_keys(env, [longest])

    result = run(env, {"Paths": [longest] + ["in/"] * 999})

    assert result["ImageCount"] == 1
    assert env.read(result["ManifestKeys"][0]) == longest + "\n"


# ------------------------------------------------------------------------------------------ handler

CONTEXT = LambdaContext(function_name="embedding-submitter")
# What the hand-built EMF line printed before Powertools (one run of 5 images with BatchSize 2: one array job of
# 3 children), with the job queue and run id as placeholders. Powertools must emit every one of these metrics
# with the same namespace, unit, dimensions and value.
EMF_BEFORE_POWERTOOLS: dict[str, Any] = {
    "_aws": {
        "Timestamp": 0,
        "CloudWatchMetrics": [
            {
                "Namespace": "DevOpsBlueprints/Embedding",
                "Dimensions": [["JobQueue"]],
                "Metrics": [
                    {"Name": "JobsSubmitted", "Unit": "Count"},
                    {"Name": "ChildJobsSubmitted", "Unit": "Count"},
                    {"Name": "ImagesSubmitted", "Unit": "Count"},
                    {"Name": "SkippedKeys", "Unit": "Count"},
                ],
            }
        ],
    },
    "JobQueue": "<job-queue>",
    "RunId": "<run-id>",
    "JobsSubmitted": 1,
    "ChildJobsSubmitted": 3,
    "ImagesSubmitted": 5,
    "SkippedKeys": 0,
}


@pytest.fixture
def handler_env(env: BatchEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchEnv]:
    monkeypatch.setenv("IMAGES_BUCKET", env.bucket)
    monkeypatch.setenv("JOB_QUEUE", env.job_queue)
    monkeypatch.setenv("JOB_DEFINITION", env.job_definition)
    # As the construct sets them (Powertools must still add no "service" dimension).
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "embedding-submitter")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "DevOpsBlueprints/Embedding")
    submitter._CLIENTS.clear()
    submitter.metrics.clear_metrics()
    yield env
    submitter._CLIENTS.clear()
    submitter.metrics.clear_metrics()


def test_handler_reads_its_environment_and_reuses_its_clients(handler_env: BatchEnv) -> None:
    put_keys(handler_env, ["images/a.jpg", "images/b.png"])

    first = submitter.handler({"Paths": ["images"], "BatchSize": 1}, CONTEXT)
    clients = dict(submitter._CLIENTS)
    second = submitter.handler({"Paths": ["images"], "BatchSize": 1}, CONTEXT)

    assert set(first) == {
        "RunId",
        "JobIds",
        "ImageCount",
        "JobCount",
        "ManifestKeys",
        "ArraySizes",
        "SkippedKeys",
    }
    assert (first["ImageCount"], first["JobCount"], first["ArraySizes"]) == (2, 1, [2])
    assert first["RunId"] != second["RunId"]
    assert set(clients) == {"s3", "batch"}
    assert all(submitter._CLIENTS[name] is client for name, client in clients.items())
    assert {job["jobId"] for job in handler_env.top_level_jobs()} == {*first["JobIds"], *second["JobIds"]}


def test_handler_emits_every_metric_it_emitted_before_powertools_unchanged(
    handler_env: BatchEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    put_keys(handler_env, [f"images/{n}.jpg" for n in range(5)])

    result = submitter.handler({"Paths": ["images/"], "BatchSize": 2}, CONTEXT)

    (record,) = emf_records(capsys.readouterr().out)
    before = json.loads(
        json.dumps(EMF_BEFORE_POWERTOOLS)
        .replace("<job-queue>", handler_env.job_queue)
        .replace("<run-id>", result["RunId"])
    )
    assert emitted_metrics(record) == emitted_metrics(before)
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["JobQueue"]]  # no "service" dimension beside it
    assert record["JobQueue"] == handler_env.job_queue
    assert record["RunId"] == result["RunId"]  # a property of the record, not a dimension
    assert abs(record["_aws"]["Timestamp"] / 1000 - time.time()) < 60


def test_metrics_namespace_variable_still_sets_the_namespace(
    handler_env: BatchEnv, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METRICS_NAMESPACE", "Team/Embeddings")
    put_keys(handler_env, ["images/a.jpg"])

    submitter.handler({"Paths": ["images/"]}, CONTEXT)

    (record,) = emf_records(capsys.readouterr().out)
    assert {metric["namespace"] for metric in emitted_metrics(record).values()} == {"Team/Embeddings"}


def test_handler_logs_the_run_as_structured_json(handler_env: BatchEnv) -> None:
    put_keys(handler_env, ["images/a.jpg", "images/b.png", "images/c.gif"])

    with captured_logs(submitter.logger) as logs:
        result = submitter.handler({"Paths": ["images/"], "BatchSize": 2}, CONTEXT)

    (line,) = [record for record in logs.records() if record["message"] == "run submitted"]
    assert line["level"] == "INFO"
    assert line["service"] == "embedding-submitter"
    assert line["function_name"] == "embedding-submitter"
    assert line["function_request_id"] == CONTEXT.aws_request_id
    assert (line["run_id"], line["image_count"], line["job_count"], line["child_jobs"]) == (result["RunId"], 3, 1, 2)


def test_skipped_keys_and_throttling_are_logged_with_their_details(env: BatchEnv) -> None:
    put_keys(env, ["in/ok.jpg", "in/bad\u2028name.jpg"])
    throttled = ThrottlingProxy(env.batch, "submit_job", failures=1, code="TooManyRequestsException", status=429)

    with captured_logs(submitter.logger) as logs:
        submitter.submit_run(
            env.s3,
            throttled,
            {"Paths": ["in/"]},
            bucket=env.bucket,
            job_queue=env.job_queue,
            job_definition=env.job_definition,
            sleep=lambda _seconds: None,
        )

    records = {record["message"]: record for record in logs.records()}
    skipped = records["skipping keys with line breaks (cannot be manifest lines)"]
    assert (skipped["level"], skipped["skipped_count"], skipped["skipped_keys"]) == (
        "WARNING",
        1,
        ["in/bad\u2028name.jpg"],
    )
    throttling = records["throttled; retrying"]
    assert throttling["operation"].startswith("SubmitJob ")
    assert (throttling["attempt"], throttling["max_attempts"]) == (1, 8)
    assert 0 <= throttling["delay_seconds"] <= 0.2


# A failed run emits no metric record; Powertools warns that it had none to publish.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_handler_refuses_paths_outside_images_prefix(
    handler_env: BatchEnv, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMAGES_PREFIX", "images/")
    put_keys(handler_env, ["images/a.jpg", "other/b.jpg"])

    with pytest.raises(submitter.InvalidEventError, match=r"^Paths\[1\] must start with 'images/' \(IMAGES_PREFIX"):
        submitter.handler({"Paths": ["images/", "other/"]}, CONTEXT)

    assert emf_records(capsys.readouterr().out) == []
    assert handler_env.keys("manifests/") == []
    assert handler_env.top_level_jobs() == []
    assert submitter.handler({"Paths": ["images/"]}, CONTEXT)["ImageCount"] == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_handler_names_a_missing_environment_variable(handler_env: BatchEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOB_QUEUE")
    with pytest.raises(RuntimeError, match=r"^environment variable JOB_QUEUE is not set$"):
        submitter.handler({"Paths": ["images"]}, CONTEXT)

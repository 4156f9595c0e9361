"""``python -m batch_job run`` against moto's S3 and DynamoDB (server mode, real boto3 clients)."""

from __future__ import annotations

import json
import re
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from batch_job.aws import fetch_model, run
from batch_job.cli import main
from batch_job.engine import Embedder
from batch_job.errors import JobError
from batch_job.pipeline import ByteBudget, ReadLimit
from batch_job.preprocess import preprocess
from batch_job.sinks import DynamoDBSink, batch_write
from botocore.exceptions import ClientError

from tests.batch_job import images
from tests.batch_job.tiny_model import tiny_model

BUCKET = "embedding-images"
TABLE = "embedding-results"
RUN_ID = "20261121T120000Z-abc"
MANIFEST = f"manifests/{RUN_ID}/manifest.txt"


def create_resources(objects: dict[str, bytes], manifest_keys: list[str]) -> dict[str, str]:
    """Bucket, table, images and manifest; returns the job environment for array child 0."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key, data in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    s3.put_object(Bucket=BUCKET, Key=MANIFEST, Body=("\n".join(manifest_keys) + "\n").encode())
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "ImageId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "ImageId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return {"IMAGES_BUCKET": BUCKET, "RESULTS_TABLE": TABLE, "MANIFEST_KEY": MANIFEST, "CHUNK_SIZE": "100"}


def scan_items() -> dict[str, dict[str, Any]]:
    """The results table as the article's reader sees it (boto3 resource: Binary has .value)."""
    table = boto3.resource("dynamodb").Table(TABLE)
    return {item["ImageId"]: item for item in table.scan(ConsistentRead=True)["Items"]}


def failures_object(index: int = 0) -> list[dict[str, str]]:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"failures/{RUN_ID}/{index}.jsonl")["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


def object_keys() -> list[str]:
    s3 = boto3.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        return []
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def good_images(count: int, prefix: str = "images") -> dict[str, bytes]:
    return {f"{prefix}/img-{n:03d}.jpg": images.jpeg(images.photo(seed=100 + n)) for n in range(count)}


def test_run_writes_items_the_articles_reader_decodes(
    aws: str, model_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN good images (two with the same file name in different folders), odd ones, broken ones and a key
    # that is listed but missing, all in one manifest
    objects = {
        "images/cats/photo.jpg": images.jpeg(images.photo(seed=20)),
        "images/dogs/photo.jpg": images.jpeg(images.photo(seed=21)),
        **images.odd_valid_images(),
        **images.invalid_images(),
    }
    listed = [*sorted(objects), "images/gone.jpg"]
    env = create_resources(objects, listed)
    for name, value in {**env, "EMBEDDING_MODEL": str(model_path)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_BATCH_JOB_ARRAY_INDEX", raising=False)
    before = datetime.now().astimezone()
    # WHEN the job runs as array child 0 (no index in the environment)
    assert main(["run"]) == 0
    # THEN every valid image has an item in the interface shape, decodable by the article's reader
    items = scan_items()
    valid = {"images/cats/photo.jpg", "images/dogs/photo.jpg", *images.odd_valid_images()}
    assert set(items) == valid
    for image_id, item in items.items():
        assert set(item) == {"ImageId", "Vector", "DataType", "Dimension", "Model", "Created"}
        vector = np.frombuffer(item["Vector"].value, dtype=item["DataType"])
        assert item["DataType"] == "float32" and item["Dimension"] == 512 and len(vector) == item["Dimension"]
        assert item["Model"] == "resnet18-random"
        created = datetime.fromisoformat(item["Created"])
        assert created.utcoffset() == timedelta(0) and item["Created"].endswith("Z")
        assert before - timedelta(seconds=1) <= created <= datetime.now().astimezone()
        expected = embedder.embed(preprocess(objects[image_id])[None])[0]
        np.testing.assert_allclose(vector, expected, rtol=1e-4, atol=1e-5)
    cats = np.frombuffer(items["images/cats/photo.jpg"]["Vector"].value, dtype="float32")
    dogs = np.frombuffer(items["images/dogs/photo.jpg"]["Vector"].value, dtype="float32")
    assert not np.allclose(cats, dogs)
    # AND every invalid image is in failures/<run-id>/0.jsonl with a reason; nothing is unaccounted for
    failures = {f["image_id"]: f["error"] for f in failures_object(0)}
    assert set(failures) == {*images.invalid_images(), "images/gone.jpg"}
    assert failures["images/gone.jpg"] == f"s3://{BUCKET}/images/gone.jpg: object not found"
    assert failures["bad/zero.jpg"] == "empty file (0 bytes)"
    assert failures["bad/bomb.png"].startswith("decompression bomb refused")
    assert len(items) + len(failures) == len(listed)
    assert f"summary: images={len(listed)} embedded={len(items)} failed={len(failures)}" in capsys.readouterr().out


@pytest.mark.parametrize(("index", "expected"), [(None, range(0, 3)), ("1", range(3, 6)), ("2", range(6, 7))])
def test_array_child_embeds_its_chunk_of_the_manifest(
    aws: str, embedder: Embedder, index: str | None, expected: range
) -> None:
    objects = good_images(7)
    env = create_resources(objects, sorted(objects))
    env["CHUNK_SIZE"] = "3"
    if index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = index
    summary, failures = run(env, model=embedder)
    assert set(scan_items()) == {sorted(objects)[n] for n in expected}
    assert (summary.listed, summary.embedded, failures) == (len(expected), len(expected), [])


class ThrottlingDynamoDB:
    """Test double: the first ``throttled`` BatchWriteItem calls store only the first request and return the
    rest as UnprocessedItems (what DynamoDB does under throttling); then it delegates to the real client."""

    def __init__(self, real: Any, throttled: int) -> None:
        self.real, self.throttled = real, throttled
        self.calls = 0
        self.returned_unprocessed = 0
        self.largest_call = 0

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        self.calls += 1
        self.largest_call = max(self.largest_call, *(len(requests) for requests in RequestItems.values()))
        if self.throttled == 0:
            return dict(self.real.batch_write_item(RequestItems=RequestItems))
        self.throttled -= 1
        ((table, requests),) = RequestItems.items()
        self.real.batch_write_item(RequestItems={table: requests[:1]})
        self.returned_unprocessed += len(requests) - 1
        return {"UnprocessedItems": {table: requests[1:]} if len(requests) > 1 else {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_unprocessed_items_are_retried_and_nothing_is_lost(aws: str, embedder: Embedder) -> None:
    # GIVEN 30 images (two BatchWriteItem batches) and a DynamoDB that throttles the first 4 calls
    objects = good_images(30)
    env = create_resources(objects, sorted(objects))
    dynamodb = ThrottlingDynamoDB(boto3.client("dynamodb"), throttled=4)
    # WHEN the job runs
    summary, failures = run(env, model=embedder, dynamodb=dynamodb)
    # THEN unprocessed items were returned and retried, and every image is in the table
    assert dynamodb.returned_unprocessed > 0 and dynamodb.calls > 2
    assert dynamodb.largest_call == 25  # BatchWriteItem's limit, used in full
    assert set(scan_items()) == set(objects)
    assert (summary.embedded, failures) == (30, [])


def test_items_still_unprocessed_after_every_attempt_are_failures_not_lost(aws: str) -> None:
    # GIVEN a DynamoDB that never accepts anything and a sink allowed 3 attempts
    class NeverWrites:
        def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
            return {"UnprocessedItems": RequestItems}

    delays: list[float] = []
    sink = DynamoDBSink(NeverWrites(), TABLE, "m", max_attempts=3, sleep=delays.append)
    vectors = np.ones((3, 512), dtype=np.float32)
    # WHEN three vectors are written and the sink is closed
    failures = sink.write(["a", "b", "c"], vectors) + sink.close()
    # THEN all three are reported as infrastructure failures with the reason, after backing off twice
    assert [f.image_id for f in failures] == ["a", "b", "c"]
    assert all(f.infrastructure and "unprocessed after 3 BatchWriteItem attempts" in f.error for f in failures)
    assert len(delays) == 2 and 0 <= delays[0] <= 0.05 and 0 <= delays[1] <= 0.1


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    class Unprocessed:
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"UnprocessedItems": RequestItems}

    delays: list[float] = []
    left = batch_write(
        Unprocessed(), "t", [{"ImageId": {"S": "x"}}], max_attempts=9, max_delay=1.0, sleep=delays.append
    )
    assert left == [{"ImageId": {"S": "x"}}]
    caps = [min(1.0, 0.05 * 2**n) for n in range(8)]
    assert len(delays) == 8 and all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))


class FailingDynamoDB:
    """Test double: the table exists, but every BatchWriteItem fails with a server error (``message``)."""

    def __init__(self, real: Any, message: str = "try again") -> None:
        self.real, self.message = real, message

    def describe_table(self, **kwargs: Any) -> Any:
        return self.real.describe_table(**kwargs)

    def batch_write_item(self, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": self.message}}, "BatchWriteItem")


def test_every_image_failing_on_infrastructure_is_a_systemic_failure(
    aws: str, embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    objects = good_images(3)
    env = create_resources(objects, sorted(objects))
    with pytest.raises(JobError, match=r"no image could be embedded and the cause is not the images") as info:
        run(env, model=embedder, dynamodb=FailingDynamoDB(boto3.client("dynamodb")))
    assert info.value.exit_code == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("summary: images=3 embedded=0 failed=3 seconds=")
    failures = failures_object(0)
    assert len(failures) == 3 and all("InternalServerError" in f["error"] for f in failures)


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"IMAGES_BUCKET": ""}, 2, r"environment variable IMAGES_BUCKET is required"),
        ({"CHUNK_SIZE": "0"}, 2, r"CHUNK_SIZE must be an integer from 1 to 1000000000, got '0'$"),
        ({"CHUNK_SIZE": "9" * 5000}, 2, r"CHUNK_SIZE must be an integer from 1 to 1000000000, got '9{40}\.\.\.'$"),
        ({"CHUNK_SIZE": "1e3"}, 2, r"CHUNK_SIZE must be an integer from 1 to 1000000000, got '1e3'$"),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": "x"}, 2, r"AWS_BATCH_JOB_ARRAY_INDEX must be an integer from 0 to .*, got 'x'"),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": "-1"}, 2, r"AWS_BATCH_JOB_ARRAY_INDEX must be an integer from 0 to .*'-1'$"),
        ({"MANIFEST_KEY": "manifest.txt"}, 2, r"MANIFEST_KEY must be manifests/<run-id>/<file>"),
        (
            {"MANIFEST_KEY": "manifests/r1/\x1b[2Jm.txt\nsummary: images=0"},
            2,
            r"MANIFEST_KEY must be .*, got 'manifests/r1/\\x1b\[2Jm.txt\\nsummary: images=0'$",
        ),
        ({"MANIFEST_KEY": "manifests/r1/" + "k" * 1100}, 2, r"MANIFEST_KEY must be .*at most 1024 bytes"),
        ({"IMAGES_BUCKET": "Bad_Bucket"}, 2, r"IMAGES_BUCKET must be an S3 bucket name .*, got 'Bad_Bucket'$"),
        ({"IMAGES_BUCKET": "a..b"}, 2, r"IMAGES_BUCKET must be an S3 bucket name"),
        ({"IMAGES_BUCKET": "my/bucket"}, 2, r"IMAGES_BUCKET must be an S3 bucket name"),
        ({"RESULTS_TABLE": "t"}, 2, r"RESULTS_TABLE must be a DynamoDB table name .* or ARN, got 't'$"),
        ({"RESULTS_TABLE": "tab le\n"}, 2, r"RESULTS_TABLE must be a DynamoDB table name .*, got 'tab le'$"),
        ({"AWS_ENDPOINT_URL": "not a url"}, 2, r"AWS_ENDPOINT_URL must be an http:// or https:// URL .*'not a url'$"),
        ({"AWS_ENDPOINT_URL": "http://[::1"}, 2, r"AWS_ENDPOINT_URL must be an http:// or https:// URL"),
        ({"AWS_ENDPOINT_URL": "ftp://example.com"}, 2, r"AWS_ENDPOINT_URL must be an http:// or https:// URL"),
        ({"AWS_ENDPOINT_URL_S3": "http://"}, 2, r"AWS_ENDPOINT_URL_S3 must be an http:// or https:// URL"),
        (
            {"MANIFEST_KEY": "manifests/other/manifest.txt"},
            1,
            r"MANIFEST_KEY s3://.*/manifests/other/manifest.txt: not found",
        ),
        ({"RESULTS_TABLE": "nope"}, 1, r"RESULTS_TABLE 'nope': table not found"),
        ({"IMAGES_BUCKET": "no-such-bucket"}, 1, r"MANIFEST_KEY s3://no-such-bucket/manifests/.*: not found"),
        ({"AWS_BATCH_JOB_ARRAY_INDEX": "5"}, 2, r"has 2 keys, so AWS_BATCH_JOB_ARRAY_INDEX=5 with CHUNK_SIZE=100"),
        ({"EMBEDDING_MODEL": "/nonexistent/model.onnx"}, 2, r"model /nonexistent/model.onnx: no such file"),
        (
            {"EMBEDDING_MODEL": f"s3://{BUCKET}/models/missing.onnx"},
            2,
            rf"EMBEDDING_MODEL s3://{BUCKET}/models/missing.onnx: not found$",
        ),
        (
            {"EMBEDDING_MODEL": "s3://no-such-bucket/m.onnx"},
            2,
            r"EMBEDDING_MODEL s3://no-such-bucket/m.onnx: not found$",
        ),
        *(
            (
                {"EMBEDDING_MODEL": uri},
                2,
                rf"EMBEDDING_MODEL must be a file path or s3://<bucket>/<key of an .onnx file>, got '{uri}'$",
            )
            for uri in ("s3://", "s3://bucket-only", f"s3://{BUCKET}/models/", "s3:/single-slash/m.onnx", "s3://B_/m")
        ),
        (
            {"EMBEDDING_MODEL": f"s3://{BUCKET}/m\n.onnx"},
            2,
            rf"EMBEDDING_MODEL must be a file path or s3://.*, got 's3://{BUCKET}/m\\n.onnx'$",
        ),
        (
            {"EMBEDDING_MODEL": "/nonexistent/\x1b[31mred.onnx"},
            2,
            r"model /nonexistent/\\x1b\[31mred.onnx: no such file",
        ),
        (
            {"EMBEDDING_MODEL": f"s3://{BUCKET}/failures/{RUN_ID}/0.jsonl"},
            2,
            r"failures object is also EMBEDDING_MODEL; it would be overwritten$",
        ),
    ],
)
def test_bad_environment_is_one_clear_line(
    aws: str,
    model_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    code: int,
    message: str,
) -> None:
    objects = good_images(2)
    env = {**create_resources(objects, sorted(objects)), "EMBEDDING_MODEL": str(model_path), **change}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["run"]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and re.search(message, err[0]), err
    monkeypatch.undo()  # back to the test session's endpoint, to look
    assert scan_items() == {}
    assert not any(k.startswith("failures/") for k in object_keys())


def relabelled_model(model_path: Path, name: str) -> bytes:
    """The same network with another ``model`` name in its metadata (so items show which file ran)."""
    import onnx

    proto = onnx.load(str(model_path))
    for entry in proto.metadata_props:
        if entry.key == "model":
            entry.value = name
    return bytes(proto.SerializeToString())


def test_a_model_in_s3_is_downloaded_once_used_and_removed(
    aws: str, model_path: Path, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the job's model as an object in the bucket (e.g. an int8 model made by `quantize`)
    objects = good_images(3)
    env = create_resources(objects, sorted(objects))
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key="models/team-model.onnx", Body=relabelled_model(model_path, "team-model-int8")
    )
    downloads = tmp_path / "tmp"
    downloads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(downloads))
    # WHEN the job runs with EMBEDDING_MODEL pointing at it
    summary, failures = run({**env, "EMBEDDING_MODEL": f"s3://{BUCKET}/models/team-model.onnx"})
    # THEN every item was embedded by that model, and its download is gone
    items = scan_items()
    assert (summary.embedded, failures) == (3, [])
    assert {item["Model"] for item in items.values()} == {"team-model-int8"}
    for image_id, item in items.items():
        expected = embedder.embed(preprocess(objects[image_id])[None])[0]
        np.testing.assert_allclose(np.frombuffer(item["Vector"].value, "float32"), expected, rtol=1e-4, atol=1e-5)
    assert list(downloads.iterdir()) == []


def test_a_model_object_that_is_not_a_model_is_one_clear_error(aws: str, tmp_path: Path) -> None:
    objects = good_images(1)
    env = create_resources(objects, sorted(objects))
    boto3.client("s3").put_object(Bucket=BUCKET, Key="models/notes.onnx", Body=b"not a model")
    with pytest.raises(JobError, match=r"^model .*notes.onnx: not a loadable ONNX model") as info:
        run({**env, "EMBEDDING_MODEL": f"s3://{BUCKET}/models/notes.onnx"})
    assert info.value.exit_code == 2 and scan_items() == {}


def test_a_model_object_over_the_limit_is_refused_before_download(aws: str, tmp_path: Path) -> None:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("s3").put_object(Bucket=BUCKET, Key="models/huge.onnx", Body=b"x" * 2048)
    with pytest.raises(JobError, match=r"s3://.*/models/huge.onnx: object is 2048 bytes, over the 1024-byte limit"):
        fetch_model(boto3.client("s3"), f"s3://{BUCKET}/models/huge.onnx", tmp_path, max_bytes=1024)
    assert list(tmp_path.iterdir()) == []


def test_manifest_blank_lines_and_crlf_do_not_shift_the_chunks(aws: str, embedder: Embedder) -> None:
    # GIVEN a manifest written on Windows, with blank lines and a key that contains spaces
    objects = good_images(4)
    objects["images/with space.jpg"] = images.jpeg(images.photo(seed=77))
    env = create_resources(objects, [])
    ordered = sorted(objects)
    body = "\r\n".join([ordered[0], "", ordered[1], ordered[2], "", ""]) + "\r\n" + "\n".join(ordered[3:]) + "\n"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=MANIFEST, Body=body.encode())
    # WHEN child 1 of chunks of 2 runs
    summary, failures = run({**env, "CHUNK_SIZE": "2", "AWS_BATCH_JOB_ARRAY_INDEX": "1"}, model=embedder)
    # THEN it embeds the 3rd and 4th keys, whatever the line endings and blank lines
    assert set(scan_items()) == {ordered[2], ordered[3]}
    assert (summary.listed, failures) == (2, [])


def test_python_dash_m_entry_point(aws: str, model_path: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    objects = good_images(2)
    env = {**os.environ, **create_resources(objects, sorted(objects)), "EMBEDDING_MODEL": str(model_path)}
    done = subprocess.run(
        [sys.executable, "-m", "batch_job", "run"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("summary: images=2 embedded=2 failed=0 seconds=")
    assert "progress: 2/2 images (0 failed)" in done.stderr
    missing = {k: v for k, v in env.items() if k != "IMAGES_BUCKET"}
    done = subprocess.run(
        [sys.executable, "-m", "batch_job", "run"], env=missing, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stderr) == (2, "error: environment variable IMAGES_BUCKET is required\n")


def test_manifest_that_is_not_text_is_one_clear_line(
    aws: str, embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    env = create_resources({}, [])
    boto3.client("s3").put_object(Bucket=BUCKET, Key=MANIFEST, Body=b"\xff\xd8\xff\xe0 a JPEG, not a manifest")
    with pytest.raises(JobError, match=r"MANIFEST_KEY s3://.*: not UTF-8 text \(expected one image key per line\)"):
        run(env, model=embedder)


def test_foreign_formats_named_like_images_are_failures_in_run(aws: str, embedder: Embedder) -> None:
    objects = {**good_images(1), **{f"images/{k}": v for k, v in images.foreign_formats().items()}}
    objects["images/strips.tif"] = images.striped_tiff(70_000)
    env = create_resources(objects, sorted(objects))
    summary, failures = run(env, model=embedder)
    reasons = {f.image_id: f.error for f in failures}
    assert summary.embedded == 1 and len(reasons) == len(objects) - 1
    assert reasons["images/eps.jpg"].startswith("PostScript/EPS is not a format the job decodes")
    assert reasons["images/strips.tif"] == "TIFF declares 70000 strips, over the limit of 65536 (MAX_TIFF_BLOCKS)"


def test_failures_object_that_is_listed_as_an_input_is_refused(aws: str, embedder: Embedder) -> None:
    key = f"failures/{RUN_ID}/0.jsonl"
    env = create_resources({key: b"precious"}, [key])
    with pytest.raises(JobError, match=r"failures object is also an input") as info:
        run(env, model=embedder)
    assert info.value.exit_code == 2
    assert boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"precious"


def test_a_model_key_ending_in_dot_dot_is_downloaded_to_a_fixed_name(aws: str, tmp_path: Path) -> None:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("s3").put_object(Bucket=BUCKET, Key="models/..", Body=b"x")
    path = fetch_model(boto3.client("s3"), f"s3://{BUCKET}/models/..", tmp_path)
    assert path == tmp_path / "model.onnx" and path.read_bytes() == b"x"


# --- bytes in flight ------------------------------------------------------------------------------------------


class RecordingS3:
    """The real S3 client, recording which keys were sized (HeadObject) and downloaded (GetObject)."""

    def __init__(self, real: Any, after_head: Any = None) -> None:
        self.real, self.after_head = real, after_head
        self.heads: list[str] = []
        self.gets: list[str] = []

    def head_object(self, **kwargs: Any) -> Any:
        self.heads.append(kwargs["Key"])
        response = self.real.head_object(**kwargs)
        if self.after_head is not None:
            self.after_head(kwargs["Key"])
        return response

    def get_object(self, **kwargs: Any) -> Any:
        self.gets.append(kwargs["Key"])
        return self.real.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class SlowS3(RecordingS3):
    """S3 whose HeadObject and GetObject each wait ``delay`` seconds first (a network round trip)."""

    def __init__(self, real: Any, delay: float) -> None:
        super().__init__(real)
        self.delay = delay

    def head_object(self, **kwargs: Any) -> Any:
        time.sleep(self.delay)
        return super().head_object(**kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        time.sleep(self.delay)
        return super().get_object(**kwargs)


def test_s3_reads_in_flight_grow_with_latency(aws: str, tmp_path: Path) -> None:
    # GIVEN 80 small JPEGs behind 40 ms per S3 request, a fast model and two decoders' worth of CPUs
    objects = {f"images/s{n:02d}.jpg": images.jpeg(images.photo(96, 72, seed=n)) for n in range(80)}
    env = create_resources(objects, sorted(objects))
    reads = ReadLimit(64, 2)
    tiny = Embedder(tiny_model(tmp_path / "tiny.onnx"))
    # WHEN the job runs with room for 64 reads
    summary, failures = run(env, model=tiny, s3=SlowS3(boto3.client("s3"), 0.04), workers=64, reads=reads)
    # THEN everything is embedded with many more reads in flight than decoders (the old fixed pool had 8)
    assert summary.embedded == len(objects) and not failures
    assert 8 < reads.peak <= 64 and reads.in_flight == 0


def bmp(side: int, seed: int) -> bytes:
    """An uncompressed BMP: its size is known from its side (3 bytes a pixel), whatever the content."""
    return images.encode(images.photo(side, side, seed=seed), "BMP")


def test_bytes_in_flight_never_exceed_the_cap_and_every_image_is_accounted_for(aws: str, embedder: Embedder) -> None:
    # GIVEN 12 BMPs of 70-270 KB (any two of the largest exceed the 300,000-byte cap), one object over the
    # 280,000-byte per-image limit, and eight concurrent readers
    objects = {f"images/b{n:02d}.bmp": bmp(150 + 12 * n, seed=n) for n in range(12)}
    objects["images/huge.bmp"] = bmp(400, seed=99)
    sizes = {key: len(data) for key, data in objects.items()}
    assert max(v for k, v in sizes.items() if k != "images/huge.bmp") < 280_000 < sizes["images/huge.bmp"]
    assert sum(sorted(sizes.values())[-3:-1]) > 300_000
    env = create_resources(objects, sorted(objects))
    s3 = RecordingS3(boto3.client("s3"))
    budget = ByteBudget(300_000)
    # WHEN the job runs with that budget
    summary, failures = run(
        env, model=embedder, s3=s3, workers=8, max_image_bytes=280_000, max_bytes_in_flight=300_000, budget=budget
    )
    # THEN the bytes held at once never passed the cap, readers did wait for room, and all of it was released
    assert 0 < budget.peak <= 300_000
    assert budget.waited > 0 and budget.in_flight == 0
    # AND every listed object is embedded or failed; the huge one was sized but never downloaded
    items = scan_items()
    assert summary.embedded + summary.failed == summary.listed == len(objects)
    assert set(items) == set(objects) - {"images/huge.bmp"}
    assert [(f.image_id, f.error) for f in failures] == [
        (
            "images/huge.bmp",
            f"object is {sizes['images/huge.bmp']} bytes, over the 280000-byte limit "
            "(--max-image-bytes); not downloaded",
        )
    ]
    assert "images/huge.bmp" in s3.heads and "images/huge.bmp" not in s3.gets
    assert failures_object(0) == [f.record() for f in failures]


def test_byte_budget_waits_for_room_first_come_first_served() -> None:
    import threading
    import time

    budget = ByteBudget(300)
    budget.acquire(250)
    order: list[str] = []

    def take(name: str, size: int) -> threading.Thread:
        def body() -> None:
            budget.acquire(size)
            order.append(name)

        thread = threading.Thread(target=body)
        thread.start()
        deadline = time.monotonic() + 10
        while budget.waited < {"big": 1, "small": 2}[name] and time.monotonic() < deadline:
            time.sleep(0.001)
        return thread

    # GIVEN 250 of 300 bytes held, a waiter for 100 bytes, then one for 10 (which alone would fit)
    big = take("big", 100)
    small = take("small", 10)
    # THEN neither got in: the small one queues behind the big one
    assert (budget.waited, budget.in_flight, order) == (2, 250, [])
    # WHEN the 250 bytes are released, both get in, in arrival order
    budget.release(250)
    big.join(10)
    small.join(10)
    assert order == ["big", "small"] and budget.in_flight == 110 and budget.peak == 250
    with pytest.raises(ValueError, match="cannot reserve 301 bytes of a 300-byte budget"):
        budget.acquire(301)


def test_an_object_replaced_between_head_and_get_is_a_failure(aws: str, embedder: Embedder) -> None:
    objects = good_images(2)
    env = create_resources(objects, sorted(objects))
    target = sorted(objects)[0]
    real = boto3.client("s3")

    def replace(key: str) -> None:
        if key == target:
            real.put_object(Bucket=BUCKET, Key=key, Body=images.jpeg(images.photo(640, 480, seed=5)))

    summary, failures = run(env, model=embedder, s3=RecordingS3(real, after_head=replace))
    assert (summary.embedded, [f.image_id for f in failures]) == (1, [target])
    assert (
        failures[0].error == f"s3://{BUCKET}/{target}: object was replaced between HeadObject and GetObject; not read"
    )
    assert set(scan_items()) == set(objects) - {target}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-bytes-in-flight", "1MiB", "--max-image-bytes", "2MiB"], r"--max-bytes-in-flight \(1048576\) must be"),
        (["--max-bytes-in-flight", "lots"], r"argument --max-bytes-in-flight: expected a size .* got 'lots'"),
        (["--max-bytes-in-flight", "0"], r"argument --max-bytes-in-flight: expected a size"),
        (["--max-image-bytes", "65GiB"], r"argument --max-image-bytes: expected a size from 1 byte to 64GiB"),
        (["--max-image-bytes", "1.5MB"], r"argument --max-image-bytes: expected a size"),
        (["--workers", "100000"], r"argument --workers: expected an integer from 1 to 256, got '100000'"),
        (["--batch-size", "99999999999"], r"argument --batch-size: expected an integer from 1 to 1024"),
        (["--batch-size", "3\n\x1b[2J"], r"got '3\\n\\x1b\[2J' \(see python -m batch_job run --help\)$"),
        (["--unknown"], r"unrecognized arguments: --unknown"),
    ],
)
def test_bad_run_arguments_are_one_clear_line(
    aws: str,
    model_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    objects = good_images(1)
    for name, value in {**create_resources(objects, sorted(objects)), "EMBEDDING_MODEL": str(model_path)}.items():
        monkeypatch.setenv(name, value)
    assert main(["run", *args]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and re.search(message, lines[0]), lines
    assert out == "" and scan_items() == {}


def test_size_options_take_units() -> None:
    from batch_job.cli import build_parser

    args = build_parser().parse_args(["run", "--max-bytes-in-flight", "300MB", "--max-image-bytes", "16MiB"])
    assert (args.max_bytes_in_flight, args.max_image_bytes) == (300_000_000, 16 * 1024 * 1024)
    defaults = build_parser().parse_args(["run"])
    assert (defaults.max_bytes_in_flight, defaults.max_image_bytes) == (256 * 1024 * 1024, 64 * 1024 * 1024)


# --- hostile objects and keys ---------------------------------------------------------------------------------


def test_hostile_object_bytes_are_failures_with_reasons_and_the_run_goes_on(aws: str, embedder: Embedder) -> None:
    good = images.jpeg(images.photo(seed=1))
    hostile = {
        "h/eps.jpg": images.foreign_formats()["eps.jpg"],
        "h/pages.tif": images.striped_tiff(4, pages=10_001),
        "h/strips.tif": images.striped_tiff(70_000),
        "h/frames.png": images.apng_header_claiming(20_000),
        "h/ztxt.png": images.png_with_chunks(
            [images.png_chunk(b"zTXt", b"k\x00\x00" + __import__("zlib").compress(b"a" * (2 * 1024 * 1024)))]
        ),
        "h/truncated.png": images.png(images.photo(seed=2))[:-30],
        "h/random.webp": bytes(np.random.default_rng(3).integers(0, 256, 500, dtype=np.uint8)),
        "h/bomb.png": images.decompression_bomb(),
    }
    objects = {"ok/1.jpg": good, **hostile, "ok/2.jpg": images.jpeg(images.photo(seed=4))}
    env = create_resources(objects, sorted(objects))
    summary, failures = run(env, model=embedder)
    reasons = {f.image_id: f.error for f in failures}
    assert set(scan_items()) == {"ok/1.jpg", "ok/2.jpg"} and set(reasons) == set(hostile)
    assert summary.embedded + summary.failed == summary.listed == len(objects)
    assert reasons["h/eps.jpg"].startswith("PostScript/EPS is not a format the job decodes")
    assert reasons["h/pages.tif"] == "TIFF has more than 10000 pages (limit MAX_FRAMES=10000)"
    assert reasons["h/strips.tif"].endswith("over the limit of 65536 (MAX_TIFF_BLOCKS)")
    assert re.fullmatch(r"PNG declares 2000\d frames, over the limit of 10000 \(MAX_FRAMES\)", reasons["h/frames.png"])
    assert "MAX_TEXT_CHUNK" in reasons["h/ztxt.png"]
    assert reasons["h/truncated.png"].startswith("corrupt PNG data")
    assert reasons["h/random.webp"].startswith("not an image in a format the job decodes")
    assert reasons["h/bomb.png"].startswith("decompression bomb refused")
    assert {f["image_id"]: f["error"] for f in failures_object(0)} == reasons


def test_keys_with_control_characters_and_lines_that_are_not_utf8(
    aws: str, embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a key holding an ANSI escape, a tab and a newline-free fake summary, and manifest lines that are
    # not UTF-8 or longer than any S3 key
    odd = "images/\x1b[2J\tsummary: images=0.jpg"
    objects = {odd: images.jpeg(images.photo(seed=6)), **good_images(1)}
    env = create_resources(objects, [])
    lines = [odd.encode(), b"images/\xff\xfe\\.jpg", ("images/" + "x" * 1100 + ".jpg").encode(), b"images/img-000.jpg"]
    boto3.client("s3").put_object(Bucket=BUCKET, Key=MANIFEST, Body=b"\n".join(lines) + b"\n")
    # WHEN the job runs
    summary, failures = run(env, model=embedder)
    # THEN the odd key is embedded under its exact name; the other lines are failures with escaped ids
    assert set(scan_items()) == {odd, "images/img-000.jpg"}
    reasons = {f.image_id: f.error for f in failures}
    assert reasons["images/\\xff\\xfe\\\\.jpg"].startswith("manifest line is not valid UTF-8")
    assert len(reasons) == 2 and any(e.startswith("manifest line is longer than 1024 bytes") for e in reasons.values())
    assert (summary.listed, summary.embedded, summary.failed) == (4, 2, 2)
    # AND the failures object is valid JSON lines with those ids; nothing printed holds a raw control character
    assert {f["image_id"] for f in failures_object(0)} == set(reasons)
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err


def test_a_systemic_error_quoting_a_key_stays_one_line(aws: str, embedder: Embedder) -> None:
    # GIVEN a key and a DynamoDB error message holding an ANSI escape, NEL, LINE SEPARATOR and a newline
    odd = "images/a\x1b[2Jb\x85\u2028.jpg"  # no \r or \n: those end a manifest line
    env = create_resources({odd: images.jpeg(images.photo(seed=6))}, [odd])
    # WHEN every write fails, so the job stops quoting the first failure
    with pytest.raises(JobError) as info:
        run(env, model=embedder, dynamodb=FailingDynamoDB(boto3.client("dynamodb"), "x\n\x1b[2J"))
    # THEN its message is one printable line, the odd characters escaped
    message = str(info.value)
    assert info.value.exit_code == 1 and message.isprintable(), message
    assert "images/a\\x1b[2Jb\\x85\\u2028.jpg" in message


def test_a_retried_child_replaces_its_earlier_failures_record(aws: str, embedder: Embedder) -> None:
    # GIVEN the failures object an earlier attempt of this child wrote (its images failed on DynamoDB)
    objects = good_images(2)
    env = create_resources(objects, sorted(objects))
    stale = "".join(json.dumps({"image_id": k, "error": "throttled"}) + "\n" for k in objects).encode()
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"failures/{RUN_ID}/0.jsonl", Body=stale)
    # WHEN the retry embeds everything
    summary, failures = run(env, model=embedder)
    # THEN the failures object says nothing failed, as the results table does
    assert (summary.embedded, failures) == (2, []) and failures_object(0) == []
    assert set(scan_items()) == set(objects)


# --- fuzz: hostile buckets ------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.batch_job.hostile import hostile_bytes  # noqa: E402

# Key text: anything but line breaks (a manifest line cannot hold them; the submitter never writes such keys)
# and lone surrogates (not UTF-8), so control characters, spaces and odd Unicode all appear.
_KEY = st.text(
    st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), min_size=1, max_size=16
).filter(lambda k: len(k.encode()) < 900)
_LINE = st.one_of(
    st.tuples(st.just("object"), _KEY, hostile_bytes()),
    st.tuples(st.just("missing"), _KEY, st.just(b"")),
    st.tuples(st.just("oversized"), _KEY, st.just(images.encode(images.photo(120, 120, seed=1), "BMP"))),
    st.tuples(st.just("not-utf8"), st.just(""), st.binary(min_size=1, max_size=12)),
)
_MAX_IMAGE = 40_000  # the oversized BMP is 43,254 bytes
_CAP = 60_000


class RecordingBudget(ByteBudget):
    made: list[RecordingBudget] = []

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        RecordingBudget.made.append(self)


def manifest_line(kind: str, key: str, data: bytes) -> bytes:
    if kind == "not-utf8":
        return b"images/" + data + b"\xff.jpg"  # never valid UTF-8
    return ("images/" + key).encode()


@seed(23)
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(_LINE, min_size=1, max_size=6, unique_by=lambda line: line[1] or line[2]))
def test_fuzz_run_never_tracebacks_and_accounts_for_every_listed_image(
    moto_server: str, model_path: Path, lines: list[tuple[str, str, bytes]]
) -> None:
    import contextlib
    import io
    import os
    import urllib.request
    from unittest import mock

    reset = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")  # noqa: S310 - loopback moto
    urllib.request.urlopen(reset, timeout=30).close()  # noqa: S310 - a clean state per example
    # GIVEN a bucket holding hostile objects under odd keys, a manifest listing them (and missing keys,
    # an object over the per-image limit, lines that are not UTF-8), and a tight bytes-in-flight cap
    objects = {("images/" + key): data for kind, key, data in lines if kind in ("object", "oversized")}
    env = create_resources(objects, [])
    manifest = [manifest_line(kind, key, data) for kind, key, data in lines]
    boto3.client("s3").put_object(Bucket=BUCKET, Key=MANIFEST, Body=b"\n".join(manifest) + b"\n")
    RecordingBudget.made.clear()
    out, err = io.StringIO(), io.StringIO()
    args = ["run", "--max-image-bytes", str(_MAX_IMAGE), "--max-bytes-in-flight", str(_CAP), "--workers", "4"]
    # WHEN the job runs
    with (
        mock.patch.dict(os.environ, {**env, "EMBEDDING_MODEL": str(model_path)}),
        mock.patch("batch_job.aws.ByteBudget", RecordingBudget),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(args)
    # THEN no traceback: exit 0, or 1 with one error line when not one line of its slice is UTF-8
    stdout, stderr = out.getvalue(), err.getvalue()
    assert "Traceback" not in stderr
    items = scan_items()
    keys = object_keys()
    if all(kind == "not-utf8" for kind, _, _ in lines):
        assert code == 1 and stderr.strip().splitlines() == [
            f"error: MANIFEST_KEY s3://{BUCKET}/{MANIFEST}: not UTF-8 text (expected one image key per line)"
        ]
        assert items == {} and not any(k.startswith("failures/") for k in keys)  # outputs absent
        return
    assert code == 0, stderr
    # AND every listed line is an item or a failure with a reason; the failures object holds exactly those
    failures = failures_object(0)
    listed = len(manifest)
    summary = stdout.strip().splitlines()[-1]
    assert summary.startswith(f"summary: images={listed} embedded={len(items)} failed={len(failures)} ")
    assert len(items) + len(failures) == listed
    assert all(f["error"] for f in failures)
    assert set(items) <= set(objects) and all(item["Dimension"] == 512 for item in items.values())
    ids = {f["image_id"] for f in failures} | set(items)
    assert {("images/" + key) for kind, key, _ in lines if kind != "not-utf8"} <= ids
    for kind, key, _ in lines:
        if kind == "oversized" and ("images/" + key) not in items:
            assert any(f["image_id"] == "images/" + key and "not downloaded" in f["error"] for f in failures)
    # AND the bytes in flight stayed under the cap; nothing was left reserved
    (budget,) = RecordingBudget.made
    assert budget.peak <= _CAP and budget.in_flight == 0
    assert "\x1b" not in stderr and all(line.isprintable() for line in stderr.splitlines())


class ChunkedBody:
    """A streamed body in chunks of ``size`` bytes (what botocore's StreamingBody.iter_chunks yields)."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    def iter_chunks(self, chunk_size: int) -> Any:
        return (self.data[i : i + self.size] for i in range(0, len(self.data), self.size))


@seed(5)
@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"\xff", b" ", b"\n", b"\r", b"\r\n", b"\x85", b"key"]), max_size=40).map(
        b"".join
    ),
    chunk=st.integers(1, 9),
    limit=st.integers(1, 12),
)
def test_bounded_lines_split_as_bytes_splitlines_does_and_cut_long_lines(data: bytes, chunk: int, limit: int) -> None:
    from batch_job.aws import bounded_lines

    got = list(bounded_lines(ChunkedBody(data, chunk), limit, chunk_size=chunk))
    assert got == [(line[:limit], len(line) > limit) for line in data.splitlines()]


def test_a_line_of_many_megabytes_is_read_in_bounded_memory() -> None:
    import tracemalloc

    from batch_job.aws import bounded_lines

    # GIVEN a 64 MiB "line" with no line break, streamed in 64 KiB chunks
    class Endless:
        def iter_chunks(self, chunk_size: int) -> Any:
            return (b"x" * chunk_size for _ in range(1024))

    # WHEN it is split into lines
    tracemalloc.start()
    lines = list(bounded_lines(Endless(), 1024))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # THEN it is one line, cut to 1,024 bytes, and never held whole (a few chunks at most)
    assert lines == [(b"x" * 1024, True)]
    assert peak < 16 * 64 * 1024, peak


def test_a_manifest_line_longer_than_a_key_is_a_failure_and_the_run_goes_on(aws: str, embedder: Embedder) -> None:
    objects = good_images(1)
    env = create_resources(objects, [])
    body = b"images/" + b"y" * 200_000 + b"\n" + sorted(objects)[0].encode() + b"\n"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=MANIFEST, Body=body)
    summary, failures = run(env, model=embedder)
    assert set(scan_items()) == set(objects) and summary.listed == 2
    assert [f.error for f in failures] == ["manifest line is longer than 1024 bytes, the limit of an S3 key"]
    assert failures[0].image_id == "images/" + "y" * (1024 - 7)

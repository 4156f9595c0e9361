"""The embeddings benchmark's latency proxy (``benchmarks/latency_proxy.py``) in front of moto's server mode.

GIVEN moto (the session fixture) and the proxy started as the benchmark starts it (``python -m
benchmarks.latency_proxy`` in its own process), WHEN boto3 talks to S3 and DynamoDB through it, THEN every
answer is the one moto gives directly (bodies, headers, status codes, errors), each request is held at least
its service's configured delay, requests in parallel are held in parallel, and bad options are one error line.
Only lower bounds on elapsed time are asserted (the machine is shared), except where parallel requests must
finish sooner than the same requests held one after another would.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import REPO_ROOT

BUCKET = "proxy-bucket"
TABLE = "proxy-table"

StartProxy = Callable[..., str]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.latency_proxy", *args]


def _wait_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"latency proxy exited {process.returncode} before listening: {error}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"latency proxy did not listen on {port} within 60 s")


@pytest.fixture
def start_proxy(aws: str) -> Iterator[StartProxy]:
    """start_proxy(s3_ms=..., dynamodb_ms=..., upstream=moto) -> the proxy's endpoint URL; stopped after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*, s3_ms: float, dynamodb_ms: float, upstream: str = aws) -> str:
        port = _free_port()
        command = _command("--upstream", upstream, "--port", str(port))
        command += ["--s3-ms", str(s3_ms), "--dynamodb-ms", str(dynamodb_ms)]
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
        _wait_listening(process, port)
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()


def _clients(endpoint: str, pool: int = 10) -> tuple[Any, Any]:
    config = Config(max_pool_connections=pool, retries={"mode": "standard", "max_attempts": 1})
    return (
        boto3.client("s3", endpoint_url=endpoint, config=config),
        boto3.client("dynamodb", endpoint_url=endpoint, config=config),
    )


def _table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "ImageId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "ImageId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


# Headers moto sets per response (request ids, date) differ between any two calls, through the proxy or not.
_PER_CALL = {"date", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "server", "connection"}


def _headers(response: dict[str, Any]) -> dict[str, str]:
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    return {k: v for k, v in headers.items() if k not in _PER_CALL}


def test_s3_objects_pass_through_unchanged(aws: str, start_proxy: StartProxy) -> None:
    # GIVEN a bucket in moto and the proxy in front of it
    proxied = start_proxy(s3_ms=1, dynamodb_ms=1)
    s3_direct, _ = _clients(aws)
    s3, _ = _clients(proxied)
    s3.create_bucket(Bucket=BUCKET)
    body = os.urandom(3 * 1024 * 1024 + 17)  # larger than botocore's Expect: 100-continue threshold
    # WHEN objects are written and read through the proxy
    put = s3.put_object(
        Bucket=BUCKET, Key="a/photo.jpg", Body=body, ContentType="image/jpeg", Metadata={"camera": "phone"}
    )
    s3.put_object(Bucket=BUCKET, Key="a/empty", Body=b"")
    got = s3.get_object(Bucket=BUCKET, Key="a/photo.jpg")
    # THEN moto stored exactly what was sent (request body and headers relayed) ...
    stored = s3_direct.get_object(Bucket=BUCKET, Key="a/photo.jpg")
    assert stored["Body"].read() == body
    assert stored["ContentType"] == "image/jpeg" and stored["Metadata"] == {"camera": "phone"}
    # ... and the client gets what moto answers directly: body, status and headers
    assert got["Body"].read() == body
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["ETag"] == put["ETag"] == stored["ETag"]
    assert _headers(got) == _headers(stored)
    assert s3.get_object(Bucket=BUCKET, Key="a/empty")["Body"].read() == b""
    ranged = s3.get_object(Bucket=BUCKET, Key="a/photo.jpg", Range="bytes=10-19")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["Body"].read() == body[10:20]
    head = s3.head_object(Bucket=BUCKET, Key="a/photo.jpg")
    assert head["ContentLength"] == len(body) and head["Metadata"] == {"camera": "phone"}
    assert _headers(head) == _headers(s3_direct.head_object(Bucket=BUCKET, Key="a/photo.jpg"))
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="a/")
    assert [o["Key"] for o in listed["Contents"]] == ["a/empty", "a/photo.jpg"]
    deleted = s3.delete_object(Bucket=BUCKET, Key="a/empty")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_s3_errors_pass_through_with_their_status_and_code(aws: str, start_proxy: StartProxy) -> None:
    proxied = start_proxy(s3_ms=1, dynamodb_ms=1)
    s3, _ = _clients(proxied)
    s3.create_bucket(Bucket=BUCKET)
    with pytest.raises(ClientError) as missing_key:
        s3.get_object(Bucket=BUCKET, Key="missing.jpg")
    assert missing_key.value.response["Error"]["Code"] == "NoSuchKey"
    assert missing_key.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as missing_bucket:
        s3.get_object(Bucket="no-such-bucket", Key="x")
    assert missing_bucket.value.response["Error"]["Code"] == "NoSuchBucket"
    # HEAD has no body: the status alone says 404 (and the connection stays usable afterwards)
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=BUCKET, Key="missing.jpg")
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_object(Bucket=BUCKET, Key="after-404", Body=b"still fine")
    assert s3.get_object(Bucket=BUCKET, Key="after-404")["Body"].read() == b"still fine"


def test_dynamodb_items_and_errors_pass_through(aws: str, start_proxy: StartProxy) -> None:
    proxied = start_proxy(s3_ms=1, dynamodb_ms=1)
    _, dynamodb_direct = _clients(aws)
    _, dynamodb = _clients(proxied)
    _table(dynamodb)
    item = {"ImageId": {"S": "set-1/img.jpg"}, "Vector": {"B": os.urandom(2048)}, "Model": {"S": "resnet18"}}
    dynamodb.put_item(TableName=TABLE, Item=item)
    written = dynamodb.batch_write_item(
        RequestItems={TABLE: [{"PutRequest": {"Item": {"ImageId": {"S": f"b-{n}"}}}} for n in range(25)]}
    )
    assert written["UnprocessedItems"] == {}
    got = dynamodb.get_item(TableName=TABLE, Key={"ImageId": {"S": "set-1/img.jpg"}})
    assert got["Item"] == item
    assert dynamodb_direct.get_item(TableName=TABLE, Key={"ImageId": {"S": "set-1/img.jpg"}})["Item"] == item
    assert dynamodb_direct.scan(TableName=TABLE, Select="COUNT")["Count"] == 26
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"ImageId": {"S": "absent"}})
    with pytest.raises(ClientError) as conditional:
        dynamodb.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(ImageId)")
    assert conditional.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert conditional.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as no_table:
        dynamodb.get_item(TableName="no-such-table", Key={"ImageId": {"S": "x"}})
    assert no_table.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _elapsed(call: Callable[[], object], times: int) -> float:
    start = time.perf_counter()
    for _ in range(times):
        call()
    return time.perf_counter() - start


def test_each_request_waits_at_least_its_services_delay(start_proxy: StartProxy) -> None:
    """S3 and DynamoDB are told apart by X-Amz-Target: each proxy holds one service long and the other not
    at all, and N requests of the held service take at least N x its delay."""
    delay, count = 0.25, 4
    s3_held, _ = _clients(start_proxy(s3_ms=delay * 1000, dynamodb_ms=0))
    _, dynamodb_held = _clients(start_proxy(s3_ms=0, dynamodb_ms=delay * 1000))
    s3_held.create_bucket(Bucket=BUCKET)
    s3_held.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    _table(dynamodb_held)
    assert _elapsed(lambda: s3_held.get_object(Bucket=BUCKET, Key="k")["Body"].read(), count) >= count * delay
    key = {"ImageId": {"S": "k"}}
    assert _elapsed(lambda: dynamodb_held.get_item(TableName=TABLE, Key=key), count) >= count * delay
    # the defaults are the benchmark's figures (50 ms S3, 10 ms DynamoDB); ten S3 GETs take >= 0.5 s
    from benchmarks.latency_proxy import DYNAMODB_DELAY_MS, S3_DELAY_MS

    s3_default, _ = _clients(start_proxy(s3_ms=S3_DELAY_MS, dynamodb_ms=DYNAMODB_DELAY_MS))
    assert _elapsed(lambda: s3_default.get_object(Bucket=BUCKET, Key="k"), 10) >= 10 * S3_DELAY_MS / 1000


def test_parallel_requests_are_delayed_in_parallel(start_proxy: StartProxy) -> None:
    """8 GETs at once through a 200 ms proxy finish well before 8 x 200 ms, the time one after another
    would take at the least (what a proxy that serialised requests would need)."""
    delay, parallel = 0.2, 8
    s3, _ = _clients(start_proxy(s3_ms=delay * 1000, dynamodb_ms=0), pool=parallel)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"x" * 1000)
    barrier = threading.Barrier(parallel + 1)
    bodies: list[bytes] = []

    def get() -> None:
        barrier.wait()
        bodies.append(s3.get_object(Bucket=BUCKET, Key="k")["Body"].read())

    threads = [threading.Thread(target=get) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    assert bodies == [b"x" * 1000] * parallel
    assert delay <= elapsed < parallel * delay


def test_an_unreachable_upstream_is_a_502_with_the_reason(start_proxy: StartProxy) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    endpoint = start_proxy(s3_ms=0, dynamodb_ms=0, upstream=dead)
    connection = http.client.HTTPConnection("127.0.0.1", int(endpoint.rsplit(":", 1)[1]), timeout=30)
    connection.request("GET", "/bucket/key")
    response = connection.getresponse()
    assert response.status == 502
    assert f"upstream {dead} failed" in response.read().decode()
    connection.close()


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--s3-ms", "-5"], "--s3-ms must be a number of milliseconds >= 0, got -5.0"),
        (["--dynamodb-ms", "-0.5"], "--dynamodb-ms must be a number of milliseconds >= 0, got -0.5"),
        (["--s3-ms", "nan"], "--s3-ms must be a number of milliseconds >= 0, got nan"),
        (["--sqs-ms", "10"], "unrecognized arguments: --sqs-ms 10"),
        (["--s3-ms", "fast"], "argument --s3-ms: invalid float value: 'fast'"),
        (
            ["--upstream", "127.0.0.1:5000"],
            "--upstream must be http://HOST:PORT (the moto server), got '127.0.0.1:5000'",
        ),
        (["--upstream", "https://127.0.0.1:5000"], "--upstream must be http://HOST:PORT"),
        (["--upstream", "http://127.0.0.1"], "--upstream must be http://HOST:PORT"),
        (["--port", "70000"], "--port must be 1-65535, got 70000"),
    ],
)
def test_bad_options_are_one_clear_error(options: list[str], reason: str) -> None:
    arguments = {"--upstream": "http://127.0.0.1:5000", "--port": str(_free_port())}
    extra: list[str] = []
    for name, value in zip(options[::2], options[1::2], strict=True):
        if name in arguments:
            arguments[name] = value
        else:
            extra += [name, value]
    command = _command(*[part for pair in arguments.items() for part in pair], *extra)
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("python -m benchmarks.latency_proxy: error: ")
    assert reason in last


def test_a_port_in_use_is_one_clear_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = _command("--upstream", "http://127.0.0.1:5000", "--port", str(port))
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"python -m benchmarks.latency_proxy: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_the_handler_refuses_a_negative_delay() -> None:
    from benchmarks.latency_proxy import make_handler

    with pytest.raises(ValueError, match=r"s3_delay must be a finite number of seconds >= 0, got -0.1"):
        make_handler("127.0.0.1", 5000, -0.1, 0.01)
    with pytest.raises(ValueError, match=r"dynamodb_delay must be a finite number of seconds >= 0, got inf"):
        make_handler("127.0.0.1", 5000, 0.05, float("inf"))

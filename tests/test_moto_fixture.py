"""The shared moto fixture really serves AWS APIs over HTTP and isolates tests."""

from __future__ import annotations

import boto3


def test_clients_reach_the_local_endpoint(aws: str) -> None:
    s3 = boto3.client("s3")
    assert s3.meta.endpoint_url == aws
    s3.create_bucket(Bucket="fixture-check")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["fixture-check"]


def test_state_is_reset_between_tests(aws: str) -> None:
    assert boto3.client("s3").list_buckets()["Buckets"] == []

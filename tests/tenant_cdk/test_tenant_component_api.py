"""The sample component's API handler against moto: silo and pool tenancy, bad input answered with 400."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest

from devops_blueprints.assets import load_lambda_module


def _load() -> ModuleType:
    return load_lambda_module("tenant_component_api", siblings_importable=True)


api = _load()


@pytest.fixture
def table(aws: str) -> Iterator[Any]:
    resource = boto3.resource("dynamodb", region_name="us-east-1")
    created = resource.create_table(
        TableName="component",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield created


def _event(method: str, key: str | None, body: object = None, tenant: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "requestContext": {"http": {"method": method}},
        "pathParameters": {"key": key} if key is not None else None,
        "headers": {"X-Tenant-Id": tenant} if tenant is not None else {},
    }
    if body is not None:
        event["body"] = json.dumps(body)
    return event


SILO = {"DEPLOYMENT_TYPE": "silo", "DEPLOYMENT_ID": "acme"}
POOL = {"DEPLOYMENT_TYPE": "pool", "DEPLOYMENT_ID": "pool2"}


def test_silo_serves_its_one_tenant(table: Any) -> None:
    assert api.handle(_event("PUT", "greeting", {"hello": "world"}), table, SILO)["statusCode"] == 200
    response = api.handle(_event("GET", "greeting"), table, SILO)
    assert response["statusCode"] == 200
    assert json.loads(json.loads(response["body"])["value"]) == {"hello": "world"}
    assert table.get_item(Key={"pk": "acme#greeting"})["Item"]["tenant"] == "acme"


def test_pool_keeps_tenants_apart(table: Any) -> None:
    api.handle(_event("PUT", "k", "a-value", tenant="tenant-a"), table, POOL)
    assert api.handle(_event("GET", "k", tenant="tenant-a"), table, POOL)["statusCode"] == 200
    assert api.handle(_event("GET", "k", tenant="tenant-b"), table, POOL)["statusCode"] == 404


@pytest.mark.parametrize(
    ("event", "environ", "message"),
    [
        (_event("GET", "k"), POOL, "header x-tenant-id must match [a-z][a-z0-9-]{0,30}, got None"),
        (
            _event("GET", "k", tenant="Tenant;rm"),
            POOL,
            "header x-tenant-id must match [a-z][a-z0-9-]{0,30}, got 'Tenant;rm'",
        ),
        (_event("GET", "../etc"), SILO, "path key must match [A-Za-z0-9._-]{1,128}, got '../etc'"),
        (_event("DELETE", "k"), SILO, "method 'DELETE' not allowed (GET, PUT)"),
    ],
)
def test_bad_requests_get_one_clear_error(
    table: Any, event: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    response = api.handle(event, table, environ)
    assert response["statusCode"] in (400, 405)
    assert json.loads(response["body"]) == {"error": message}


def test_body_that_is_not_json_is_refused(table: Any) -> None:
    event = _event("PUT", "k")
    event["body"] = "{not json"
    response = api.handle(event, table, SILO)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"].startswith("body must be JSON: ")


# -- hostile requests (issue 11): always a 4xx naming the problem, nothing stored ------------------------------


def _put(body: Any, **extra: Any) -> dict[str, Any]:
    return {**_event("PUT", "k"), "body": body, **extra}


MAX = api.MAX_BODY_BYTES
HOSTILE = [
    ("not an event", 400, "event must be an HTTP API request object, got str"),
    ({**_event("GET", "k"), "headers": ["x-tenant-id", "a"]}, 400, "headers must be an object, got list"),
    ({**_event("GET", "k"), "headers": {5: "a", "x-tenant-id": ["a"]}}, 400, "header x-tenant-id must match"),
    ({**_event("GET", "k", tenant="a" * 5000)}, 400, "header x-tenant-id must match"),
    ({**_event("GET", "k"), "pathParameters": "k"}, 400, "pathParameters must be an object, got str"),
    ({**_event("GET", "k"), "requestContext": "GET"}, 400, "requestContext must be an object, got str"),
    ({**_event("GET", "k"), "requestContext": {"http": ["GET"]}}, 400, "http must be an object, got list"),
    ({**_event("GET", "k"), "requestContext": {"http": {"method": ["GET"]}}}, 405, "method ['GET'] not allowed"),
    (_put({"a": 1}), 400, "body must be a string, got dict"),
    (_put("NaN"), 400, "body must be JSON: NaN is not JSON"),
    (_put('{"x": -Infinity}'), 400, "body must be JSON: -Infinity is not JSON"),
    (_put("[" * 100_000 + "]" * 100_000), 400, "body must be JSON nested less deeply"),
    (_put("9" * 5000), 400, "body must be JSON: Exceeds the limit"),
    (_put("{\x00}"), 400, "body must be JSON: "),
    (_put(json.dumps("x" * MAX)), 413, f"body must be at most {MAX} bytes"),
    (_put('"' + "\u2603" * (MAX // 3 - 1) + '"'), 413, f"value must be at most {MAX} bytes as JSON text"),
    (_put("not base64!", isBase64Encoded=True), 400, "body is marked isBase64Encoded but is not valid base64"),
    (_put(base64.b64encode(b'"\xff"').decode(), isBase64Encoded=True), 400, "body must be UTF-8 text"),
    (_put("A" * (MAX * 2), isBase64Encoded=True), 413, f"body must be at most {MAX} bytes"),
]


@pytest.mark.parametrize(
    ("event", "status", "message"), HOSTILE, ids=[f"{i}-{message[:30]}" for i, (_, _, message) in enumerate(HOSTILE)]
)
def test_hostile_requests_get_a_4xx_naming_the_problem(table: Any, event: Any, status: int, message: str) -> None:
    response = api.handle(event, table, POOL if message.startswith("header") else SILO)  # pool reads the header

    assert response["statusCode"] == status
    error = json.loads(response["body"])["error"]
    assert error.startswith(message)
    assert len(error) < 300
    assert table.scan()["Items"] == []


def test_a_base64_encoded_json_body_is_stored(table: Any) -> None:
    body = base64.b64encode(json.dumps({"snow": "\u2603"}).encode()).decode()

    assert api.handle(_put(body, isBase64Encoded=True), table, SILO)["statusCode"] == 200

    assert json.loads(table.get_item(Key={"pk": "acme#k"})["Item"]["value"]) == {"snow": "\u2603"}


def test_the_largest_body_is_stored(table: Any) -> None:
    body = json.dumps("x" * (MAX - 2))
    assert len(body) == MAX

    assert api.handle(_put(body), table, SILO)["statusCode"] == 200

    assert table.get_item(Key={"pk": "acme#k"})["Item"]["value"] == body

"""The sample component's API handler against moto: silo and pool tenancy, bad input answered with 400."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest

from devops_blueprints.assets import load_lambda_module


def _load() -> ModuleType:
    return load_lambda_module("tenant_component_api")


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

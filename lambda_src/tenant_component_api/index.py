"""The sample tenant component's API: ``GET|PUT /items/{key}`` backed by one DynamoDB table.

silo deployments serve one tenant (``TENANT_ID``); pool deployments serve every tenant of the pool, named
by the ``x-tenant-id`` request header. Items are keyed ``<tenant>#<key>`` so pooled tenants never see
each other's data.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import boto3

_TENANT_RE = re.compile(r"[a-z][a-z0-9-]{0,30}")
_KEY_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_table: Any = None


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def tenant_of(event: dict[str, Any], environ: dict[str, str]) -> str:
    """The tenant a request belongs to; ValueError with one line when it cannot be told."""
    if environ.get("DEPLOYMENT_TYPE") == "silo":
        return environ["DEPLOYMENT_ID"]
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    tenant = headers.get("x-tenant-id")
    if not isinstance(tenant, str) or not _TENANT_RE.fullmatch(tenant):
        raise ValueError(f"header x-tenant-id must match [a-z][a-z0-9-]{{0,30}}, got {tenant!r}")
    return tenant


def handle(event: dict[str, Any], table: Any, environ: dict[str, str]) -> dict[str, Any]:
    """Serve one HTTP API (payload v2) request against ``table``."""
    try:
        tenant = tenant_of(event, environ)
    except ValueError as exc:
        return _response(400, {"error": str(exc)})
    key = (event.get("pathParameters") or {}).get("key")
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        return _response(400, {"error": f"path key must match [A-Za-z0-9._-]{{1,128}}, got {key!r}"})
    item_key = f"{tenant}#{key}"
    method = event.get("requestContext", {}).get("http", {}).get("method")
    if method == "GET":
        item = table.get_item(Key={"pk": item_key}).get("Item")
        if item is None:
            return _response(404, {"error": f"no item {key!r}"})
        return _response(200, {"key": key, "value": item.get("value")})
    if method == "PUT":
        try:
            value = json.loads(event.get("body") or "null")
        except json.JSONDecodeError as exc:
            return _response(400, {"error": f"body must be JSON: {exc.msg}"})
        table.put_item(Item={"pk": item_key, "tenant": tenant, "value": json.dumps(value)})
        return _response(200, {"key": key})
    return _response(405, {"error": f"method {method!r} not allowed (GET, PUT)"})


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    return handle(event, _table, dict(os.environ))

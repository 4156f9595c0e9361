"""The sample tenant component's API: ``GET|PUT /items/{key}`` backed by one DynamoDB table.

silo deployments serve one tenant (``TENANT_ID``); pool deployments serve every tenant of the pool, named
by the ``x-tenant-id`` request header. Items are keyed ``<tenant>#<key>`` so pooled tenants never see
each other's data.

Requests (HTTP API payload format 2.0) are parsed defensively: a request this function cannot serve gets a 4xx
with ``{"error": "..."}`` naming what is wrong, never a 500 - an event that is not an object, ``headers`` /
``pathParameters`` / ``requestContext`` of the wrong type, a body that is not a string, not valid base64 (when
``isBase64Encoded``), not UTF-8, not JSON (``NaN``/``Infinity`` included, which ``json`` would otherwise
accept), nested too deeply to parse, or larger than ``MAX_BODY_BYTES`` (413: the item must stay under
DynamoDB's 400 KB item limit, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).

Feature flags (AppConfig, read by ``feature_flag_reader`` through the extension; off when they cannot be read):
``maintenance`` turns PUT into 503 with the flag's ``message``; ``item-size-limit`` lowers the largest stored value
to its ``kib`` KiB (413 above it). GET is never affected.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import boto3
import feature_flag_reader

_TENANT_RE = re.compile(r"[a-z][a-z0-9-]{0,30}")
_KEY_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: Largest request body, and largest stored value (its JSON text), in bytes: leaves room under the 400 KB item
#: limit for the key and the tenant attribute.
MAX_BODY_BYTES = 300 * 1024
_table: Any = None
_flags: feature_flag_reader.FlagReader | None = None


class BadRequestError(ValueError):
    """A request this function cannot serve: ``status`` and a one-line message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _object(event: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """``event[name]`` as a mapping (absent or null: empty)."""
    value = event.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{name} must be an object, got {type(value).__name__}")
    return value


def tenant_of(event: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The tenant a request belongs to; ValueError with one line when it cannot be told."""
    if environ.get("DEPLOYMENT_TYPE") == "silo":
        return environ["DEPLOYMENT_ID"]
    headers = {k.lower(): v for k, v in _object(event, "headers").items() if isinstance(k, str)}
    tenant = headers.get("x-tenant-id")
    if not isinstance(tenant, str) or not _TENANT_RE.fullmatch(tenant):
        raise BadRequestError(f"header x-tenant-id must match [a-z][a-z0-9-]{{0,30}}, got {_show(tenant)}")
    return tenant


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_body(event: Mapping[str, Any]) -> object:
    """The request body as a JSON value (no body: None); BadRequestError saying why it is not one."""
    body = event.get("body")
    if body is None:
        return None
    if not isinstance(body, str):
        raise BadRequestError(f"body must be a string, got {type(body).__name__}")
    too_large = BadRequestError(f"body must be at most {MAX_BODY_BYTES} bytes", status=413)
    if event.get("isBase64Encoded") is True:
        if len(body) > (MAX_BODY_BYTES + 2) // 3 * 4:  # checked before decoding: base64 is 4 characters per 3 bytes
            raise too_large
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequestError("body is marked isBase64Encoded but is not valid base64") from None
        if len(raw) > MAX_BODY_BYTES:
            raise too_large
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequestError(f"body must be UTF-8 text: {exc.reason} at byte {exc.start}") from None
    elif len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise too_large
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadRequestError(f"body must be JSON: {exc.msg}") from None
    except RecursionError:
        raise BadRequestError("body must be JSON nested less deeply (arrays/objects within each other)") from None
    except ValueError as exc:  # NaN/Infinity, or an integer past Python's digit limit
        raise BadRequestError(f"body must be JSON: {exc}") from None


def handle(
    event: Any, table: Any, environ: Mapping[str, str], flags: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Serve one HTTP API (payload v2) request against ``table`` with ``flags`` (default: every flag off)."""
    try:
        return _handle(event, table, environ, flags or feature_flag_reader.DEFAULT_FLAGS)
    except BadRequestError as exc:
        return _response(exc.status, {"error": str(exc)})


def _value_limit(flags: Mapping[str, Mapping[str, Any]]) -> int:
    """The largest stored value in bytes: ``MAX_BODY_BYTES``, or less while ``item-size-limit`` is on."""
    flag = flags.get("item-size-limit") or {}
    kib = flag.get("kib")
    if flag.get("enabled") is True and isinstance(kib, int | float) and not isinstance(kib, bool) and kib >= 1:
        return min(MAX_BODY_BYTES, int(kib * 1024))
    return MAX_BODY_BYTES


def _handle(
    event: Any, table: Any, environ: Mapping[str, str], flags: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise BadRequestError(f"event must be an HTTP API request object, got {type(event).__name__}")
    tenant = tenant_of(event, environ)
    key = _object(event, "pathParameters").get("key")
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise BadRequestError(f"path key must match [A-Za-z0-9._-]{{1,128}}, got {_show(key)}")
    item_key = f"{tenant}#{key}"
    http = _object(_object(event, "requestContext"), "http")
    method = http.get("method")
    if method == "GET":
        item = table.get_item(Key={"pk": item_key}).get("Item")
        if item is None:
            return _response(404, {"error": f"no item {key!r}"})
        return _response(200, {"key": key, "value": item.get("value")})
    if method == "PUT":
        maintenance = flags.get("maintenance") or {}
        if maintenance.get("enabled") is True:
            message = maintenance.get("message")
            return _response(503, {"error": message if isinstance(message, str) else "writes are paused"})
        value = json.dumps(parse_body(event))
        limit = _value_limit(flags)
        if len(value.encode("utf-8")) > limit:  # \u-escapes can make the stored text longer than the body
            raise BadRequestError(f"value must be at most {limit} bytes as JSON text", status=413)
        table.put_item(Item={"pk": item_key, "tenant": tenant, "value": value})
        return _response(200, {"key": key})
    return _response(405, {"error": f"method {_show(method)} not allowed (GET, PUT)"})


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    global _table, _flags
    if _table is None:
        _table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    if _flags is None:
        _flags = feature_flag_reader.from_environment()
    return handle(event, _table, dict(os.environ), _flags.current())

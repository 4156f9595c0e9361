"""The component's flag reader against a stand-in for the AppConfig Agent extension: a local HTTP server on the
extension's URL path, answering what the test tells it (the extension's simplified feature-flag JSON, errors,
garbage, silence). Cache hit, cache expiry, extension down -> safe defaults."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

from devops_blueprints.assets import load_lambda_module

reader_module: ModuleType = load_lambda_module("tenant_component_api", "feature_flag_reader")
api: ModuleType = load_lambda_module("tenant_component_api", siblings_importable=True)

PATH = "/applications/tenant-acme-flags/environments/acme/configurations/feature-flags"
ENVIRON = {"FLAGS_APPLICATION": "tenant-acme-flags", "FLAGS_ENVIRONMENT": "acme", "FLAGS_PROFILE": "feature-flags"}


@dataclass
class Extension:
    """What the stand-in answers: ``status``, ``body`` (bytes) and a ``delay``; ``paths`` it was asked for."""

    port: int
    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0
    paths: list[str] = field(default_factory=list)

    def answer(self, flags: dict[str, Any]) -> None:
        self.status, self.body = 200, json.dumps(flags).encode()

    @property
    def environ(self) -> dict[str, str]:
        return {**ENVIRON, "AWS_APPCONFIG_EXTENSION_HTTP_PORT": str(self.port)}


@pytest.fixture
def extension() -> Iterator[Extension]:
    state = Extension(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            if state.delay:
                time.sleep(state.delay)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reader(extension: Extension, clock: Clock, **kwargs: Any) -> Any:
    url = reader_module.extension_url(extension.environ)
    return reader_module.FlagReader(url, clock=clock, **kwargs)


def test_url_is_the_extensions_path_for_the_functions_flags(extension: Extension) -> None:
    url = reader_module.extension_url(extension.environ)
    assert url == f"http://localhost:{extension.port}{PATH}"
    assert reader_module.extension_url({**ENVIRON, "FLAGS_ENVIRONMENT": "a/b?c"}).endswith(
        "/environments/a%2Fb%3Fc/configurations/feature-flags"
    )
    assert reader_module.extension_url({}) is None


def test_cache_hit_asks_the_extension_once(extension: Extension) -> None:
    extension.answer({"maintenance": {"enabled": True, "message": "Back soon"}, "item-size-limit": {"enabled": False}})
    clock = Clock()
    reader = _reader(extension, clock, ttl=15)
    assert reader.flag("maintenance") == {"enabled": True, "message": "Back soon"}
    clock.now += 14.9
    extension.answer({"maintenance": {"enabled": False}})
    assert reader.flag("maintenance")["enabled"] is True  # still the cached answer
    assert extension.paths == [PATH]
    assert reader.source == "extension"


def test_cache_expiry_asks_again_and_serves_the_new_flags(extension: Extension) -> None:
    extension.answer({"maintenance": {"enabled": True, "message": "Back soon"}})
    clock = Clock()
    reader = _reader(extension, clock, ttl=15)
    assert reader.flag("maintenance")["enabled"] is True
    extension.answer({"maintenance": {"enabled": False}, "item-size-limit": {"enabled": True, "kib": 4}})
    clock.now += 15
    assert reader.flag("maintenance") == {"enabled": False}
    assert reader.flag("item-size-limit") == {"enabled": True, "kib": 4}
    assert extension.paths == [PATH, PATH]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed when the block ends: nothing listens there


def test_extension_down_serves_the_safe_defaults_and_tries_again_after_ttl(extension: Extension) -> None:
    clock = Clock()
    environ = {**ENVIRON, "AWS_APPCONFIG_EXTENSION_HTTP_PORT": str(_closed_port())}
    reader = reader_module.FlagReader(reader_module.extension_url(environ), clock=clock, ttl=15)
    assert reader.current() == reader_module.DEFAULT_FLAGS
    assert reader.source.startswith("default (the extension cannot be reached")
    # Back up: the next try (after ttl) reads it.
    reader.url = reader_module.extension_url(extension.environ)
    extension.answer({"maintenance": {"enabled": True}})
    assert reader.flag("maintenance")["enabled"] is False  # within ttl: the defaults stay cached
    clock.now += 15
    assert reader.flag("maintenance")["enabled"] is True


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (404, b'{"Message": "no deployment"}', "the extension answered HTTP 404"),
        (500, b"", "the extension answered HTTP 500"),
        (200, b"<html>", "not JSON"),
        (200, b'{"maintenance": true}', "is not {"),
        (200, b'{"maintenance": {"enabled": "yes"}}', "is not {"),
        (200, b"[" * 100_000, "not JSON"),
        (200, b" " * (2 * 1024 * 1024 + 1), "larger than"),
    ],
)
def test_an_unusable_answer_serves_the_safe_defaults(
    extension: Extension, status: int, body: bytes, reason: str
) -> None:
    extension.status, extension.body = status, body
    reader = _reader(extension, Clock())
    assert reader.current() == reader_module.DEFAULT_FLAGS
    assert reason in reader.source


def test_a_slow_extension_is_cut_off_at_the_timeout(extension: Extension) -> None:
    extension.delay = 1.0
    reader = _reader(extension, Clock(), timeout=0.2)
    assert reader.current() == reader_module.DEFAULT_FLAGS
    assert "timed out" in reader.source


def test_a_flag_missing_from_the_answer_keeps_its_default(extension: Extension) -> None:
    extension.answer({"beta": {"enabled": True}})
    reader = _reader(extension, Clock())
    assert reader.flag("maintenance") == {"enabled": False}
    assert reader.flag("beta") == {"enabled": True}
    assert reader.flag("unknown") == {"enabled": False}


# ---- what the flags do to the API ---------------------------------------------------------------------------

SILO = {"DEPLOYMENT_TYPE": "silo", "DEPLOYMENT_ID": "acme"}


class Table:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, Item: dict[str, Any]) -> None:
        self.items.append(Item)


def _put(body: object) -> dict[str, Any]:
    return {"requestContext": {"http": {"method": "PUT"}}, "pathParameters": {"key": "k"}, "body": json.dumps(body)}


def test_maintenance_flag_refuses_writes_with_its_message(extension: Extension) -> None:
    extension.answer({"maintenance": {"enabled": True, "message": "Migrating, back at 10:00"}})
    table = Table()
    response = api.handle(_put("v"), table, SILO, _reader(extension, Clock()).current())
    assert response["statusCode"] == 503
    assert json.loads(response["body"]) == {"error": "Migrating, back at 10:00"}
    assert table.items == []


def test_item_size_limit_flag_lowers_the_limit(extension: Extension) -> None:
    extension.answer({"item-size-limit": {"enabled": True, "kib": 1}})
    flags = _reader(extension, Clock()).current()
    assert api.handle(_put("x" * 1000), Table(), SILO, flags)["statusCode"] == 200
    response = api.handle(_put("x" * 1100), Table(), SILO, flags)
    assert response["statusCode"] == 413
    assert "at most 1024 bytes" in json.loads(response["body"])["error"]


def test_extension_down_leaves_the_api_serving(extension: Extension) -> None:
    environ = {**ENVIRON, "AWS_APPCONFIG_EXTENSION_HTTP_PORT": str(_closed_port())}
    flags = reader_module.FlagReader(reader_module.extension_url(environ)).current()
    table = Table()
    assert api.handle(_put("x" * 2000), table, SILO, flags)["statusCode"] == 200
    assert len(table.items) == 1


def test_defaults_are_the_component_flags_all_off() -> None:
    from devops_blueprints.stacks.tenants._tenant_component import COMPONENT_FLAGS

    assert {flag.key: {"enabled": False} for flag in COMPONENT_FLAGS} == reader_module.DEFAULT_FLAGS
    assert all(not flag.enabled for flag in COMPONENT_FLAGS)

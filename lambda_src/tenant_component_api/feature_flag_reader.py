"""The component's feature flags, read through the AWS AppConfig Agent Lambda extension, cached, with safe defaults.

The extension (a layer, added by ``TenantFeatureFlags.add_reader``) serves the deployed flags on
``http://localhost:2772/applications/APP/environments/ENV/configurations/PROFILE`` as AppConfig's simplified
feature-flag JSON: ``{"<flag>": {"enabled": bool, "<attribute>": value, ...}, ...}``
(https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-integration-lambda-extensions.html and the
output schema on https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-type-reference-feature-flags.html).
The extension caches and polls AppConfig itself; this reader adds a short cache of its own (one local HTTP call per
``ttl`` seconds, not per request) and never lets the flags take the API down: when the extension cannot be
reached, answers slowly (``timeout``), with an error status, more than ``MAX_RESPONSE_BYTES`` or not the expected
JSON (nothing deployed yet included), every flag is its safe default until the next try, ``ttl`` later.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

LOGGER = logging.getLogger(__name__)
#: The extension's default port (``AWS_APPCONFIG_EXTENSION_HTTP_PORT`` changes it).
DEFAULT_PORT = "2772"
#: Largest response read (a flag document is small; AppConfig's hosted configurations are at most 2 MB).
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
#: Safe defaults of the sample component's flags (devops_blueprints.stacks.tenants._tenant_component.COMPONENT_FLAGS):
#: every flag off.
DEFAULT_FLAGS: dict[str, dict[str, Any]] = {"maintenance": {"enabled": False}, "item-size-limit": {"enabled": False}}


class FlagReadError(Exception):
    """The extension gave no usable flags; ``str()`` says why."""


def extension_url(environ: Mapping[str, str]) -> str | None:
    """The extension URL of the function's flags (``FLAGS_APPLICATION``/``FLAGS_ENVIRONMENT``/``FLAGS_PROFILE``),
    or None when the function has no flags configured."""
    names = [environ.get(key) for key in ("FLAGS_APPLICATION", "FLAGS_ENVIRONMENT", "FLAGS_PROFILE")]
    if not all(names):
        return None
    app, env, profile = (urllib.parse.quote(str(name), safe="") for name in names)
    port = environ.get("AWS_APPCONFIG_EXTENSION_HTTP_PORT", DEFAULT_PORT)
    if not port.isdigit():
        port = DEFAULT_PORT
    return f"http://localhost:{port}/applications/{app}/environments/{env}/configurations/{profile}"


def _fetch(url: str, timeout: float) -> dict[str, dict[str, Any]]:
    # No proxy: the extension is on the function's own loopback, whatever HTTP(S)_PROXY says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise FlagReadError(f"the extension answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:  # refused, timed out, reset
        raise FlagReadError(f"the extension cannot be reached: {exc}") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise FlagReadError(f"the extension's answer is larger than {MAX_RESPONSE_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FlagReadError(f"the extension's answer is not JSON: {exc}") from None
    if not isinstance(document, dict) or not all(
        isinstance(key, str) and isinstance(value, dict) and isinstance(value.get("enabled"), bool)
        for key, value in document.items()
    ):
        raise FlagReadError('the extension\'s answer is not {"<flag>": {"enabled": true|false, ...}}')
    return document


class FlagReader:
    """The flags at ``url``, cached for ``ttl`` seconds; ``defaults`` (and for a flag missing from the answer,
    its default) when they cannot be read. ``clock`` and ``fetch`` are for tests."""

    def __init__(
        self,
        url: str | None,
        *,
        defaults: Mapping[str, Mapping[str, Any]] = DEFAULT_FLAGS,
        ttl: float = 15.0,
        timeout: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str, float], dict[str, dict[str, Any]]] = _fetch,
    ) -> None:
        self.url = url
        self.defaults = {key: dict(value) for key, value in defaults.items()}
        self.ttl = ttl
        self.timeout = timeout
        self._clock = clock
        self._fetch = fetch
        self._flags: dict[str, dict[str, Any]] | None = None
        self._expires = 0.0
        #: Where the current flags come from: "extension" or "default" (and why).
        self.source = "default"

    def current(self) -> dict[str, dict[str, Any]]:
        """Every flag, ``{"<flag>": {"enabled": bool, ...attributes}}``."""
        now = self._clock()
        if self._flags is not None and now < self._expires:
            return self._flags
        flags = {key: dict(value) for key, value in self.defaults.items()}
        if self.url is None:
            self.source = "default (no flags configured)"
        else:
            try:
                flags.update(self._fetch(self.url, self.timeout))
                self.source = "extension"
            except FlagReadError as exc:
                self.source = f"default ({exc})"
                LOGGER.warning("feature flags: serving the safe defaults: %s", exc)
        self._flags = flags
        self._expires = now + self.ttl
        return flags

    def flag(self, key: str) -> dict[str, Any]:
        """One flag (an unknown key: off)."""
        return self.current().get(key) or {"enabled": False}


def from_environment(environ: Mapping[str, str] | None = None) -> FlagReader:
    """The reader of this function's flags, configured from its environment."""
    return FlagReader(extension_url(os.environ if environ is None else environ))

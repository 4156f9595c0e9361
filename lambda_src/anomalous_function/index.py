"""A function that DevOps Guru can catch misbehaving: invoked every minute, it sleeps
``INJECTED_LATENCY_MS`` milliseconds (0 = healthy) so a deploy with latency injected shows up as an
anomaly in duration and, near the timeout, in errors."""

from __future__ import annotations

import os
import time
from typing import Any

MAX_LATENCY_MS = 900_000


def injected_latency_ms(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    raw = environ.get("INJECTED_LATENCY_MS", "0")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"INJECTED_LATENCY_MS must be an integer number of milliseconds, got {raw!r}") from None
    if not 0 <= value <= MAX_LATENCY_MS:
        raise ValueError(f"INJECTED_LATENCY_MS must be between 0 and {MAX_LATENCY_MS}, got {value}")
    return value


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    latency = injected_latency_ms()
    started = time.monotonic()
    if latency:
        time.sleep(latency / 1000)
    return {"injectedLatencyMs": latency, "elapsedMs": round((time.monotonic() - started) * 1000)}

"""Reading CDK context values with one clear error for a wrong value (plain Python over ``node``)."""

from __future__ import annotations

from constructs import IConstruct


class ContextError(ValueError):
    """A context value (``-c key=value`` or cdk.json) that is not what the app expects."""


def int_context(scope: IConstruct, key: str, *, default: int, minimum: int, maximum: int) -> int:
    """The integer context value ``key`` (default when absent), within ``minimum..maximum``."""
    raw = scope.node.try_get_context(key)
    if raw is None:
        return default
    if isinstance(raw, bool):
        raise ContextError(f"context {key} must be an integer from {minimum} to {maximum}, got {raw!r}")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ContextError(f"context {key} must be an integer from {minimum} to {maximum}, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ContextError(f"context {key} must be an integer from {minimum} to {maximum}, got {value}")
    return value


def str_list_context(scope: IConstruct, key: str) -> list[str]:
    """A list of strings from context: a JSON list in cdk.json or a comma-separated ``-c`` value."""
    raw = scope.node.try_get_context(key)
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return list(raw)
    raise ContextError(f"context {key} must be a list of strings or a comma-separated string, got {raw!r}")

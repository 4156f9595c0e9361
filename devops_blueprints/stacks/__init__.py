"""Deployable stacks composed from the constructs."""

from __future__ import annotations

__all__: list[str] = []

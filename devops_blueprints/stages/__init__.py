"""cdk.Stage compositions of the stacks."""

from __future__ import annotations

__all__: list[str] = []

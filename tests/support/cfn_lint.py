"""cfn-lint as a test assertion helper (no aws_cdk import, so plain-Python tests stay fast)."""

from __future__ import annotations

import json
from typing import Any


def cfn_lint_errors(template: dict[str, Any], regions: tuple[str, ...] = ("us-east-1",)) -> list[str]:
    """cfn-lint matches of error level (rule ids starting with E) for one template."""
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(template), config=ManualArgs(regions=list(regions)))
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id.startswith("E")]

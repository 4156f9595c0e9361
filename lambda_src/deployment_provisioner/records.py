"""Deployment table records: the one validation module, shared by the provisioner Lambda and the CLI.

Plain Python (standard library only at import time) so that it can be loaded from a file by the
``devops-blueprints deployments`` CLI and bundled as-is with the Lambda function. The list of real AWS
regions comes from botocore's bundled endpoint data (offline), which both the Lambda runtime and the CLI
already carry; it is loaded lazily and only when a region is validated.

A record (interface, ARCHITECTURE.md section 2):

* written by operators: ``id``, ``type``, ``account``, ``region``, optional ``tier``, optional ``wave``;
* written only by the system: ``status``, ``status_reason``, ``build_id``, ``updated_at``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

ID_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
_ID_RE = re.compile(r"[a-z][a-z0-9-]{0,30}")
_ACCOUNT_RE = re.compile(r"[0-9]{12}")
TYPES = ("silo", "pool")
STATUSES = ("PROVISIONING", "ACTIVE", "FAILED", "DEPROVISIONING")
OPERATOR_ATTRIBUTES = ("id", "type", "account", "region", "tier", "wave")
REQUIRED_ATTRIBUTES = ("id", "type", "account", "region")
IDENTITY_ATTRIBUTES = ("type", "account", "region")
SYSTEM_ATTRIBUTES = ("status", "status_reason", "build_id", "updated_at")
# Deployments without a wave roll out right after the canary wave (0).
CANARY_WAVE = 0
DEFAULT_WAVE = 1
MAX_TIER_LENGTH = 64
# A DynamoDB number holds at most 38 significant digits; more is a ValidationException (and boto3's serializer
# refuses it before sending): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
# ("Numbers can have up to 38 digits of precision. Exceeding this results in an exception.")
MAX_WAVE_DIGITS = 38
WAVE_EXPECTED = "a whole number >= 0 (0 is the canary wave)"


class RecordError(ValueError):
    """One invalid attribute: ``field`` names it, ``value`` is what was found (None when missing)."""

    def __init__(self, field: str, value: object, expected: str, *, missing: bool = False) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        self.missing = missing
        if missing:
            message = f"{field} is missing (expected {expected})"
        else:
            message = f"{field} must be {expected}, got {_show(value)}"
        super().__init__(message)


class InvalidRecordError(ValueError):
    """A record with one or more invalid attributes; the message lists every one, separated by "; "."""

    def __init__(self, errors: Iterable[RecordError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(error) for error in self.errors))


@dataclass(frozen=True)
class Deployment:
    """A validated deployment record (the operator-written attributes)."""

    id: str
    type: str
    account: str
    region: str
    tier: str | None = None
    wave: int | None = None

    @property
    def pipeline_stack_name(self) -> str:
        """The per-deployment pipeline stack (and pipeline) name: ``<type>-<id>-pipeline``."""
        return pipeline_name(self.type, self.id)

    @property
    def effective_wave(self) -> int:
        return DEFAULT_WAVE if self.wave is None else self.wave

    def to_item(self) -> dict[str, Any]:
        """The record as a plain item (what the CLI writes; no system attributes)."""
        item: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "account": self.account,
            "region": self.region,
        }
        if self.tier is not None:
            item["tier"] = self.tier
        if self.wave is not None:
            item["wave"] = self.wave
        return item

    def build_environment(self) -> list[dict[str, str]]:
        """CodeBuild ``environmentVariablesOverride``: the only way record values reach a build."""
        values = (
            ("DEPLOYMENT_ID", self.id),
            ("DEPLOYMENT_TYPE", self.type),
            ("COMPONENT_ACCOUNT", self.account),
            ("COMPONENT_REGION", self.region),
        )
        return [{"name": name, "value": value, "type": "PLAINTEXT"} for name, value in values]


def pipeline_name(deployment_type: str, deployment_id: str) -> str:
    return f"{deployment_type}-{deployment_id}-pipeline"


def _show(value: object) -> str:
    """``value`` for a message: at most 80 characters, never raising (not even for a 5,000-digit integer)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@cache
def known_regions() -> frozenset[str]:
    """Every region of every AWS partition in botocore's bundled endpoint data (no network)."""
    from botocore.loaders import create_loader  # botocore ships with boto3 and with the Lambda runtime

    data = create_loader().load_data("endpoints")
    return frozenset(region for partition in data["partitions"] for region in partition.get("regions", {}))


def check_id(value: object) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise RecordError("id", value, f"a string matching {ID_PATTERN}")
    return value


def check_type(value: object) -> str:
    if not isinstance(value, str) or value not in TYPES:
        raise RecordError("type", value, " or ".join(repr(t) for t in TYPES))
    return value


def check_account(value: object) -> str:
    if not isinstance(value, str) or not _ACCOUNT_RE.fullmatch(value):
        raise RecordError("account", value, "a string of 12 digits")
    return value


def check_region(value: object, regions: Collection[str] | None = None) -> str:
    allowed = known_regions() if regions is None else regions
    if not isinstance(value, str) or value not in allowed:
        raise RecordError("region", value, "a real AWS region such as 'eu-west-1'")
    return value


def check_tier(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TIER_LENGTH or not value.isprintable():
        raise RecordError("tier", value, f"a non-empty printable string of at most {MAX_TIER_LENGTH} characters")
    return value


def check_wave(value: object) -> int | None:
    """A whole number >= 0 (int, or an integral Decimal as DynamoDB returns) of at most 38 digits."""
    if value is None:
        return None
    number: int | Decimal | None = None
    if isinstance(value, Decimal):
        number = value if value.is_finite() and value == value.to_integral_value() else None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if number is None or number < 0:
        raise RecordError("wave", value, WAVE_EXPECTED)
    # Compared before int()/str(): Decimal("1E+100000") is a huge int, and str() of one raises ValueError.
    if number >= 10**MAX_WAVE_DIGITS:
        raise RecordError("wave", value, f"a whole number of at most {MAX_WAVE_DIGITS} digits (a DynamoDB number)")
    return int(number)


def validate(item: Mapping[str, Any], *, regions: Collection[str] | None = None) -> Deployment:
    """Validate a plain item (numbers as int or Decimal); raise InvalidRecordError listing every problem.

    System attributes and unknown attributes are ignored here.
    """
    errors: list[RecordError] = []
    expected = {
        "id": f"a string matching {ID_PATTERN}",
        "type": " or ".join(repr(t) for t in TYPES),
        "account": "a string of 12 digits",
        "region": "a real AWS region such as 'eu-west-1'",
    }
    for name in REQUIRED_ATTRIBUTES:
        if item.get(name) is None:
            errors.append(RecordError(name, None, expected[name], missing=True))
    values: dict[str, Any] = {}
    checks = {
        "id": check_id,
        "type": check_type,
        "account": check_account,
        "region": lambda v: check_region(v, regions),
        "tier": check_tier,
        "wave": check_wave,
    }
    for name, check in checks.items():
        if item.get(name) is None:
            continue
        try:
            values[name] = check(item[name])
        except RecordError as exc:
            errors.append(exc)
    if errors:
        raise InvalidRecordError(errors)
    return Deployment(
        id=values["id"],
        type=values["type"],
        account=values["account"],
        region=values["region"],
        tier=values.get("tier"),
        wave=values.get("wave"),
    )


def changed_attributes(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    """Names of attributes added, removed or changed between two images."""
    return {name for name in set(old) | set(new) if old.get(name) != new.get(name)}

"""Reading CDK context values with one clear error for a wrong value (plain Python over ``node``)."""

from __future__ import annotations

import re

from constructs import IConstruct

#: What every email address the project takes (context, construct props) must look like: a local part, ``@``, a
#: domain of two or more non-empty labels; no spaces, list separators or angle brackets (so one value is one
#: address, not "Name <a@b>" or a list that SNS would refuse at deploy time).
EMAIL_ADDRESS = re.compile(r"[^@\s,;<>]+@[^@\s,;<>.]+(\.[^@\s,;<>.]+)+")


# An AWS account id is exactly 12 digits (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/organizations/aws.sdk.kotlin.services.organizations.model/-describe-account-request/-builder/account-id.html:
# "The regex pattern for an account ID string requires exactly 12 digits"). A region name is
# <area>[-<qualifier>]-<direction>-<number>: eu-west-1, us-gov-west-1, us-isob-east-1, eusc-de-east-1 (every
# region in botocore's endpoint data has this shape; tests/test_app.py checks it). The shape, not a list: the
# toolchain may live in a region newer than the installed botocore.
_ACCOUNT_RE = re.compile(r"[0-9]{12}")
_REGION_RE = re.compile(r"[a-z]{2,4}(-[a-z]{2,4})?-[a-z]{4,9}-[0-9]{1,2}")
# One address per item: something@domain.tld, no spaces, commas or control characters.


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


def str_context(scope: IConstruct, key: str) -> str | None:
    """A string context value (None when absent); a list, number or empty string is a ContextError."""
    raw = scope.node.try_get_context(key)
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip() or not raw.isprintable():
        raise ContextError(f"context {key} must be a non-empty printable string, got {_shown(raw)}")
    return raw


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


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_account(value: object, source: str) -> str:
    """``value`` when it is a 12-digit account id; ContextError naming ``source`` (e.g. ``context account``)."""
    if not isinstance(value, str) or not _ACCOUNT_RE.fullmatch(value):
        raise ContextError(f"{source} must be a 12-digit AWS account id, got {_shown(value)}")
    return value


def check_region(value: object, source: str) -> str:
    """``value`` when it has the shape of an AWS region name; ContextError naming ``source``."""
    if not isinstance(value, str) or not _REGION_RE.fullmatch(value):
        raise ContextError(f"{source} must be an AWS region name like eu-west-1 or us-gov-west-1, got {_shown(value)}")
    return value


def environment_context(scope: IConstruct) -> tuple[str | None, str | None]:
    """The ``account`` and ``region`` context values (each validated; None when absent)."""
    account = scope.node.try_get_context("account")
    region = scope.node.try_get_context("region")
    return (
        None if account is None else check_account(account, "context account"),
        None if region is None else check_region(region, "context region"),
    )


def email_list_context(scope: IConstruct, key: str) -> list[str]:
    """A list of email addresses (see :func:`str_list_context`), each checked."""
    addresses = str_list_context(scope, key)
    for address in addresses:
        if not EMAIL_ADDRESS.fullmatch(address):
            raise ContextError(f"context {key} must be email addresses like ops@example.com, got {_shown(address)}")
    return addresses

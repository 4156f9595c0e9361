"""boto3 clients for the CLIs, with a bad AWS set-up (endpoint URL, region) as one line instead of a traceback."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit


class AwsSetupError(ValueError):
    """The AWS configuration cannot give a client; ``str()`` is one line."""


def _check_endpoint(variable: str) -> None:
    value = os.environ.get(variable)
    if value is None:
        return
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise AwsSetupError(f"{variable}={value!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AwsSetupError(f"{variable}={value!r} is not an http(s)://HOST[:PORT] URL")
    del port


def client(service: str) -> Any:
    """``boto3.client(service)``; a malformed ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_<SERVICE>``), a
    missing region or any other client set-up error is an :class:`AwsSetupError`."""
    import boto3
    from botocore.exceptions import BotoCoreError

    _check_endpoint("AWS_ENDPOINT_URL")
    _check_endpoint("AWS_ENDPOINT_URL_" + service.upper().replace("-", "_"))
    try:
        return boto3.client(service)
    except (BotoCoreError, ValueError) as exc:
        raise AwsSetupError(f"cannot create the AWS {service} client: {exc}") from None

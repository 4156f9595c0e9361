"""Kubernetes object names (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/) and CDK
tokens inside generated manifests, for the manifest builders and the schema checks alike."""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_UNRESOLVED_MARK = "${Token["  # how an unresolved CDK token looks inside a string


def is_token(value: object) -> bool:
    """A string holding an unresolved CDK token (its value is known at deploy time only)."""
    return isinstance(value, str) and _UNRESOLVED_MARK in value


def is_label(value: object) -> bool:
    """An RFC 1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, <= 63."""
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS_LABEL.match(value))


def is_rfc1035_label(value: object) -> bool:
    """An RFC 1035 label (a Service name): as :func:`is_label`, but starting with a letter."""
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS_1035_LABEL.match(value))


def is_subdomain(value: object) -> bool:
    """An RFC 1123 subdomain: dot-separated labels, at most 253 characters."""
    return isinstance(value, str) and len(value) <= 253 and bool(_DNS_SUBDOMAIN.match(value))

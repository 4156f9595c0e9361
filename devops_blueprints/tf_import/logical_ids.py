"""Logical ids: readable, stable, unique.

``module.app["eu"].module.db.aws_db_instance.main[0]`` -> ``AppEuDbMain0`` + 8 hex characters of the
SHA-256 of the full address. The readable part comes from the module path, the resource name and
the index; the hash keeps ids apart when sanitising makes two addresses look alike (``a-b`` and
``a_b``, a queue and a topic both called ``main``) and does not depend on the other resources, so an
id never changes when resources are added or removed. Only ``[A-Za-z0-9]``, at most 255 characters.
"""

from __future__ import annotations

import hashlib
import re

from devops_blueprints.tf_import.errors import TfImportError
from devops_blueprints.tf_import.reader import TfResource

MAX_LENGTH = 255
_HASH_LENGTH = 8
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_MODULE_PREFIX = re.compile(r"(^|\.)module\.")


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in _NON_ALNUM.split(text) if part)


def logical_id(resource: TfResource) -> str:
    """The logical id of one resource instance (a pure function of its address)."""
    module_part = _camel(_MODULE_PREFIX.sub(".", resource.module)) if resource.module else ""
    index_part = "" if resource.index is None else _camel(str(resource.index))
    readable = f"{module_part}{_camel(resource.name)}{index_part}"
    if not readable or not readable[0].isalpha():
        readable = "Tf" + readable
    digest = hashlib.sha256(resource.address.encode("utf-8")).hexdigest()[:_HASH_LENGTH].upper()
    return readable[: MAX_LENGTH - _HASH_LENGTH] + digest


def assign_logical_ids(resources: list[TfResource]) -> dict[str, str]:
    """Address -> logical id for every resource; a clear error in the (astronomically unlikely) case
    of two addresses with the same id, never a silent overwrite."""
    ids: dict[str, str] = {}
    owners: dict[str, str] = {}
    for resource in resources:
        lid = logical_id(resource)
        other = owners.get(lid)
        if other is not None and other != resource.address:
            raise TfImportError(f"{resource.address} and {other} map to the same logical id {lid}")
        owners[lid] = resource.address
        ids[resource.address] = lid
    return ids

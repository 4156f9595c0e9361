"""Terraform resources -> an import template and CloudFormation's ``ResourcesToImport`` list."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from devops_blueprints._json_input import JsonInputError, dumps
from devops_blueprints.tf_import.errors import TfImportError
from devops_blueprints.tf_import.logical_ids import assign_logical_ids
from devops_blueprints.tf_import.reader import TfResource
from devops_blueprints.tf_import.translators import BY_TF_TYPE

TEMPLATE_BODY_LIMIT = 51_200  # bytes, CreateChangeSet TemplateBody; larger templates go through S3
STACK_RESOURCE_LIMIT = 500  # resources per stack
DESCRIPTION = "Terraform-managed resources imported for DevOps Guru coverage (devops-blueprints tf cfn)"


@dataclass
class Translation:
    """The result of :func:`translate`."""

    template: dict[str, Any]
    resources_to_import: list[dict[str, Any]]
    unsupported: dict[str, list[str]] = field(default_factory=dict)  # Terraform type -> addresses
    filtered_out: int = 0

    def summary_lines(self) -> list[str]:
        lines = [f"translated {len(self.resources_to_import)} resource(s)"]
        if self.filtered_out:
            lines.append(f"left out by --types: {self.filtered_out} resource(s)")
        for tf_type, addresses in sorted(self.unsupported.items()):
            shown = ", ".join(addresses[:5]) + (f", ... ({len(addresses) - 5} more)" if len(addresses) > 5 else "")
            lines.append(f"unsupported, not imported: {tf_type} x{len(addresses)}: {shown}")
        return lines


def translate(resources: Sequence[TfResource], types: Iterable[str] | None = None) -> Translation:
    """Translate the supported resources (only Terraform ``types`` when given).

    Raises :class:`TfImportError` for an unknown type in ``types``, a resource lacking an attribute
    CloudFormation needs, or when nothing is left to import."""
    wanted = _check_types(types)
    selected = [r for r in resources if wanted is None or r.type in wanted]
    filtered_out = len(resources) - len(selected)
    supported = [r for r in selected if r.type in BY_TF_TYPE]
    unsupported: dict[str, list[str]] = {}
    for resource in selected:
        if resource.type not in BY_TF_TYPE:
            unsupported.setdefault(resource.type, []).append(resource.address)
    if not supported:
        if unsupported:
            listed = ", ".join(f"{t} x{len(a)}" for t, a in sorted(unsupported.items()))
            raise TfImportError(
                f"no supported resource types in the state, only unsupported ones: {listed}; "
                f"supported: {', '.join(sorted(BY_TF_TYPE))}"
            )
        raise TfImportError(f"no resources of the type(s) given with --types ({', '.join(sorted(wanted or []))})")

    ids = assign_logical_ids(supported)
    template_resources: dict[str, Any] = {}
    to_import: list[dict[str, Any]] = []
    for resource in supported:
        translator = BY_TF_TYPE[resource.type]
        try:
            identifier, properties = translator.translate(resource)
        except JsonInputError as exc:  # a JSON-text attribute (event_pattern) of an unvalidated resource
            raise TfImportError(str(exc)) from None
        logical_id = ids[resource.address]
        template_resources[logical_id] = {
            "Type": translator.cfn_type,
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": properties,
        }
        to_import.append(
            {
                "ResourceType": translator.cfn_type,
                "LogicalResourceId": logical_id,
                "ResourceIdentifier": identifier,
            }
        )
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": DESCRIPTION,
        "Resources": template_resources,
    }
    return Translation(template, to_import, unsupported, filtered_out)


def _check_types(types: Iterable[str] | None) -> set[str] | None:
    if types is None:
        return None
    wanted = set(types)
    unknown = sorted(wanted - BY_TF_TYPE.keys())
    if unknown:
        raise TfImportError(
            f"--types: {', '.join(unknown)} not supported; supported Terraform types: {', '.join(sorted(BY_TF_TYPE))}"
        )
    return wanted


def template_body(template: dict[str, Any]) -> str:
    """The compact JSON sent to CloudFormation (its byte length is what the 51,200 limit counts)."""
    return json.dumps(template, separators=(",", ":"), sort_keys=False, allow_nan=False)


def body_size(template: dict[str, Any]) -> int:
    return len(template_body(template).encode("utf-8"))


def output_texts(translation: Translation) -> tuple[str, str]:
    """The text of the template file and of the resources file (pretty JSON, trailing newline)."""
    return dumps(translation.template), dumps(translation.resources_to_import)

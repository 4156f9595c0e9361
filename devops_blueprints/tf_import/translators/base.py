"""What every translator is made of: the CloudFormation type, a function returning the import
identifier (the keys of the type's ``primaryIdentifier`` in its CloudFormation resource schema) and a
function returning the template properties (the schema's required properties, the identifier
properties that are not read-only, and a few defining ones).

Templates describe, they do not replace, the Terraform configuration: Terraform stays the owner,
every resource is ``Retain``. Sensitive attributes (``sensitive_values``) are never copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devops_blueprints.tf_import.errors import MissingAttributeError
from devops_blueprints.tf_import.reader import TfResource


class Attrs:
    """Typed access to a resource's ``values`` with errors that name the address and attribute."""

    def __init__(self, resource: TfResource, cfn_type: str) -> None:
        self.resource = resource
        self.cfn_type = cfn_type

    @property
    def address(self) -> str:
        return self.resource.address

    def is_sensitive(self, name: str) -> bool:
        return self.resource.sensitive_values.get(name) is True

    def opt(self, name: str, default: Any = None) -> Any:
        """The attribute, or ``default`` when absent, null, empty or sensitive."""
        if self.is_sensitive(name):
            return default
        value = self.resource.values.get(name)
        if value is None or value == "" or value == [] or value == {}:
            return default
        return value

    def req(self, name: str, reason: str = "") -> Any:
        """The attribute; a :class:`MissingAttributeError` when absent, null or empty."""
        value = self.opt(name)
        if value is None:
            raise MissingAttributeError(self.address, name, self.cfn_type, reason)
        return value

    def req_str(self, name: str, reason: str = "") -> str:
        return str(self.req(name, reason))

    def first_of(self, *names: str, reason: str = "") -> Any:
        """The first present attribute of ``names`` (for attributes renamed across provider versions)."""
        for name in names:
            value = self.opt(name)
            if value is not None:
                return value
        raise MissingAttributeError(self.address, names[0], self.cfn_type, reason)

    def block(self, name: str) -> dict[str, Any]:
        """The first element of a nested block (Terraform stores blocks as lists), or ``{}``."""
        value = self.opt(name)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return value[0]
        if isinstance(value, dict):
            return value
        return {}

    def blocks(self, name: str) -> list[dict[str, Any]]:
        value = self.opt(name, [])
        return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def drop_none(properties: dict[str, Any]) -> dict[str, Any]:
    """``properties`` without ``None`` values (optional attributes that were not set)."""
    return {key: value for key, value in properties.items() if value is not None}


@dataclass(frozen=True)
class Translator:
    """Terraform type(s) -> one CloudFormation type."""

    tf_types: tuple[str, ...]
    cfn_type: str
    identifier: Callable[[Attrs], dict[str, str]]
    properties: Callable[[Attrs], dict[str, Any]]
    label: str

    def translate(self, resource: TfResource) -> tuple[dict[str, str], dict[str, Any]]:
        """(ResourceIdentifier, Properties) for ``resource``."""
        attrs = Attrs(resource, self.cfn_type)
        identifier = {key: str(value) for key, value in self.identifier(attrs).items()}
        return identifier, drop_none(self.properties(attrs))

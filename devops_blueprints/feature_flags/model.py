"""Feature flags declared in typed Python, as an ``AWS.AppConfig.FeatureFlags`` document.

A flag is boolean (``enabled``) and may carry attributes of four types - string, number, boolean, array (of
strings or of numbers) - each with the constraints AppConfig defines for it: ``required``; ``pattern`` or
``enum`` for strings; ``minimum``/``maximum`` (integers) for numbers; ``elements`` for arrays. A document is
checked in three steps, each failing with one line naming the flag, the attribute and the value:

1. every attribute constraint names a known type (:class:`UnknownAttributeTypeError`; the schema alone would
   only say "is not valid under any of the given schemas");
2. AppConfig's own JSON Schema of the type, vendored beside this module (``feature_flags_schema.json``, from
   https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-type-reference-feature-flags.html), checked
   with ``jsonschema`` (:class:`FlagDocumentError` with the JSON path);
3. every value against its attribute's constraints (:class:`ConstraintViolationError`): type, pattern (Python
   ``re.search``, as JSON Schema's ``pattern``), enum, bounds, array elements, required attributes present,
   no value for an undeclared flag or attribute.

Plain Python (no CDK): the construct checks at synth and the ``flags`` CLI checks before it writes anything.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, ClassVar, TypeAlias

__all__ = [
    "ArrayAttribute",
    "Attribute",
    "BooleanAttribute",
    "ConstraintViolationError",
    "FeatureFlag",
    "FlagDocumentError",
    "NumberAttribute",
    "StringAttribute",
    "UnknownAttributeTypeError",
    "flag_document",
    "validate_document",
    "with_value",
]

#: Flag keys and attribute names (the schema's patternProperties).
KEY_PATTERN = re.compile(r"[a-z][a-zA-Z\d_-]{0,63}")
ATTRIBUTE_TYPES = ("string", "number", "boolean", "array")
#: Largest document the checks read (AppConfig's hosted configuration limit is 2 MB by default:
#: https://docs.aws.amazon.com/general/latest/gr/appconfig.html).
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024

AttributeValue: TypeAlias = str | int | float | bool | list[str] | list[int | float]


class FlagDocumentError(ValueError):
    """A feature-flag document AppConfig would refuse; ``str()`` is one line."""


class UnknownAttributeTypeError(FlagDocumentError):
    """An attribute whose constraints name a type AppConfig does not have."""


class ConstraintViolationError(FlagDocumentError):
    """A value that breaks its attribute's constraints."""


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True) if _jsonable(value) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, kw_only=True)
class StringAttribute:
    """A string attribute. ``pattern`` (a regular expression the value must contain a match of) and ``enum``
    exclude each other. Default: no constraint but the type."""

    type: ClassVar[str] = "string"
    description: str | None = None
    required: bool = False
    pattern: str | None = None
    enum: tuple[str | int, ...] | None = None

    def constraints(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.required:
            out["required"] = True
        if self.pattern is not None:
            out["pattern"] = self.pattern
        if self.enum is not None:
            out["enum"] = list(self.enum)
        return out

    def check(self, value: object, where: str) -> None:
        if not isinstance(value, str):
            raise ConstraintViolationError(f"{where} must be a string, got {_show(value)}")
        if self.pattern is not None:
            try:
                matched = re.search(self.pattern, value) is not None
            except re.error as exc:
                raise FlagDocumentError(
                    f"{where}: pattern {self.pattern!r} is not a regular expression ({exc})"
                ) from None
            if not matched:
                raise ConstraintViolationError(f"{where} must match pattern {self.pattern!r}, got {_show(value)}")
        if self.enum is not None and value not in self.enum:
            raise ConstraintViolationError(f"{where} must be one of {_show(list(self.enum))}, got {_show(value)}")


@dataclass(frozen=True, kw_only=True)
class NumberAttribute:
    """A number attribute, optionally within ``minimum``/``maximum`` (integers, inclusive). Default: any number."""

    type: ClassVar[str] = "number"
    description: str | None = None
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None

    def constraints(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.required:
            out["required"] = True
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def check(self, value: object, where: str) -> None:
        if not isinstance(value, int | float) or not _is_number(value):
            raise ConstraintViolationError(f"{where} must be a number, got {_show(value)}")
        if self.minimum is not None and value < self.minimum:
            raise ConstraintViolationError(f"{where} must be at least {self.minimum}, got {_show(value)}")
        if self.maximum is not None and value > self.maximum:
            raise ConstraintViolationError(f"{where} must be at most {self.maximum}, got {_show(value)}")


@dataclass(frozen=True, kw_only=True)
class BooleanAttribute:
    """A boolean attribute."""

    type: ClassVar[str] = "boolean"
    description: str | None = None
    required: bool = False

    def constraints(self) -> dict[str, Any]:
        return {"type": self.type, "required": True} if self.required else {"type": self.type}

    def check(self, value: object, where: str) -> None:
        if not isinstance(value, bool):
            raise ConstraintViolationError(f"{where} must be true or false, got {_show(value)}")


@dataclass(frozen=True, kw_only=True)
class ArrayAttribute:
    """An array attribute of strings or of numbers; ``elements`` constrains each element. Default: any
    strings or any numbers (not mixed)."""

    type: ClassVar[str] = "array"
    description: str | None = None
    required: bool = False
    elements: StringAttribute | NumberAttribute | None = None

    def constraints(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.required:
            out["required"] = True
        if self.elements is not None:
            out["elements"] = self.elements.constraints()
        return out

    def check(self, value: object, where: str) -> None:
        if not isinstance(value, list):
            raise ConstraintViolationError(f"{where} must be an array, got {_show(value)}")
        if not (all(isinstance(v, str) for v in value) or all(_is_number(v) for v in value)):
            raise ConstraintViolationError(f"{where} must be an array of strings or of numbers, got {_show(value)}")
        if self.elements is not None:
            for index, element in enumerate(value):
                self.elements.check(element, f"{where}[{index}]")


Attribute: TypeAlias = StringAttribute | NumberAttribute | BooleanAttribute | ArrayAttribute
_ATTRIBUTE_CLASSES: tuple[type, ...] = (StringAttribute, NumberAttribute, BooleanAttribute, ArrayAttribute)


@dataclass(frozen=True, kw_only=True)
class FeatureFlag:
    """One flag: ``key`` (``[a-z][a-zA-Z0-9_-]{0,63}``), its ``attributes`` (name -> attribute type) and its
    initial ``enabled`` state and attribute ``values``. Defaults: ``name`` = ``key``, disabled, no attributes."""

    key: str
    name: str | None = None
    description: str | None = None
    enabled: bool = False
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    values: Mapping[str, AttributeValue] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------------
# Document <-> flags
# --------------------------------------------------------------------------------------------------------------


def flag_document(flags: Sequence[FeatureFlag]) -> dict[str, Any]:
    """The ``AWS.AppConfig.FeatureFlags`` document of ``flags``, checked (see the module docstring)."""
    document: dict[str, Any] = {"version": "1", "flags": {}, "values": {}}
    for flag in flags:
        if not isinstance(flag, FeatureFlag):
            raise FlagDocumentError(f"flags must be FeatureFlag objects, got {_show(flag)}")
        if flag.key in document["flags"]:
            raise FlagDocumentError(f"flag {flag.key!r} is declared twice")
        definition: dict[str, Any] = {"name": flag.key if flag.name is None else flag.name}
        if flag.description is not None:
            definition["description"] = flag.description
        if flag.attributes:
            definition["attributes"] = {}
            for attr_name, attribute in flag.attributes.items():
                if not isinstance(attribute, _ATTRIBUTE_CLASSES):
                    raise UnknownAttributeTypeError(
                        f"flag {flag.key!r} attribute {attr_name!r}: unknown attribute type "
                        f"{type(attribute).__name__} (expected StringAttribute, NumberAttribute, BooleanAttribute "
                        "or ArrayAttribute)"
                    )
                entry: dict[str, Any] = {"constraints": attribute.constraints()}
                if attribute.description is not None:
                    entry["description"] = attribute.description
                definition["attributes"][attr_name] = entry
        document["flags"][flag.key] = definition
        document["values"][flag.key] = {"enabled": flag.enabled, **copy.deepcopy(dict(flag.values))}
    return validate_document(document)


def _attribute_from_constraints(constraints: Mapping[str, Any], description: str | None) -> Attribute:
    kind = constraints["type"]
    required = bool(constraints.get("required", False))
    if kind == "string":
        enum = constraints.get("enum")
        return StringAttribute(
            description=description,
            required=required,
            pattern=constraints.get("pattern"),
            enum=None if enum is None else tuple(enum),
        )
    if kind == "number":
        return NumberAttribute(
            description=description,
            required=required,
            minimum=constraints.get("minimum"),
            maximum=constraints.get("maximum"),
        )
    if kind == "boolean":
        return BooleanAttribute(description=description, required=required)
    elements = constraints.get("elements")
    element = None if elements is None else _attribute_from_constraints(elements, None)
    if not (element is None or isinstance(element, StringAttribute | NumberAttribute)):
        raise UnknownAttributeTypeError(f"array elements must be string or number, got {element.type!r}")
    return ArrayAttribute(description=description, required=required, elements=element)


def with_value(
    document: object, key: str, *, enabled: bool | None = None, values: Mapping[str, AttributeValue] | None = None
) -> dict[str, Any]:
    """A copy of ``document`` with flag ``key`` turned on or off and/or attribute values set, checked."""
    checked = copy.deepcopy(validate_document(document))
    if key not in checked.get("flags", {}):
        known = ", ".join(sorted(checked.get("flags", {}))) or "none"
        raise FlagDocumentError(f"no flag {key!r} in the document (flags: {known})")
    entry = checked.setdefault("values", {}).setdefault(key, {})
    if enabled is not None:
        entry["enabled"] = enabled
    entry.update(copy.deepcopy(dict(values or {})))
    return validate_document(checked)


# --------------------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------------------


@cache
def schema() -> dict[str, Any]:
    """AppConfig's ``AWS.AppConfig.FeatureFlags`` JSON Schema (vendored; see the module docstring)."""
    text = resources.files(__package__).joinpath("feature_flags_schema.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def _validator() -> Any:
    from jsonschema import Draft7Validator

    return Draft7Validator(schema())


def _path(parts: Sequence[object]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def validate_document(document: object) -> dict[str, Any]:
    """``document`` when AppConfig would accept it as a feature-flag document, else :class:`FlagDocumentError`
    (or a subclass) with one line saying why."""
    if not isinstance(document, Mapping):
        raise FlagDocumentError(f"a feature-flag document must be a JSON object, got {_show(document)}")
    if not _jsonable(document):
        raise FlagDocumentError("a feature-flag document must be JSON (no NaN, Infinity or non-JSON values)")
    if len(json.dumps(document)) > MAX_DOCUMENT_BYTES:
        raise FlagDocumentError(f"a feature-flag document must be at most {MAX_DOCUMENT_BYTES} bytes")
    _check_attribute_types(document)
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(document))
    if error is not None:
        raise FlagDocumentError(
            f"not a valid AWS.AppConfig.FeatureFlags document at {_path(list(error.absolute_path))}: {error.message}"
        )
    checked = dict(document)
    _check_values(checked)
    return checked


def _check_attribute_types(document: Mapping[str, Any]) -> None:
    flags = document.get("flags")
    if not isinstance(flags, Mapping):
        return
    for key, definition in flags.items():
        attributes = definition.get("attributes") if isinstance(definition, Mapping) else None
        if not isinstance(attributes, Mapping):
            continue
        for name, entry in attributes.items():
            constraints = entry.get("constraints") if isinstance(entry, Mapping) else None
            if not isinstance(constraints, Mapping):
                continue
            kinds = [constraints.get("type")]
            elements = constraints.get("elements")
            if constraints.get("type") == "array" and isinstance(elements, Mapping):
                kinds.append(elements.get("type"))
            for kind in kinds:
                if kind not in ATTRIBUTE_TYPES:
                    raise UnknownAttributeTypeError(
                        f"flag {key!r} attribute {name!r}: unknown attribute type {_show(kind)} "
                        f"(expected one of {', '.join(ATTRIBUTE_TYPES)})"
                    )
            if (
                constraints.get("type") == "array"
                and isinstance(elements, Mapping)
                and elements.get("type") not in ("string", "number")
            ):
                raise UnknownAttributeTypeError(
                    f"flag {key!r} attribute {name!r}: array elements must be string or number, "
                    f"got {_show(elements.get('type'))}"
                )


def _check_values(document: Mapping[str, Any]) -> None:
    flags: Mapping[str, Any] = document.get("flags", {})
    values: Mapping[str, Any] = document.get("values", {})
    for key in values:
        if key not in flags:
            raise ConstraintViolationError(f"values.{key}: no flag {key!r} is declared")
    for key, definition in flags.items():
        # An attribute declared without constraints takes any attribute value (the schema checked its shape).
        attributes: dict[str, Attribute | None] = {
            name: None if "constraints" not in entry else _attribute_from_constraints(entry["constraints"], None)
            for name, entry in definition.get("attributes", {}).items()
        }
        value: Mapping[str, Any] = values.get(key, {})
        for name, item in value.items():
            if name in ("enabled", "_createdAt", "_updatedAt", "_variants"):
                continue
            if name not in attributes:
                raise ConstraintViolationError(
                    f"flag {key!r}: attribute {name!r} is not declared (value {_show(item)})"
                )
            attribute = attributes[name]
            if attribute is not None:
                attribute.check(item, f"flag {key!r} attribute {name!r}")
        for name, attribute in attributes.items():
            if attribute is not None and attribute.required and name not in value:
                raise ConstraintViolationError(f"flag {key!r} attribute {name!r} is required but has no value")

"""The flag model: documents built from typed flags, checked against AppConfig's vendored schema and the
attribute constraints; each kind of bad input is one error naming the flag, the attribute and the value."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from devops_blueprints.feature_flags import (
    ConstraintViolationError,
    FeatureFlag,
    FlagDocumentError,
    NumberAttribute,
    UnknownAttributeTypeError,
    flag_document,
    validate_document,
    with_value,
)
from devops_blueprints.feature_flags.model import schema
from tests.support.feature_flags import SAMPLE_FLAGS


def test_document_has_the_documented_shape() -> None:
    document = flag_document(SAMPLE_FLAGS)
    assert document["version"] == "1"
    assert document["flags"]["item-history"] == {
        "name": "item-history",
        "description": "Keep earlier values of an item",
        "attributes": {
            "depth": {"constraints": {"type": "number", "required": True, "minimum": 1, "maximum": 10}},
            "mode": {"constraints": {"type": "string", "enum": ["full", "diff"]}},
            "audit": {"constraints": {"type": "boolean"}},
            "regions": {
                "constraints": {"type": "array", "elements": {"type": "string", "pattern": "^[a-z]{2}-[a-z]+-[0-9]$"}}
            },
        },
    }
    assert document["values"] == {
        "item-history": {"enabled": True, "depth": 3, "mode": "diff", "regions": ["eu-west-1"]},
        "maintenance": {"enabled": False},
    }


def test_document_passes_an_independent_draft7_validation() -> None:
    """The built document against the vendored schema with jsonschema's own validator (no code of ours)."""
    from jsonschema import Draft7Validator

    Draft7Validator.check_schema(schema())
    assert list(Draft7Validator(schema()).iter_errors(flag_document(SAMPLE_FLAGS))) == []


def test_vendored_schema_cites_its_source() -> None:
    assert "appconfig-type-reference-feature-flags.html" in schema()["$comment"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"depth": 11}, r"flag 'item-history' attribute 'depth' must be at most 10, got 11"),
        ({"depth": 0}, r"attribute 'depth' must be at least 1, got 0"),
        ({"depth": "3"}, r"attribute 'depth' must be a number, got \"3\""),
        ({"depth": True}, r"attribute 'depth' must be a number, got true"),
        ({"mode": "all"}, r"attribute 'mode' must be one of \[\"full\", \"diff\"\], got \"all\""),
        ({"regions": ["EU"]}, r"attribute 'regions'\[0\] must match pattern"),
        ({"audit": "yes"}, r"attribute 'audit' must be true or false"),
        ({"colour": "red"}, r"attribute 'colour' is not declared"),
    ],
)
def test_a_value_breaking_its_constraint_is_one_clear_error(values: dict[str, Any], message: str) -> None:
    flag = SAMPLE_FLAGS[0]
    bad = FeatureFlag(key=flag.key, attributes=flag.attributes, values={**flag.values, **values})
    with pytest.raises(ConstraintViolationError, match=message) as info:
        flag_document([bad])
    assert "\n" not in str(info.value)


def test_a_required_attribute_without_value_is_refused() -> None:
    with pytest.raises(ConstraintViolationError, match="attribute 'depth' is required but has no value"):
        flag_document([FeatureFlag(key="f", attributes={"depth": NumberAttribute(required=True)})])


def test_unknown_attribute_type_in_python_is_one_error() -> None:
    with pytest.raises(UnknownAttributeTypeError, match="flag 'f' attribute 'when': unknown attribute type dict"):
        flag_document([FeatureFlag(key="f", attributes={"when": {"type": "date"}})])  # type: ignore[dict-item]


def test_unknown_attribute_type_in_a_document_is_one_error() -> None:
    document = flag_document(SAMPLE_FLAGS)
    document["flags"]["maintenance"]["attributes"]["message"]["constraints"]["type"] = "date"
    with pytest.raises(UnknownAttributeTypeError, match=r"attribute 'message': unknown attribute type \"date\""):
        validate_document(document)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version="2"), r"at \$\.version: '2' is not one of \['1'\]"),
        (lambda d: d["flags"].update({"Bad Key": {}}), r"at \$\.flags: .*Bad Key"),
        (lambda d: d.update(extra=1), r"at \$: Additional properties are not allowed \('extra'"),
        (lambda d: d["flags"]["maintenance"].update(name="x" * 65), r"at \$\.flags\.maintenance\.name"),
        (
            lambda d: d["flags"]["maintenance"]["attributes"]["message"]["constraints"].update(enum=["a"]),
            r"at \$\.flags\.maintenance\.attributes\.message\.constraints",
        ),
    ],
)
def test_an_invalid_flag_document_is_one_error_with_its_path(change: Any, message: str) -> None:
    document = copy.deepcopy(flag_document(SAMPLE_FLAGS))
    change(document)
    with pytest.raises(FlagDocumentError, match=message) as info:
        validate_document(document)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "document", [[], "x", None, {"version": "1", "flags": {}, "values": {"x": {"enabled": float("nan")}}}]
)
def test_not_a_document(document: object) -> None:
    with pytest.raises(FlagDocumentError):
        validate_document(document)


def test_value_for_an_undeclared_flag() -> None:
    with pytest.raises(ConstraintViolationError, match=r"values\.ghost: no flag 'ghost' is declared"):
        validate_document({"version": "1", "flags": {}, "values": {"ghost": {"enabled": True}}})


def test_duplicate_flag_keys() -> None:
    with pytest.raises(FlagDocumentError, match="flag 'maintenance' is declared twice"):
        flag_document([SAMPLE_FLAGS[1], SAMPLE_FLAGS[1]])


def test_with_value_sets_and_checks_without_touching_the_input() -> None:
    document = flag_document(SAMPLE_FLAGS)
    before = json.dumps(document, sort_keys=True)
    changed = with_value(document, "maintenance", enabled=True, values={"message": "Back at 10:00"})
    assert changed["values"]["maintenance"] == {"enabled": True, "message": "Back at 10:00"}
    assert json.dumps(document, sort_keys=True) == before
    with pytest.raises(ConstraintViolationError, match="must match pattern"):
        with_value(document, "maintenance", values={"message": ""})
    with pytest.raises(FlagDocumentError, match=r"no flag 'nope' in the document \(flags: item-history, maintenance\)"):
        with_value(document, "nope", enabled=True)
    assert json.dumps(document, sort_keys=True) == before

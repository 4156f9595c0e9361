"""Policy model: parsing, minification and size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devops_blueprints.guardrails import (
    PolicyError,
    PolicyParseError,
    load_policy,
    minify,
    parse_policy,
    policy_size,
)


def test_minify_removes_whitespace_outside_strings_only() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "A", "Effect": "Deny", "Action": "s3:Get Object"}],
    }
    assert (
        minify(document)
        == '{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":"s3:Get Object"}]}'
    )
    assert policy_size(document) == len(minify(document))


def test_size_counts_characters_not_bytes() -> None:
    document = {"Statement": [{"Sid": "é"}]}
    assert policy_size(document) == len('{"Statement":[{"Sid":"é"}]}')


def test_parse_error_has_line_and_column() -> None:
    with pytest.raises(PolicyParseError, match=r"^p\.json: invalid JSON at line 2, column 1") as info:
        parse_policy('{"Version": "2012-10-17"\n"Statement": []}', "p.json")
    assert (info.value.line, info.value.column) == (2, 1)


def test_statement_object_and_strings_are_normalised() -> None:
    policy = parse_policy('{"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}}', "p")
    [statement] = policy.statements
    assert (statement.actions, statement.resources, statement.label) == (("s3:*",), ("*",), "Statement[0]")


def test_load_policy_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"missing\.json: no such policy file$"):
        load_policy(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PolicyError, match=r"binary\.json: cannot read policy file"):
        load_policy(binary)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}))
    assert load_policy(good).name == str(good)

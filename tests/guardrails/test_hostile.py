"""`scp lint`, `scp simulate` and `scp catalog --out` on hostile input (issue 11, siblings of the `tf cfn` cases).

GIVEN policy files too deep, too large, with NaN, 5,000-digit integers, lone surrogates, control characters in a
Sid or a file name, or `catalog --out` over a FIFO, a link or a folder, WHEN the command runs, THEN lint reports
an `invalid-json` finding (exit 1) or the command prints one `error:` line (exit 2), output lines stay printable,
and nothing is written unless everything is.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devops_blueprints.cli import main
from devops_blueprints.guardrails import catalog

PREFIX = "devops-blueprints: error: "
DENY = {"Sid": "DenyGet", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements or [DENY])})


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["scp", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() and not p.is_symlink() else "other"
        for p in sorted(folder.rglob("*"))
    }


def _assert_printable(text: str) -> None:
    """No control character (but tab), lone surrogate or line/paragraph separator on any line."""
    for line in text.split("\n"):
        assert all(ch == "\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp") for ch in line), repr(line)


HOSTILE_TEXTS = [
    ('{"Version": "2012-10-17", "Statement": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON nested 100,001 levels"),
    (_policy({**DENY, "Condition": {"NumericLessThan": {"s3:max-keys": "N"}}}).replace('"N"', "NaN"), "holds NaN"),
    (_policy({**DENY, "Condition": {"NumericLessThan": {"s3:max-keys": "N"}}}).replace('"N"', "1e999"), "1e999"),
    (
        _policy({**DENY, "Condition": {"NumericLessThan": {"s3:max-keys": "N"}}}).replace('"N"', "7" * 5_000),
        "5,000 digits",
    ),
    (_policy({**DENY, "Sid": "S"}).replace('"S"', '"\\ud800"'), "lone UTF-16 surrogate"),
]


@pytest.mark.parametrize(("text", "expected"), HOSTILE_TEXTS, ids=["deep", "nan", "1e999", "digits", "surrogate"])
def test_lint_reports_invalid_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    code, out, err = _run(capsys, "lint", str(path))
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert len(lines) == 2 and lines[1] == "1 file(s) checked: 1 error(s), 0 warning(s)"
    assert lines[0].startswith(f"{path}: error invalid-json: ") and expected in lines[0]
    assert path.read_text() == text


@pytest.mark.parametrize(("text", "expected"), HOSTILE_TEXTS, ids=["deep", "nan", "1e999", "digits", "surrogate"])
def test_simulate_refuses_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    code, out, err = _run(capsys, "simulate", "--policy", str(path), "--action", "s3:GetObject")
    assert (code, out) == (2, "")
    assert err.startswith(f"{PREFIX}{path}: invalid JSON: ") and err.count("\n") == 1 and expected in err


@pytest.mark.parametrize("command", ["lint", "simulate"])
@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b"{" + b" " * (1024 * 1024) + b"}"), "larger than 1,048,576 bytes"),
        (lambda p: p.write_bytes(b'{"Sid": "\xff"}'), "not UTF-8 (byte 9)"),
        (lambda p: p.mkdir(), "a directory, not a file"),
    ],
    ids=["too-large", "not-utf8", "directory"],
)
def test_unreadable_policy_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, make: Any, expected: str
) -> None:
    path = tmp_path / "p.json"
    make(path)
    argv = ["lint", str(path)] if command == "lint" else ["simulate", "--policy", str(path), "--action", "s3:GetObject"]
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == f"{PREFIX}{path}: cannot read policy file: {expected}\n"


def test_control_characters_in_a_sid_cannot_fake_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sid = "x\n/etc/p.json: error fake\x1b[2J"
    path = tmp_path / "p.json"
    path.write_text(_policy({**DENY, "Sid": sid, "Action": "s3:NoSuchAction"}))
    code, out, _ = _run(capsys, "lint", str(path))
    assert code == 1
    _assert_printable(out)
    assert out.count("\n") == 2 and "x\\x0a/etc/p.json: error fake\\x1b[2J" in out
    code, out, _ = _run(capsys, "simulate", "--policy", str(path), "--action", "s3:GetObject")
    assert code == 0  # the action does not match, so ALLOWED; now with a matching one:
    path.write_text(_policy({**DENY, "Sid": sid}))
    code, out, _ = _run(capsys, "simulate", "--policy", str(path), "--action", "s3:GetObject")
    assert code == 3
    assert out == f"DENIED by {path}#x\\x0a/etc/p.json: error fake\\x1b[2J\n"


def test_file_name_not_utf8_is_printed_escaped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/\xff-policy.json"
    with open(raw, "w") as handle:
        handle.write(_policy({**DENY, "Action": "s3:NoSuchAction"}))
    name = os.fsdecode(raw)
    code, out, _ = _run(capsys, "lint", name)
    assert code == 1
    _assert_printable(out)
    assert "\\udcff-policy.json#DenyGet: error unknown-action" in out
    code, _, err = _run(capsys, "simulate", "--policy", name + ".missing", "--action", "s3:GetObject")
    assert code == 2 and err.count("\n") == 1 and "\\udcff-policy.json.missing: no such policy file" in err


# -- catalog --out: the output rule ------------------------------------------------------------------


def _catalog_out(capsys: pytest.CaptureFixture[str], out: Path) -> tuple[int, str, str]:
    return _run(capsys, "catalog", "--out", str(out))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: os.mkfifo(p), "is a FIFO"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.symlink_to(p.parent.parent / "precious.txt"), "is a symbolic link"),
    ],
    ids=["fifo", "directory", "link"],
)
def test_catalog_out_refuses_special_files_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: Any, expected: str
) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    out = tmp_path / "policies"
    out.mkdir()
    last = sorted(catalog.CATALOG)[-1]
    make(out / f"{last}.json")
    before = _snapshot(tmp_path)
    code, stdout, err = _catalog_out(capsys, out)
    assert (code, stdout) == (2, "")
    assert err == f"{PREFIX}--out {out / f'{last}.json'}: {expected} (expected a regular file path)\n"
    assert _snapshot(tmp_path) == before


def test_catalog_out_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    code, _, err = _catalog_out(capsys, tmp_path / "out")
    assert code == 2 and err == f"{PREFIX}--out {tmp_path / 'out'}: is not a directory\n"
    assert (tmp_path / "out").read_text() == "a file"


def test_catalog_out_writes_every_file_into_a_new_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "new" / "policies"
    code, stdout, _ = _catalog_out(capsys, out)
    assert code == 0 and stdout == f"wrote {len(catalog.CATALOG)} policies to {out}\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.json" for name in catalog.CATALOG)


# -- fuzz ----------------------------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | st.sampled_from(["*", "s3:GetObject", "arn:aws:s3:::b/*", "aws:PrincipalArn", "\ud800", "a\nb\x1b[2J"])
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
_statement = st.fixed_dictionaries(
    {},
    optional={
        "Sid": _scalars,
        "Effect": st.sampled_from(["Allow", "Deny"]) | _scalars,
        "Action": _values,
        "NotAction": _values,
        "Resource": _values,
        "Condition": st.dictionaries(
            st.sampled_from(["StringEquals", "NumericLessThan", "DateGreaterThan", "Bool", "ForAnyValue:ArnLike"])
            | st.text(max_size=6),
            st.dictionaries(st.sampled_from(["aws:PrincipalArn", "s3:max-keys", "aws:CurrentTime"]), _values)
            | _scalars,
            max_size=2,
        )
        | _scalars,
        "Principal": _scalars,
    },
)
_documents = st.fixed_dictionaries(
    {"Statement": st.lists(_statement, max_size=3) | _statement | _scalars},
    optional={"Version": st.sampled_from(["2012-10-17", "2008-10-17"]) | _scalars, "Id": _scalars},
)


@settings(
    derandomize=True, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=_documents | _values)
def test_fuzz_lint_and_simulate_never_raise(document: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    text = json.dumps(document, allow_nan=True)
    path.write_text(text)
    for argv, codes in (
        (["lint", str(path)], (0, 1)),
        (["lint", "--format", "json", str(path)], (0, 1)),
        (["simulate", "--policy", str(path), "--action", "s3:GetObject", "--context", "s3:max-keys=5"], (0, 2, 3)),
    ):
        code, out, err = _run(capsys, *argv)
        assert code in codes, (argv, err)
        assert "Traceback" not in err
        _assert_printable(out)
        if code == 2:
            assert err.startswith(PREFIX) and err.count("\n") == 1 and out == ""
        else:
            assert err == ""
        if "json" in argv:
            assert isinstance(json.loads(out), list)
    assert path.read_text() == text

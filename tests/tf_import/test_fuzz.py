"""Fuzz `tf cfn` with generated states (issue 11).

GIVEN a state made from the fixture's resources with attributes, keys and whole entries replaced by arbitrary
JSON values (NaN, Infinity, huge and negative numbers, odd strings, deep lists), resources duplicated and moved
into nested modules, WHEN `tf cfn` runs, THEN it never raises (no traceback), exits 0 or 2, on 2 prints exactly one
`error:` line and writes nothing, on 0 writes both files as valid JSON that agree with each other, and the state
file is byte-identical.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devops_blueprints.cli import main
from devops_blueprints.tf_import.schema import VALUES
from tests.tf_import.helpers import full_state_document

_DOCUMENT = full_state_document()


def _all_resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found.extend(_all_resources(child))
    return found


_RESOURCES = _all_resources(_DOCUMENT["values"]["root_module"])
_ATTRIBUTES = sorted({name for schema in VALUES.values() for name in schema["properties"]})
_KEYS = ["address", "type", "name", "mode", "index", "values", "sensitive_values", "provider_name"]

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "S", "PROVISIONED", "{}", "{not json", "[1]", "arn:aws:x", "\ud800", "a\nb\x1b[2J"])
)
_json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["name", "type", "x"]), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def states(draw: st.DrawFn) -> str:
    chosen = draw(st.lists(st.sampled_from(range(len(_RESOURCES))), min_size=1, max_size=6))
    resources = [copy.deepcopy(_RESOURCES[i]) for i in chosen]
    for resource in resources:
        for _ in range(draw(st.integers(0, 2))):
            where = draw(st.integers(0, 19))  # (hypothesis favours small numbers: 0 is the common case)
            own = sorted(VALUES.get(str(resource.get("type")), {}).get("properties", {})) or _ATTRIBUTES
            if where < 17 and isinstance(resource.get("values"), dict):
                # mostly an attribute the resource's translator reads
                resource["values"][draw(st.sampled_from(own))] = draw(_json_values)
            elif where < 19 and isinstance(resource.get("values"), dict):
                resource["values"][draw(st.sampled_from(_ATTRIBUTES))] = draw(_json_values)
            else:
                resource[draw(st.sampled_from(_KEYS))] = draw(_json_values)
    module: dict[str, Any] = {"resources": resources}
    for level in range(draw(st.integers(0, 3))):
        module["address"] = f"module.m{level}"
        module = {"resources": [], "child_modules": [module]}
    document: Any = {"format_version": "1.0", "values": {"root_module": module}}
    if draw(st.integers(0, 19)) == 19:  # now and then, the envelope itself is wrong
        document = draw(st.sampled_from([[document], {"values": module}, {"format_version": "1.0", "values": 5}]))
    # allow_nan: NaN and Infinity reach the text as bare tokens, as a careless tool writes them.
    return json.dumps(document, allow_nan=True)


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"output holds {name}")

    value = json.loads(text, parse_constant=refuse)
    text.encode("utf-8")  # no lone surrogate
    return value


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(
    derandomize=True,
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=states())
def test_tf_cfn_never_raises_and_writes_all_or_nothing(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        state = root / "state.json"
        state.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = state.read_bytes()
        template, resources = root / "t.json", root / "r.json"
        code = main(
            ["tf", "cfn", "--state-file", str(state), "--template", str(template), "--resources", str(resources)]
        )
        out, err = capsys.readouterr()
        assert state.read_bytes() == before
        assert "Traceback" not in err
        if code == 2:
            assert err.startswith("devops-blueprints: error: ") and err.count("\n") == 1, err
            assert out == ""
            assert sorted(p.name for p in root.iterdir()) == ["state.json"]
            return
        assert code == 0, err
        written = _strict(template.read_text())
        ids = _strict(resources.read_text())
        assert sorted(p.name for p in root.iterdir()) == ["r.json", "state.json", "t.json"]
        assert [item["LogicalResourceId"] for item in ids] == list(written["Resources"])
        for item in ids:
            assert written["Resources"][item["LogicalResourceId"]]["Type"] == item["ResourceType"]
            assert all(isinstance(v, str) for v in item["ResourceIdentifier"].values())
        numbers = [v for v in _numbers(written) if isinstance(v, float)]
        assert all(math.isfinite(v) for v in numbers)


def _numbers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []

"""Logical ids: readable from module path + name + index, unique, stable, valid for CloudFormation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devops_blueprints.tf_import import TfResource, load_state_file
from devops_blueprints.tf_import.errors import TfImportError
from devops_blueprints.tf_import.logical_ids import assign_logical_ids, logical_id
from tests.tf_import.helpers import FULL_STATE

_VALID = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,254}$")


def _resource(address: str, module: str, name: str, index: int | str | None = None) -> TfResource:
    return TfResource(address=address, type="aws_sqs_queue", name=name, module=module, index=index)


def test_readable_part_is_module_path_name_and_index() -> None:
    r = _resource('module.app["eu"].module.db.aws_sqs_queue.main[0]', 'module.app["eu"].module.db', "main", 0)
    assert re.fullmatch(r"AppEuDbMain0[0-9A-F]{8}", logical_id(r))


def test_ids_of_the_full_fixture_are_unique_and_valid() -> None:
    resources = load_state_file(FULL_STATE)
    ids = assign_logical_ids(resources)
    assert len(set(ids.values())) == len(resources)
    assert all(_VALID.match(lid) for lid in ids.values())


def test_addresses_that_sanitise_alike_get_different_ids() -> None:
    # for_each keys "a-b" and "a_b", count index 1 vs key "1", and a queue and a topic both called main
    resources = [
        _resource('aws_sqs_queue.q["a-b"]', "", "q", "a-b"),
        _resource('aws_sqs_queue.q["a_b"]', "", "q", "a_b"),
        _resource("aws_sqs_queue.q[1]", "", "q", 1),
        _resource('aws_sqs_queue.q["1"]', "", "q", "1"),
        TfResource(address="aws_sqs_queue.main", type="aws_sqs_queue", name="main"),
        TfResource(address="aws_sns_topic.main", type="aws_sns_topic", name="main"),
    ]
    ids = assign_logical_ids(resources)
    assert len(set(ids.values())) == len(resources)


def test_ids_are_stable_whatever_else_is_in_the_state() -> None:
    alone = assign_logical_ids([_resource("aws_sqs_queue.q[0]", "", "q", 0)])
    crowded = assign_logical_ids(
        [_resource(f"aws_sqs_queue.q[{i}]", "", "q", i) for i in range(5)] + [_resource("aws_sqs_queue.x", "", "x")]
    )
    assert alone["aws_sqs_queue.q[0]"] == crowded["aws_sqs_queue.q[0]"]


def test_long_module_paths_are_cut_to_255_characters() -> None:
    module = ".".join(f"module.m{i}" for i in range(120))
    lid = logical_id(_resource(f"{module}.aws_sqs_queue.q", module, "q"))
    assert len(lid) == 255 and _VALID.match(lid)


def test_names_starting_with_a_digit_or_only_symbols_still_start_with_a_letter() -> None:
    assert logical_id(_resource('aws_sqs_queue.q["---"]', "", "_", "---"))[0].isalpha()
    assert logical_id(_resource("module.1x.aws_sqs_queue.q", "module.1x", "q")).startswith("Tf1x")


def test_a_collision_is_an_error_not_an_overwrite(monkeypatch: pytest.MonkeyPatch) -> None:
    import devops_blueprints.tf_import.logical_ids as module

    monkeypatch.setattr(module, "logical_id", lambda resource: "Same")
    with pytest.raises(TfImportError, match="map to the same logical id Same"):
        assign_logical_ids([_resource("aws_sqs_queue.a", "", "a"), _resource("aws_sqs_queue.b", "", "b")])


_key = st.one_of(st.integers(min_value=0, max_value=10_000), st.text(min_size=1, max_size=30))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", 'module.a["x"]', "module.b[0].module.c"]), _key), unique=True))
def test_property_ids_are_valid_and_unique(pairs: list[tuple[str, int | str]]) -> None:
    resources = []
    for module, key in pairs:
        index = f"[{key}]" if isinstance(key, int) else f'["{key}"]'
        prefix = f"{module}." if module else ""
        resources.append(_resource(f"{prefix}aws_sqs_queue.q{index}", module, "q", key))
    ids = assign_logical_ids(resources)
    assert len(set(ids.values())) == len({r.address for r in resources})
    assert all(_VALID.match(lid) for lid in ids.values())

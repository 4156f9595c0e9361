"""`tf cfn` and `tf deploy` on hostile input (issue 11): one `error:` line, exit 2, inputs byte-identical,
no output (nor temporary file) left behind.

GIVEN a state or an output path an attacker or a careless user would pass, WHEN the command runs, THEN it
refuses with one line naming the input (and the JSON path), and the folder holds exactly what it held before.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devops_blueprints.cli import main
from tests.tf_import.helpers import FULL_STATE, full_state_document, resource_from_fixture, show_json

PREFIX = "devops-blueprints: error: "


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, or the kind of a non-file (links are not followed)."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "link:" + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "dir" if path.is_dir() else "special"
    return found


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.startswith(PREFIX) and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err[len(PREFIX) :].rstrip("\n")


def _refused(capsys: pytest.CaptureFixture[str], folder: Path, argv: list[str], *expected: str) -> str:
    """Run ``argv``; assert exit 2, one stderr line holding every ``expected``, ``folder`` unchanged."""
    before = _snapshot(folder)
    code = main(argv)
    line = _one_error_line(capsys)
    assert code == 2, line
    for text in expected:
        assert text in line, line
    assert _snapshot(folder) == before
    return line


def _write_state(folder: Path, document: Any, name: str = "state.json") -> Path:
    state = folder / name
    state.write_text(document if isinstance(document, str) else json.dumps(document))
    return state


def _cfn_args(state: Path, template: Path, resources: Path) -> list[str]:
    return ["tf", "cfn", "--state-file", str(state), "--template", str(template), "--resources", str(resources)]


def _refused_state(capsys: pytest.CaptureFixture[str], folder: Path, document: Any, *expected: str) -> str:
    """Write ``document`` as the state; `tf cfn` into t.json and r.json must refuse it (see :func:`_refused`)."""
    state = _write_state(folder, document)
    return _refused(capsys, folder, _cfn_args(state, folder / "t.json", folder / "r.json"), *expected)


# --- outputs that would destroy inputs -------------------------------------------------------------


def test_template_and_resources_the_same_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, full_state_document())
    out = tmp_path / "x.json"
    _refused(capsys, tmp_path, _cfn_args(state, out, out), f"--resources {out}: is also the --template output")


def test_same_output_through_a_linked_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, full_state_document())
    (tmp_path / "out").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "out")
    _refused(
        capsys,
        tmp_path,
        _cfn_args(state, tmp_path / "out" / "t.json", tmp_path / "alias" / "t.json"),
        "is also the --template output",
    )


@pytest.mark.parametrize("option", ["--template", "--resources"])
def test_output_is_the_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str) -> None:
    state = _write_state(tmp_path, full_state_document())
    other = tmp_path / "other.json"
    template, resources = (state, other) if option == "--template" else (other, state)
    _refused(capsys, tmp_path, _cfn_args(state, template, resources), f"{option} {state}: is the --state-file input")


def test_output_reaching_the_state_through_a_linked_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").mkdir()
    state = _write_state(tmp_path / "data", full_state_document())
    (tmp_path / "alias").symlink_to(tmp_path / "data")
    _refused(
        capsys,
        tmp_path,
        _cfn_args(state, tmp_path / "alias" / "state.json", tmp_path / "ids.json"),
        "is the --state-file input",
    )


def test_output_that_is_a_hard_link_to_the_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, full_state_document())
    os.link(state, tmp_path / "t.json")
    _refused(capsys, tmp_path, _cfn_args(state, tmp_path / "t.json", tmp_path / "r.json"), "is the --state-file input")


def test_output_that_is_a_link_is_not_followed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, full_state_document())
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (tmp_path / "t.json").symlink_to(precious)
    _refused(capsys, tmp_path, _cfn_args(state, tmp_path / "t.json", tmp_path / "r.json"), "is a symbolic link")


def test_output_that_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, full_state_document())
    (tmp_path / "t.json").mkdir()
    _refused(capsys, tmp_path, _cfn_args(state, tmp_path / "t.json", tmp_path / "r.json"), "is a directory")


def test_output_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, full_state_document())
    os.mkfifo(tmp_path / "r.json")
    _refused(capsys, tmp_path, _cfn_args(state, tmp_path / "t.json", tmp_path / "r.json"), "is a FIFO")


def test_output_that_is_a_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, full_state_document())
    _refused(capsys, tmp_path, _cfn_args(state, tmp_path / "t.json", Path("/dev/null")), "/dev/null: is a device")
    assert Path("/dev/null").is_char_device()


def test_output_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, full_state_document())
    (tmp_path / "plain").write_text("a file")
    _refused(
        capsys,
        tmp_path,
        _cfn_args(state, tmp_path / "t.json", tmp_path / "plain" / "r.json"),
        f"{tmp_path / 'plain'} is not a directory",
    )


def test_output_inside_the_module_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "infra"
    module.mkdir()
    (module / "main.tf").write_text('resource "aws_sqs_queue" "q" {}\n')
    monkeypatch.setenv("PATH", str(tmp_path / "no-terraform-here"))
    _refused(
        capsys,
        tmp_path,
        ["tf", "cfn", "--module", str(module), "--template", str(module / "main.tf"), "--resources", "r.json"],
        "is inside the --module folder",
    )


def test_missing_output_folder_is_created_and_both_files_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _write_state(tmp_path, full_state_document())
    template, resources = tmp_path / "t.json", tmp_path / "missing-dir" / "r.json"
    assert main(_cfn_args(state, template, resources)) == 0
    capsys.readouterr()
    assert len(json.loads(resources.read_text())) == len(json.loads(template.read_text())["Resources"]) == 27
    assert sorted(p.name for p in tmp_path.rglob(".*.tmp")) == []


def test_a_failed_write_leaves_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # /proc accepts no new files, even from root: the second output cannot be staged.
    state = _write_state(tmp_path, full_state_document())
    _refused(
        capsys,
        tmp_path,
        _cfn_args(state, tmp_path / "t.json", Path("/proc/r.json")),
        "cannot write",
        "nothing written",
    )


def test_existing_outputs_are_replaced_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, full_state_document())
    template, resources = tmp_path / "t.json", tmp_path / "r.json"
    template.write_text("old template")
    resources.write_text("old resources")
    assert main(_cfn_args(state, template, resources)) == 0
    capsys.readouterr()
    assert json.loads(template.read_text())["Resources"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "state.json", "t.json"]


# --- the same resource twice ------------------------------------------------------------------------


def test_duplicate_address_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = resource_from_fixture("aws_sqs_queue.jobs[0]")
    _refused_state(
        capsys,
        tmp_path,
        show_json(queue, copy.deepcopy(queue)),
        "values.root_module.resources[1]: the resource address aws_sqs_queue.jobs[0] appears twice "
        "(first at values.root_module.resources[0])",
    )


def test_duplicate_address_across_modules_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = resource_from_fixture("aws_sqs_queue.jobs[0]")
    child = {"address": "module.q", "resources": [copy.deepcopy(queue)]}
    _refused_state(
        capsys,
        tmp_path,
        show_json(queue, child_modules=[child]),
        "values.root_module.child_modules[0].resources[0]: the resource address aws_sqs_queue.jobs[0] appears twice",
    )


# --- resource exhaustion ----------------------------------------------------------------------------


def _nested_modules(levels: int) -> str:
    """A state whose only resource sits ``levels`` child modules deep (text: too deep for json.dumps)."""
    queue = json.dumps(resource_from_fixture("aws_sqs_queue.jobs[0]"))
    inner = f'{{"address": "module.m{levels - 1}", "resources": [{queue}]}}'
    opening = "".join(f'{{"address": "module.m{level}", "child_modules": [' for level in range(levels - 1))
    modules = opening + inner + "]}" * (levels - 1)
    return f'{{"format_version": "1.0", "values": {{"root_module": {{"child_modules": [{modules}]}}}}}}'


def test_1500_nested_child_modules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused_state(
        capsys,
        tmp_path,
        _nested_modules(1_500),
        "state.json: JSON nested 3,007 levels deep (at most 128 are read)",
    )


def test_40_nested_child_modules_are_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _write_state(tmp_path, _nested_modules(40))
    assert main(_cfn_args(state, tmp_path / "t.json", tmp_path / "r.json")) == 0
    assert "1 resource(s) to import" in capsys.readouterr().out


def test_100k_levels_of_nesting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused_state(
        capsys,
        tmp_path,
        '{"format_version": "1.0", "values": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "JSON nested 100,001 levels deep",
    )


def test_integer_of_5000_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(show_json(resource_from_fixture("aws_sqs_queue.jobs[0]")))
    text = text.replace('"format_version": "1.0"', '"format_version": "1.0", "serial": ' + "9" * 5_000)
    _refused_state(
        capsys,
        tmp_path,
        text,
        "holds an integer of 5,000 digits (at most 64 are read)",
    )


def test_state_larger_than_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("devops_blueprints.tf_import.reader.MAX_STATE_CHARACTERS", 1_000)
    _refused_state(capsys, tmp_path, full_state_document(), "larger than 1,000 bytes")


# --- text that is not JSON, or JSON nothing can write back -----------------------------------------


def _lambda_with(**values: Any) -> dict[str, Any]:
    function = resource_from_fixture("aws_lambda_function.api")
    function["values"].update(values)
    return function


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("NaN", "holds NaN, which is not a JSON number"),
        ("Infinity", "holds Infinity, which is not a JSON number"),
        ("-Infinity", "holds -Infinity, which is not a JSON number"),
        ("1e999", "holds the number 1e999, out of range of a double"),
    ],
)
def test_non_finite_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str], token: str, expected: str) -> None:
    text = json.dumps(show_json(_lambda_with(memory_size=128))).replace('"memory_size": 128', f'"memory_size": {token}')
    _refused_state(capsys, tmp_path, text, expected)


def test_lone_surrogate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = resource_from_fixture("aws_sqs_queue.jobs[0]")
    queue["address"] = "aws_sqs_queue.SURROGATE"
    _refused_state(
        capsys,
        tmp_path,
        json.dumps(show_json(queue)).replace("SURROGATE", "\\ud800"),
        "holds a \\u escape of a lone UTF-16 surrogate",
    )


def test_surrogate_pair_is_a_character(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rule = resource_from_fixture("aws_cloudwatch_event_rule.nightly")
    rule["values"]["description"] = "PAIR"
    state = _write_state(tmp_path, json.dumps(show_json(rule)).replace("PAIR", "\\ud83d\\ude00 nightly"))
    template = tmp_path / "t.json"
    assert main(_cfn_args(state, template, tmp_path / "r.json")) == 0, capsys.readouterr().err
    [resource] = json.loads(template.read_text())["Resources"].values()
    assert resource["Properties"]["Description"] == "\U0001f600 nightly"


def test_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(b'{"format_version": "1.0", "x": "\xff"}')
    _refused(capsys, tmp_path, _cfn_args(state, tmp_path / "t.json", tmp_path / "r.json"), "not UTF-8 (byte 32)")


def test_state_file_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "state.json").mkdir()
    _refused(
        capsys,
        tmp_path,
        _cfn_args(tmp_path / "state.json", tmp_path / "t.json", tmp_path / "r.json"),
        "a directory, not a file",
    )


# --- wrong JSON types anywhere: one line naming the JSON path --------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _root(document: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = document["values"]["root_module"]
    return root


def _resource(document: dict[str, Any], address: str) -> dict[str, Any]:
    def walk(module: dict[str, Any]) -> dict[str, Any] | None:
        for item in module.get("resources", []):
            if item["address"] == address:
                return item
        for child in module.get("child_modules", []):
            found = walk(child)
            if found is not None:
                return found
        return None

    found = walk(document["values"]["root_module"])
    assert found is not None
    return found


def _set_values(address: str, **changes: Any) -> Mutation:
    return lambda d: _resource(d, address)["values"].update(changes)


WRONG_TYPES: list[tuple[str, Mutation, str]] = [
    (
        "values a list",
        lambda d: _resource(d, "aws_sqs_queue.jobs[0]").update(values=[1]),
        "values.root_module.resources[5].values: expected an object, got a list of 1 item(s)",
    ),
    ("resources a number", lambda d: _root(d).update(resources=5), "values.root_module.resources: expected a list"),
    (
        "child_modules true",
        lambda d: _root(d).update(child_modules=True),
        "values.root_module.child_modules: expected a list or null, got true",
    ),
    (
        "event_pattern not JSON",
        _set_values("aws_cloudwatch_event_rule.order_created", event_pattern="{not json"),
        "values.root_module.resources[12].values.event_pattern:",
    ),
    (
        "read_capacity lots",
        _set_values("aws_dynamodb_table.sessions", billing_mode="PROVISIONED", read_capacity="lots"),
        'values.root_module.resources[4].values.read_capacity: expected an integer or null, got the string "lots"',
    ),
    (
        "attribute without name",
        _set_values("aws_dynamodb_table.orders", attribute=[{"type": "S"}]),
        'values.root_module.resources[3].values.attribute[0]: missing the required key "name"',
    ),
    (
        "subnets holding a number",
        _set_values("module.app.aws_lb.public", subnets=["subnet-1", 7]),
        "values.root_module.child_modules[0].resources[0].values.subnets[1]: expected a string, got the number 7",
    ),
    (
        "address a number",
        lambda d: _resource(d, "aws_s3_bucket.artifacts").update(address=1),
        "values.root_module.resources[15].address: expected a string, got the number 1",
    ),
    (
        "address with a newline",
        lambda d: _resource(d, "aws_s3_bucket.artifacts").update(address="aws_s3_bucket.a\nfake line"),
        "values.root_module.resources[15].address: the string",
    ),
    (
        "child module without address",
        lambda d: _root(d)["child_modules"][0].pop("address"),
        'values.root_module.child_modules[0]: missing the required key "address"',
    ),
    (
        "values missing",
        lambda d: _resource(d, "aws_s3_bucket.artifacts").pop("values"),
        'values.root_module.resources[15]: missing the required key "values"',
    ),
    ("values null", lambda d: d.update(values=[]), "values: expected an object or null, got a list of 0 item(s)"),
    ("format_version a number", lambda d: d.update(format_version=1), "format_version: expected a string"),
    (
        "gsi without hash_key",
        _set_values("aws_dynamodb_table.orders", global_secondary_index=[{"name": "by-x"}]),
        'values.global_secondary_index[0]: missing the required key "hash_key"',
    ),
    (
        "timeout a float",
        _set_values("aws_lambda_function.api", timeout=2.5),
        "values.root_module.resources[0].values.timeout: expected an integer or null, got the number 2.5",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in WRONG_TYPES], ids=[c[0] for c in WRONG_TYPES])
def test_wrong_types_name_the_json_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: Mutation, expected: str
) -> None:
    document = full_state_document()
    mutate(document)
    state = _write_state(tmp_path, document)
    line = _refused(capsys, tmp_path, _cfn_args(state, tmp_path / "t.json", tmp_path / "r.json"), expected)
    assert line.startswith(f"{state}: ")


def test_error_line_escapes_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A value repeated in the message (an ECS id that is not an ARN) holds an escape sequence and a newline.
    document = full_state_document()
    service = _resource(document, 'module.app.module.service["api"].aws_ecs_service.this')
    service["values"].update(arn=None, id="svc\x1b[2J\nfake")
    state = _write_state(tmp_path, document)
    line = _refused(capsys, tmp_path, _cfn_args(state, tmp_path / "t.json", tmp_path / "r.json"), "not a service ARN")
    assert "\x1b" not in line and "svc\\x1b[2J\\nfake" in line


def test_the_fixture_state_is_accepted_byte_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = FULL_STATE.read_bytes()
    assert main(_cfn_args(FULL_STATE, tmp_path / "t.json", tmp_path / "r.json")) == 0
    capsys.readouterr()
    assert FULL_STATE.read_bytes() == before


# --- tf deploy ---------------------------------------------------------------------------------------


@pytest.fixture
def written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    template, resources = tmp_path / "t.json", tmp_path / "r.json"
    assert main(_cfn_args(FULL_STATE, template, resources)) == 0
    capsys.readouterr()
    return template, resources


def _deploy_args(template: Path, resources: Path, *extra: str) -> list[str]:
    return ["tf", "deploy", "--template", str(template), "--resources", str(resources), *extra]


@pytest.mark.parametrize("name", ["", "1stack", "my_stack", "a" * 129, "stack name", "stäck", "-x"])
def test_deploy_bad_stack_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: tuple[Path, Path], name: str
) -> None:
    _refused(
        capsys,
        tmp_path,
        _deploy_args(*written, f"--stack-name={name}", "--no-guru"),
        f"--stack-name {name!r}: a stack name is 1-128 letters, digits and hyphens, starting with a letter",
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AWS_ENDPOINT_URL", "not a url", "AWS_ENDPOINT_URL='not a url' is not an http(s)://HOST[:PORT] URL"),
        ("AWS_ENDPOINT_URL", "http://localhost:99999", "AWS_ENDPOINT_URL='http://localhost:99999' is not a URL"),
        ("AWS_ENDPOINT_URL", "http://[::1", "is not a URL"),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", "ftp://x", "AWS_ENDPOINT_URL_CLOUDFORMATION='ftp://x' is not an http(s)"),
    ],
)
def test_deploy_malformed_endpoint_url(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    written: tuple[Path, Path],
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    _refused(capsys, tmp_path, _deploy_args(*written, "--no-guru"), expected)


def test_deploy_without_a_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, written: tuple[Path, Path]
) -> None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    _refused(capsys, tmp_path, _deploy_args(*written, "--no-guru"), "cannot create the AWS cloudformation client")


def test_cfn_upload_with_malformed_endpoint_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    queues = [
        {**resource_from_fixture("aws_sqs_queue.jobs[0]"), "address": f"aws_sqs_queue.q[{i}]", "index": i}
        for i in range(400)
    ]
    state = _write_state(tmp_path, show_json(*queues))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "localhost:4566")
    _refused(
        capsys,
        tmp_path,
        [*_cfn_args(state, tmp_path / "t.json", tmp_path / "r.json"), "--s3-path", "s3://bucket/tf"],
        "AWS_ENDPOINT_URL='localhost:4566' is not an http(s)://HOST[:PORT] URL",
    )


def _edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _first_resource_id(template: Path) -> str:
    return str(next(iter(json.loads(template.read_text())["Resources"])))


DEPLOY_INPUTS: list[tuple[str, str, Callable[[Any], Any], str]] = [
    (
        "logical id a list",
        "r",
        lambda r: [{**r[0], "LogicalResourceId": ["x"]}, *r[1:]],
        "r.json: [0].LogicalResourceId: expected a string, got a list of 1 item(s)",
    ),
    (
        "identifier a number",
        "r",
        lambda r: [{**r[0], "ResourceIdentifier": {"QueueUrl": 5}}, *r[1:]],
        "[0].ResourceIdentifier.QueueUrl: expected a string, got the number 5",
    ),
    ("same logical id twice", "r", lambda r: [r[0], *r], "r.json: [1]: LogicalResourceId"),
    ("extra key", "r", lambda r: [{**r[0], "Extra": 1}, *r[1:]], 'r.json: [0]: unexpected key "Extra"'),
    ("resources a string", "r", lambda r: "x", "r.json: expected a list, got the string"),
    ("empty list", "r", lambda r: [], "r.json: a list of 0 item(s) is empty or too short"),
    (
        "template resource without type",
        "t",
        lambda t: {**t, "Resources": {k: {"Properties": {}} for k in t["Resources"]}},
        "Resources.",
    ),
    ("template Resources a list", "t", lambda t: {**t, "Resources": []}, "t.json: Resources: expected an object"),
]


@pytest.mark.parametrize(
    ("which", "change", "expected"), [c[1:] for c in DEPLOY_INPUTS], ids=[c[0] for c in DEPLOY_INPUTS]
)
def test_deploy_inputs_of_the_wrong_shape(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    written: tuple[Path, Path],
    which: str,
    change: Callable[[Any], Any],
    expected: str,
) -> None:
    template, resources = written
    _edit_json(template if which == "t" else resources, change)
    _refused(capsys, tmp_path, _deploy_args(template, resources, "--no-guru"), expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"X": NaN}}}}', "holds NaN"),
        ('{"Resources": ' + "[" * 5_000 + "]" * 5_000 + "}", "JSON nested 5,001 levels deep"),
        ('{"Resources": {"\\udfff": {}}}', "lone UTF-16 surrogate"),
    ],
)
def test_deploy_template_not_acceptable_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: tuple[Path, Path], text: str, expected: str
) -> None:
    template, resources = written
    template.write_text(text)
    _refused(capsys, tmp_path, _deploy_args(template, resources, "--no-guru"), f"--template {template}: ", expected)

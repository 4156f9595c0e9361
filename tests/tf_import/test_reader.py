"""Reading `terraform show -json` output: modules at any depth, count/for_each, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devops_blueprints.tf_import import TfImportError, load_module, load_show_json, load_state_file
from tests.tf_import.helpers import FIXTURES, FULL_STATE, full_state_document


def test_reads_root_and_nested_child_modules_with_count_and_for_each() -> None:
    # GIVEN the full fixture: root, module.app, two for_each instances of a module inside it, a count
    # instance of a module three levels down, and module.db
    resources = load_state_file(FULL_STATE)
    by_address = {r.address: r for r in resources}

    # THEN resources of every depth are read, each instance once
    deep = 'module.app.module.service["worker"].module.queue[0].aws_sqs_queue.this'
    assert deep in by_address
    assert by_address[deep].module == 'module.app.module.service["worker"].module.queue[0]'
    assert (
        by_address['module.app.module.service["api"].aws_ecs_service.this'].module == 'module.app.module.service["api"]'
    )
    # count instances have integer indexes, for_each instances string keys
    assert by_address["aws_sqs_queue.jobs[0]"].index == 0
    assert by_address["aws_sqs_queue.jobs[1]"].index == 1
    assert by_address['aws_sns_topic.alerts["critical"]'].index == "critical"
    assert by_address["aws_s3_bucket.artifacts"].index is None
    assert len(resources) == len(by_address) == 28


def test_data_sources_are_skipped() -> None:
    addresses = {r.address for r in load_state_file(FULL_STATE)}
    assert "data.aws_caller_identity.current" not in addresses
    assert "aws_iam_role.lambda" in addresses  # managed, even though not supported for import


def test_not_json_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("Terraform v1.11.4\n{")
    with pytest.raises(TfImportError, match=r"state\.json: not JSON \(.* at line 1 column 1\); expected the output of"):
        load_state_file(bad)


def test_raw_tfstate_is_recognised_and_the_fix_is_named() -> None:
    with pytest.raises(TfImportError) as caught:
        load_state_file(FIXTURES / "raw.tfstate")
    message = str(caught.value)
    assert "raw Terraform state file (.tfstate)" in message
    assert "terraform show -json > state.json" in message
    assert "\n" not in message


def test_state_shaped_document_without_format_version_is_treated_as_raw_state() -> None:
    with pytest.raises(TfImportError, match=r"raw Terraform state file"):
        load_show_json(json.dumps({"resources": []}), "terraform.tfstate")


def test_empty_state_is_an_error() -> None:
    with pytest.raises(TfImportError, match=r"empty_state\.json: the state has no managed resources"):
        load_state_file(FIXTURES / "empty_state.json")


def test_state_with_only_data_sources_is_empty() -> None:
    document = full_state_document()
    data_only = [r for r in document["values"]["root_module"]["resources"] if r["mode"] == "data"]
    document["values"]["root_module"] = {"resources": data_only}
    with pytest.raises(TfImportError, match="no managed resources"):
        load_show_json(json.dumps(document), "s.json")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([1, 2], "expected a JSON object"),
        ({"planned_values": {}, "format_version": "1.2"}, "is a Terraform plan, not the state"),
        ({"values": {"root_module": {}}}, "no 'format_version' key"),
        ({"format_version": "1.0"}, "no managed resources"),  # `terraform show -json` with no state at all
    ],
)
def test_other_bad_documents(document: object, expected: str) -> None:
    with pytest.raises(TfImportError, match=expected):
        load_show_json(json.dumps(document), "in.json")


def test_missing_state_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TfImportError, match=r"nope\.json: no such state file"):
        load_state_file(tmp_path / "nope.json")


def test_module_runs_terraform_show_in_the_directory(tmp_path: Path) -> None:
    # GIVEN a module directory without state, and the real terraform binary on PATH
    if not any((Path(p) / "terraform").exists() for p in os.environ.get("PATH", "").split(os.pathsep)):
        pytest.skip("terraform is not installed on this machine")
    # WHEN it is read, terraform prints {"format_version":"1.0"}: an empty state
    with pytest.raises(TfImportError, match=r"terraform show -json in .*: the state has no managed resources"):
        load_module(tmp_path)


def test_module_without_terraform_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no terraform here
    with pytest.raises(TfImportError, match="terraform is not installed or not on PATH"):
        load_module(tmp_path)


def test_module_failure_reports_terraforms_first_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a terraform that fails the way an uninitialised backend does
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "" >&2\necho "Error: Backend initialization required" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    with pytest.raises(TfImportError, match="failed with exit code 1: Error: Backend initialization required"):
        load_module(tmp_path)


def test_module_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(TfImportError, match="not a directory"):
        load_module(tmp_path / "missing")


def test_module_passes_arguments_as_a_list_not_a_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a directory name with shell metacharacters and a terraform that echoes its arguments as state
    module = tmp_path / "a; touch pwned $(id)"
    module.mkdir()
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir()
    state = json.dumps(full_state_document())
    (tmp_path / "state.json").write_text(state)
    fake.write_text(f'#!/bin/sh\n[ "$*" = "show -no-color -json" ] || exit 9\nexec /bin/cat "{tmp_path}/state.json"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    # WHEN read, THEN terraform got exactly its arguments and nothing ran in a shell
    assert len(load_module(module)) == 28
    assert not (module / "pwned").exists() and not (tmp_path / "pwned").exists()

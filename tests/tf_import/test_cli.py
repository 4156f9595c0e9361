"""`devops-blueprints tf cfn`: files written, summary on stderr, --types, size limit, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from devops_blueprints.cli import main
from devops_blueprints.tf_import.template import TEMPLATE_BODY_LIMIT
from tests.tf_import.helpers import FIXTURES, FULL_STATE, cfn_lint_errors, show_json


def _cfn(tmp_path: Path, *extra: str) -> tuple[int, Path, Path]:
    template, resources = tmp_path / "out.json", tmp_path / "ids.json"
    code = main(["tf", "cfn", "--template", str(template), "--resources", str(resources), *extra])
    return code, template, resources


def test_cfn_writes_template_and_resources_and_lists_unsupported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, template_path, resources_path = _cfn(tmp_path, "--state-file", str(FULL_STATE))
    out, err = capsys.readouterr()
    assert code == 0
    template = json.loads(template_path.read_text())
    resources = json.loads(resources_path.read_text())
    assert len(resources) == len(template["Resources"]) == 27
    assert {r["LogicalResourceId"] for r in resources} == set(template["Resources"])
    assert "unsupported, not imported: aws_iam_role x1: aws_iam_role.lambda" in err
    assert "27 resource(s) to import" in out
    assert cfn_lint_errors(template) == []


def test_types_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, resources_path = _cfn(
        tmp_path, "--state-file", str(FULL_STATE), "--types", "aws_sqs_queue", "aws_s3_bucket"
    )
    err = capsys.readouterr().err
    assert code == 0
    types = sorted(r["ResourceType"] for r in json.loads(resources_path.read_text()))
    assert types == ["AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SQS::Queue", "AWS::SQS::Queue"]
    assert "left out by --types: 24 resource(s)" in err
    assert "aws_iam_role" not in err  # filtered out explicitly, so not reported as unsupported


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--state-file", str(FIXTURES / "raw.tfstate")], "raw Terraform state file (.tfstate)"),
        (["--state-file", str(FIXTURES / "empty_state.json")], "the state has no managed resources"),
        (
            ["--state-file", str(FIXTURES / "unsupported_only.json")],
            "no supported resource types in the state",
        ),
        (["--state-file", str(FULL_STATE), "--types", "aws_iam_role"], "--types: aws_iam_role not supported"),
        (
            ["--state-file", str(FULL_STATE), "--s3-path", "bucket/prefix"],
            "--s3-path 'bucket/prefix': expected s3://",
        ),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, template_path, _ = _cfn(tmp_path, *args)
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert err.count("\n") == 1 and err.startswith("devops-blueprints: error: ")
    assert not template_path.exists()


def test_not_json_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state.json"
    state.write_text("not json")
    code, _, _ = _cfn(tmp_path, "--state-file", str(state))
    assert code == 2
    assert "state.json: not JSON" in capsys.readouterr().err


def test_missing_required_attribute_names_address_and_attribute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = {
        "address": "module.x.aws_dynamodb_table.t",
        "mode": "managed",
        "type": "aws_dynamodb_table",
        "name": "t",
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "schema_version": 1,
        "values": {"name": "t", "billing_mode": "PAY_PER_REQUEST", "attribute": []},
        "sensitive_values": {},
    }
    state = tmp_path / "state.json"
    state.write_text(json.dumps(show_json(child_modules=[{"address": "module.x", "resources": [table]}])))
    code, _, _ = _cfn(tmp_path, "--state-file", str(state))
    err = capsys.readouterr().err
    assert code == 2
    assert "module.x.aws_dynamodb_table.t: attribute 'hash_key' is missing or empty" in err


def _big_state(tmp_path: Path, count: int) -> Path:
    queues = [
        {
            "address": f"aws_sqs_queue.q[{i}]",
            "mode": "managed",
            "type": "aws_sqs_queue",
            "name": "q",
            "index": i,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "schema_version": 0,
            "values": {
                "name": f"queue-{i}",
                "url": f"https://sqs.us-east-1.amazonaws.com/123456789012/queue-{i}",
            },
            "sensitive_values": {},
        }
        for i in range(count)
    ]
    state = tmp_path / "big.json"
    state.write_text(json.dumps(show_json(*queues)))
    return state


def test_template_over_the_body_limit_needs_s3_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _big_state(tmp_path, 600)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, _ = _cfn(tmp_path, "--state-file", str(state))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("devops-blueprints: error: ")
    assert f"over CloudFormation's {TEMPLATE_BODY_LIMIT}-byte TemplateBody limit" in err
    assert "600 resources also exceed 500 per stack" in err
    assert "(nothing written); pass --s3-path" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # neither output nor a temporary file


def test_template_over_the_body_limit_is_uploaded_with_s3_path(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="templates-bucket")
    code, template_path, _ = _cfn(
        tmp_path, "--state-file", str(_big_state(tmp_path, 400)), "--s3-path", "s3://templates-bucket/tf/"
    )
    err = capsys.readouterr().err
    assert code == 0, err
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="templates-bucket")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("tf/tf-import-")
    uploaded = json.loads(s3.get_object(Bucket="templates-bucket", Key=keys[0])["Body"].read())
    assert uploaded == json.loads(template_path.read_text())
    assert f"template uploaded: https://templates-bucket.s3.us-east-1.amazonaws.com/{keys[0]}" in err


def test_cfn_with_module_runs_terraform_show_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a terraform on PATH that prints the fixture state for `terraform show -no-color -json`
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\n[ "$*" = "show -no-color -json" ] || exit 9\nexec /bin/cat "{FULL_STATE}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    module = tmp_path / "infra"
    module.mkdir()
    code, _, resources_path = _cfn(tmp_path, "--module", str(module), "--types", "aws_lb")
    assert code == 0, capsys.readouterr().err
    assert [r["ResourceType"] for r in json.loads(resources_path.read_text())] == [
        "AWS::ElasticLoadBalancingV2::LoadBalancer"
    ] * 2


def test_cfn_module_without_terraform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "infra").mkdir()
    code, _, _ = _cfn(tmp_path, "--module", str(tmp_path / "infra"))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "terraform is not installed or not on PATH" in err


def test_state_file_and_module_are_exclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _cfn(tmp_path, "--module", str(tmp_path), "--state-file", str(FULL_STATE))
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err

"""``devops-blueprints deployments add|list|remove`` against a deployment table on moto."""

from __future__ import annotations

from typing import Any

import pytest

from devops_blueprints import deployments_cli
from devops_blueprints.cli import main
from tests.tenant.conftest import REPO_ROOT, TABLE

ADD = ["deployments", "add", "--table", TABLE, "--id", "acme", "--type", "silo", "--account", "111111111111"]


@pytest.fixture
def table(deployment_table: Any) -> Any:
    return deployment_table


def items(dynamodb: Any) -> list[dict[str, Any]]:
    return sorted(dynamodb.scan(TableName=TABLE)["Items"], key=lambda i: i["id"]["S"])


def test_cli_uses_the_provisioners_records_module() -> None:
    module = deployments_cli.records()
    assert module.__file__ == str(REPO_ROOT / "lambda_src" / "deployment_provisioner" / "records.py")


def test_add_writes_the_validated_record(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*ADD, "--region", "eu-west-1", "--tier", "gold", "--wave", "0"])

    assert code == 0
    assert items(table) == [
        {
            "id": {"S": "acme"},
            "type": {"S": "silo"},
            "account": {"S": "111111111111"},
            "region": {"S": "eu-west-1"},
            "tier": {"S": "gold"},
            "wave": {"N": "0"},
        }
    ]
    assert "added deployment acme (silo, 111111111111/eu-west-1, wave 0)" in capsys.readouterr().out


def test_add_refuses_to_overwrite(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ADD, "--region", "eu-west-1"]) == 0
    table.update_item(
        TableName=TABLE,
        Key={"id": {"S": "acme"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "ACTIVE"}},
    )
    capsys.readouterr()

    code = main([*ADD[:-1], "222222222222", "--region", "us-west-2"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        "devops-blueprints: error: deployment 'acme' already exists in table 'deployments' (status ACTIVE); "
        "records are never overwritten: remove it first or choose another id"
    ]
    assert items(table)[0]["account"] == {"S": "111111111111"}


BAD = [
    (["--id", "a;rm -rf /"], "id must be a string matching ^[a-z][a-z0-9-]{0,30}$, got 'a;rm -rf /'"),
    (["--id", "$(x)"], "id must be a string matching ^[a-z][a-z0-9-]{0,30}$, got '$(x)'"),
    (["--type", "shared"], "type must be 'silo' or 'pool', got 'shared'"),
    (["--account", "1234"], "account must be a string of 12 digits, got '1234'"),
    (["--region", "moon-1"], "region must be a real AWS region such as 'eu-west-1', got 'moon-1'"),
    (["--wave", "-2"], "wave must be a whole number >= 0 (0 is the canary wave), got -2"),
    (["--wave", "soon"], "wave must be a whole number >= 0 (0 is the canary wave), got 'soon'"),
    (["--tier", ""], "tier must be a non-empty printable string of at most 64 characters, got ''"),
]


@pytest.mark.parametrize(("override", "message"), BAD, ids=[m.split(" ")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_add_rejects_bad_input_with_one_line(
    table: Any, capsys: pytest.CaptureFixture[str], override: list[str], message: str
) -> None:
    args = {"--id": "acme", "--type": "silo", "--account": "111111111111", "--region": "eu-west-1"}
    args.update(dict(zip(override[::2], override[1::2], strict=True)))

    code = main(["deployments", "add", "--table", TABLE, *[part for pair in args.items() for part in pair]])

    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"devops-blueprints: error: invalid deployment: {message}"]
    assert items(table) == []


def test_add_to_a_missing_table_is_one_clear_error(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*ADD, "--region", "eu-west-1"])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "devops-blueprints: error: table 'deployments' not found (check --table and the AWS region)"
    ]


def test_list_shows_status_in_a_table(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    main([*ADD, "--region", "eu-west-1", "--wave", "2"])
    canary = ["--id", "canary", "--type", "pool", "--account", "222222222222", "--region", "us-east-1"]
    main(["deployments", "add", "--table", TABLE, *canary, "--wave", "0"])
    table.update_item(
        TableName=TABLE,
        Key={"id": {"S": "canary"}},
        UpdateExpression="SET #s = :s, updated_at = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "ACTIVE"}, ":t": {"S": "2026-01-01T00:00:00Z"}},
    )
    capsys.readouterr()

    assert main(["deployments", "list", "--table", TABLE]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "ID",
        "TYPE",
        "ACCOUNT",
        "REGION",
        "TIER",
        "WAVE",
        "STATUS",
        "UPDATED_AT",
        "STATUS_REASON",
    ]
    assert lines[1].split() == [
        "canary",
        "pool",
        "222222222222",
        "us-east-1",
        "-",
        "0",
        "ACTIVE",
        "2026-01-01T00:00:00Z",
        "-",
    ]
    assert lines[2].split() == ["acme", "silo", "111111111111", "eu-west-1", "-", "2", "-", "-", "-"]
    assert lines[3] == "2 deployment(s): 1 ACTIVE, 1 NEW"


def test_list_of_an_empty_table(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deployments", "list", "--table", TABLE]) == 0
    assert capsys.readouterr().out == f"no deployments in table {TABLE}\n"


def test_remove_deletes_the_record(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    main([*ADD, "--region", "eu-west-1"])

    assert main(["deployments", "remove", "--table", TABLE, "--id", "acme"]) == 0

    assert items(table) == []
    assert "removed deployment acme" in capsys.readouterr().out


def test_remove_of_an_absent_id_is_one_clear_error(table: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deployments", "remove", "--table", TABLE, "--id", "ghost"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "devops-blueprints: error: deployment 'ghost' not found in table 'deployments'"
    ]


def test_remove_refuses_a_deployment_already_being_deprovisioned(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    table.put_item(
        TableName=TABLE,
        Item={"id": {"S": "acme"}, "status": {"S": "DEPROVISIONING"}, "build_id": {"S": "deprov:1"}},
    )
    assert main(["deployments", "remove", "--table", TABLE, "--id", "acme"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "devops-blueprints: error: deployment 'acme' is already being deprovisioned (build deprov:1)"
    ]
    assert len(items(table)) == 1


def test_remove_works_for_a_record_with_an_invalid_id(table: Any) -> None:
    table.put_item(TableName=TABLE, Item={"id": {"S": "a;rm -rf /"}, "status": {"S": "FAILED"}})
    assert main(["deployments", "remove", "--table", TABLE, "--id", "a;rm -rf /"]) == 0
    assert items(table) == []


def test_missing_region_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert main(["deployments", "list", "--table", TABLE]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "devops-blueprints: error: no AWS region for the deployment table: set AWS_DEFAULT_REGION or a profile region"
    ]


def test_unreachable_endpoint_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["deployments", "remove", "--table", TABLE, "--id", "acme"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("devops-blueprints: error: DeleteItem on table 'deployments' failed: Could not connect")

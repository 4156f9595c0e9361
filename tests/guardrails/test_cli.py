"""``devops-blueprints scp lint|simulate|catalog`` through ``cli.main`` (and once the console script)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devops_blueprints.cli import main
from devops_blueprints.guardrails import catalog

REGION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyOutsideEu",
            "Effect": "Deny",
            "NotAction": ["iam:*", "sts:*"],
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]},
                "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Bypass"},
            },
        }
    ],
}


def write(path: Path, document: Any) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    return path


@pytest.fixture
def region_policy(tmp_path: Path) -> Path:
    return write(tmp_path / "regions.json", REGION_POLICY)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["scp", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- lint ----------------------------------------------------------------------------------------


def test_lint_clean_file_exits_0(capsys: pytest.CaptureFixture[str], region_policy: Path) -> None:
    code, out, _err = run(capsys, "lint", str(region_policy))
    assert (code, out) == (0, "1 file(s) checked: 0 error(s), 0 warning(s)\n")


def test_lint_json_lists_findings_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.json", '{"Version": "2012-10-17",\n  "Statement": [}\n')
    principal = write(
        tmp_path / "principal.json",
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "P", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}],
        },
    )
    code, out, _err = run(capsys, "lint", "--format", "json", str(broken), str(principal))
    assert code == 1
    findings = json.loads(out)
    assert findings == [
        {
            "file": str(broken),
            "code": "invalid-json",
            "severity": "error",
            "message": "line 2, column 17: Expecting value",
            "statement": None,
        },
        {
            "file": str(principal),
            "code": "principal-not-supported",
            "severity": "error",
            "message": "Principal is not supported in a service control policy (SCPs apply to every principal)",
            "statement": "P",
        },
    ]


def test_lint_max_size(capsys: pytest.CaptureFixture[str], region_policy: Path) -> None:
    code, out, _err = run(capsys, "lint", "--max-size", "100", str(region_policy))
    assert code == 1
    size = len(json.dumps(REGION_POLICY, separators=(",", ":")))
    assert f"error size-limit: minified size {size} characters exceeds the limit of 100 characters" in out


def test_lint_published_catalog_forms_fail(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "catalog", "--published", "--out", str(tmp_path))[0] == 0
    files = sorted(str(p) for p in tmp_path.glob("*.published.json"))
    assert len(files) == 3
    code, out, _err = run(capsys, "lint", "--format", "json", *files)
    assert code == 1
    assert sorted(f["code"] for f in json.loads(out)) == [
        "arn-format",
        "condition-value-type",
        "condition-value-type",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lint", "{missing}"], "missing.json: no such policy file"),
        (
            ["lint", "--max-size", "0", "{policy}"],
            "--max-size must be a positive number of characters, got 0",
        ),
        (
            ["simulate", "--policy", "{missing}", "--action", "s3:GetObject"],
            "missing.json: no such policy file",
        ),
        (
            ["simulate", "--policy", "{bad}", "--action", "s3:GetObject"],
            "bad.json: invalid JSON at line 1, column 2",
        ),
        (
            ["simulate", "--policy", "{structure}", "--action", "s3:GetObject"],
            "structure.json#Statement[0]: invalid policy structure: Effect must be Allow or Deny",
        ),
        (["simulate", "--policy", "{policy}", "--action", "RunInstances"], "--action expects service:Action"),
        (
            ["simulate", "--policy", "{policy}", "--action", "s3:GetObject", "--region", "Ireland"],
            "--region expects a region name such as eu-west-1, got 'Ireland'",
        ),
        (
            ["simulate", "--policy", "{policy}", "--action", "s3:GetObject", "--principal-arn", "Dev"],
            "--principal-arn expects an IAM or STS ARN",
        ),
        (
            ["simulate", "--policy", "{policy}", "--action", "s3:Get*"],
            "--action is one request's action, so it takes no wildcards",
        ),
        (
            ["simulate", "--policy", "{policy}", "--action", "s3:Get?bject"],
            "--action is one request's action, so it takes no wildcards",
        ),
        (
            ["simulate", "--policy", "{policy}", "--action", "*"],
            "--action is one request's action, so it takes no wildcards",
        ),
        *(
            (
                ["simulate", "--policy", "{policy}", "--action", "s3:GetObject", "--principal-arn", arn],
                "--principal-arn expects an IAM or STS ARN of a principal",
            )
            for arn in (
                "arn:aws:iam::111122223333:policy/Admin",
                "arn:aws:iam::111122223333:group/Admins",
                "arn:aws:iam::111122223333:role/*",
                "arn:aws:iam::*:role/Dev",
                "arn:aws:s3:::bucket",
                "arn:aws:sts::111122223333:assumed-role/Dev",
                "arn:aws:iam::111122223333:role/",
            )
        ),
        (
            ["simulate", "--policy", "{policy}", "--action", "s3:GetObject", "--context", "novalue"],
            "--context expects KEY=VALUE, got 'novalue'",
        ),
        (
            ["simulate", "--policy", "{policy}", "--action", "s3:GetObject", "--resource", "bucket"],
            "--resource expects an ARN or *, got 'bucket'",
        ),
        (["catalog", "nope"], "unknown catalog policy 'nope'"),
        (
            ["catalog", "--param", "approved-regions.regions=Ireland"],
            "approved-regions.regions must be region names",
        ),
        (["catalog", "--param", "approved-regions"], "--param expects NAME.KEY=VALUE"),
        (["catalog", "--published", "deny-leave-organization"], "deny-leave-organization: no published form"),
    ],
)
def test_bad_input_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, region_policy: Path, argv: list[str], message: str
) -> None:
    files = {
        "missing": str(tmp_path / "missing.json"),
        "policy": str(region_policy),
        "bad": str(write(tmp_path / "bad.json", "{oops}")),
        "structure": str(
            write(tmp_path / "structure.json", {"Statement": [{"Effect": "no", "Action": "*", "Resource": "*"}]})
        ),
    }
    code, out, err = run(capsys, *(arg.format(**files) for arg in argv))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("devops-blueprints: error: ")
    assert message in err


# -- simulate ------------------------------------------------------------------------------------


def test_simulate_denied_names_file_and_sid(capsys: pytest.CaptureFixture[str], region_policy: Path) -> None:
    code, out, _ = run(
        capsys,
        "simulate",
        "--policy",
        str(region_policy),
        "--action",
        "ec2:RunInstances",
        "--region",
        "ap-south-1",
    )
    assert (code, out) == (3, f"DENIED by {region_policy}#DenyOutsideEu\n")


def test_simulate_allowed(capsys: pytest.CaptureFixture[str], region_policy: Path) -> None:
    code, out, _ = run(
        capsys,
        "simulate",
        "--policy",
        str(region_policy),
        "--action",
        "ec2:RunInstances",
        "--region",
        "eu-west-1",
    )
    assert (code, out) == (0, "ALLOWED\n")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:user/division/alice",
        "arn:aws:iam::111122223333:role/service-role/Dev",
        "arn:aws:sts::111122223333:assumed-role/Dev/alice@example.com",
        "arn:aws:sts::111122223333:federated-user/bob",
        "arn:aws-us-gov:iam::111122223333:role/Dev",
    ],
)
def test_simulate_accepts_every_kind_of_principal(
    capsys: pytest.CaptureFixture[str], region_policy: Path, arn: str
) -> None:
    args = ["simulate", "--policy", str(region_policy), "--action", "s3:GetObject", "--principal-arn", arn]
    assert run(capsys, *args, "--region", "eu-west-1")[:2] == (0, "ALLOWED\n")
    assert run(capsys, *args, "--region", "ap-south-1")[:2] == (3, f"DENIED by {region_policy}#DenyOutsideEu\n")


def test_simulate_principal_arn_and_json(capsys: pytest.CaptureFixture[str], region_policy: Path) -> None:
    base = [
        "simulate",
        "--policy",
        str(region_policy),
        "--action",
        "ec2:RunInstances",
        "--region",
        "ap-south-1",
        "--format",
        "json",
    ]
    code, out, _ = run(capsys, *base, "--principal-arn", "arn:aws:iam::111122223333:role/Bypass")
    assert (code, json.loads(out)) == (0, {"decision": "ALLOWED", "matched": []})
    code, out, _ = run(capsys, *base, "--principal-arn", "arn:aws:iam::111122223333:role/Dev")
    assert (code, json.loads(out)) == (
        3,
        {"decision": "DENIED", "matched": [{"file": str(region_policy), "sid": "DenyOutsideEu"}]},
    )


def test_simulate_principal_account_and_resource_default(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = write(
        tmp_path / "acct.json",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OnlyOwnAccount",
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "NotResource": "arn:aws:s3:::own-*",
                    "Condition": {"StringEquals": {"aws:PrincipalAccount": "111122223333"}},
                }
            ],
        },
    )
    args = ["simulate", "--policy", str(policy), "--action", "s3:GetObject"]
    # --resource defaults to *, which is not an own-* bucket: denied for the account's principals
    assert run(capsys, *args, "--principal-arn", "arn:aws:iam::111122223333:role/x")[0] == 3
    assert run(capsys, *args, "--principal-arn", "arn:aws:iam::999988887777:role/x")[0] == 0
    own = ["--resource", "arn:aws:s3:::own-bucket/key", "--principal-arn", "arn:aws:iam::111122223333:role/x"]
    assert run(capsys, *args, *own)[0] == 0


def test_simulate_several_policies_and_context(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, region_policy: Path
) -> None:
    tags = write(
        tmp_path / "tags.json",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "NeedTeamTag",
                    "Effect": "Deny",
                    "Action": "ec2:RunInstances",
                    "Resource": "*",
                    "Condition": {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["team", "cost"]}},
                }
            ],
        },
    )
    args = [
        "simulate",
        "--policy",
        str(region_policy),
        "--policy",
        str(tags),
        "--action",
        "ec2:RunInstances",
        "--region",
        "ap-south-1",
    ]
    code, out, _ = run(capsys, *args, "--context", "aws:TagKeys=owner", "--context", "aws:TagKeys=size")
    assert (code, out) == (3, f"DENIED by {region_policy}#DenyOutsideEu, {tags}#NeedTeamTag\n")
    code, out, _ = run(capsys, *args[:-2], "--region", "eu-west-1", "--context", "aws:TagKeys=team", "aws:TagKeys=size")
    assert (code, out) == (0, "ALLOWED\n")


# -- catalog -------------------------------------------------------------------------------------


def test_catalog_lists_every_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert [r["name"] for r in rows] == list(catalog.CATALOG)
    regions = next(r for r in rows if r["name"] == "approved-regions")
    assert regions["attach_to"] == ["Workloads", "Sandbox"]
    code, out, _ = run(capsys, "catalog")
    assert out.splitlines()[-1] == "12 catalog policies"


def test_catalog_renders_files_with_parameters(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "catalog",
        "approved-regions",
        "--out",
        str(tmp_path / "scps"),
        "--param",
        "approved-regions.regions=ap-south-1,eu-west-1",
    )
    assert (code, out) == (0, f"wrote 1 policies to {tmp_path / 'scps'}\n")
    document = json.loads((tmp_path / "scps" / "approved-regions.json").read_text())
    assert document == catalog.get("approved-regions").render(regions=["ap-south-1", "eu-west-1"])
    code, out, _ = run(
        capsys,
        "simulate",
        "--policy",
        str(tmp_path / "scps" / "approved-regions.json"),
        "--action",
        "ec2:RunInstances",
        "--region",
        "ap-south-1",
    )
    assert (code, out) == (0, "ALLOWED\n")


def test_installed_console_script(tmp_path: Path, region_policy: Path) -> None:
    script = shutil.which("devops-blueprints", path=str(Path(sys.executable).parent))
    assert script is not None, "the project is installed in the virtualenv"
    result = subprocess.run(
        [
            script,
            "scp",
            "simulate",
            "--policy",
            str(region_policy),
            "--action",
            "ec2:RunInstances",
            "--region",
            "ap-south-1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (3, f"DENIED by {region_policy}#DenyOutsideEu\n")
    lint = subprocess.run(
        [script, "scp", "lint", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (lint.returncode, lint.stdout) == (2, "")
    assert lint.stderr == f"devops-blueprints: error: {tmp_path / 'nope.json'}: no such policy file\n"

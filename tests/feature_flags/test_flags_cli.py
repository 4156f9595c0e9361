"""``devops-blueprints flags list|set|deploy`` end to end at the AppConfig boundary.

moto (server mode) emulates applications, configuration profiles and hosted configuration versions, so those calls
go to moto for real (the versions the CLI creates are read back from it). moto 5 has no ListApplications,
ListHostedConfigurationVersions, environments, deployment strategies or deployments: those calls get recorded
responses through botocore's Stubber, which checks every request against the AppConfig API model and every
response against its output shape (shapes and states from
https://docs.aws.amazon.com/appconfig/2019-10-09/APIReference/API_GetDeployment.html and its neighbours).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from devops_blueprints.cli import main
from devops_blueprints.feature_flags import cli as flags_cli
from devops_blueprints.feature_flags import flag_document
from devops_blueprints.stacks.tenants._tenant_component import COMPONENT_FLAGS

MOTO_OPERATIONS = frozenset(
    {
        "create_application",
        "create_configuration_profile",
        "list_configuration_profiles",
        "create_hosted_configuration_version",
        "get_hosted_configuration_version",
    }
)
ENV_ID = "env0abc"
STRATEGY_ID = "str1abc"


class Boundary:
    """An AppConfig client: moto for what it emulates, a stubbed client (recorded responses) for the rest."""

    def __init__(self) -> None:
        self.moto = boto3.client("appconfig")
        self.stubbed = boto3.client("appconfig", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
        self.stubber = Stubber(self.stubbed)
        self.stubber.activate()
        self.calls: list[str] = []
        self.app = ""
        self.profile = ""

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.moto if name in MOTO_OPERATIONS else self.stubbed, name)


@pytest.fixture
def boundary(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Boundary]:
    b = Boundary()
    app = b.moto.create_application(Name="tenant-acme-flags")["Id"]
    profile = b.moto.create_configuration_profile(
        ApplicationId=app, Name="feature-flags", LocationUri="hosted", Type="AWS.AppConfig.FeatureFlags"
    )["Id"]
    b.moto.create_hosted_configuration_version(
        ApplicationId=app,
        ConfigurationProfileId=profile,
        Content=json.dumps(flag_document(COMPONENT_FLAGS)).encode(),
        ContentType="application/json",
    )
    b.app, b.profile = app, profile
    monkeypatch.setattr(flags_cli, "_client", lambda: b)
    yield b


def _expect_lookup(b: Boundary, versions: list[int] | None) -> None:
    """The recorded answers of the look-ups moto cannot give: the application by name, then the versions."""
    b.stubber.add_response("list_applications", {"Items": [{"Id": b.app, "Name": "tenant-acme-flags"}]}, {})
    if versions is not None:
        b.stubber.add_response(
            "list_hosted_configuration_versions",
            {
                "Items": [
                    {
                        "ApplicationId": b.app,
                        "ConfigurationProfileId": b.profile,
                        "VersionNumber": v,
                        "ContentType": "application/json",
                    }
                    for v in versions
                ]
            },
            {"ApplicationId": b.app, "ConfigurationProfileId": b.profile},
        )


def _version(b: Boundary, number: int) -> dict[str, Any]:
    response = b.moto.get_hosted_configuration_version(
        ApplicationId=b.app,
        ConfigurationProfileId=b.profile,
        VersionNumber=number,
    )
    return dict(json.loads(response["Content"].read()))


def test_list_prints_every_flag_of_the_latest_version(boundary: Boundary, capsys: pytest.CaptureFixture[str]) -> None:
    _expect_lookup(boundary, [1])
    assert main(["flags", "list", "--deployment", "acme"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["maintenance", "off", '{"message":', '"Writes', "are", "paused", "for", 'maintenance"}']
    assert out[2].split()[:2] == ["item-size-limit", "off"]
    assert out[-1] == "tenant-acme-flags/feature-flags version 1: 2 flags"
    boundary.stubber.assert_no_pending_responses()


def test_set_checks_locally_then_creates_the_next_version(
    boundary: Boundary, capsys: pytest.CaptureFixture[str]
) -> None:
    _expect_lookup(boundary, [1])
    code = main(["flags", "set", "--deployment", "acme", "--flag", "item-size-limit", "--on", "--attribute", "kib=64"])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert 'version 2: item-size-limit {"enabled": true, "kib": 64}' in out
    assert "devops-blueprints flags deploy --deployment acme --version 2" in out
    document = _version(boundary, 2)  # read back from moto
    assert document["values"]["item-size-limit"] == {"enabled": True, "kib": 64}
    assert document["values"]["maintenance"] == {"enabled": False, "message": "Writes are paused for maintenance"}
    boundary.stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--deployment", "Acme", "--flag", "maintenance", "--on"], "--deployment must match"),
        (["--deployment", "acme", "--flag", "Maintenance", "--on"], "--flag must match"),
        (["--deployment", "acme", "--flag", "maintenance"], "nothing to set"),
        (["--deployment", "acme", "--flag", "maintenance", "--attribute", "message"], "--attribute must be NAME=VALUE"),
        (["--deployment", "acme", "--flag", "beta", "--on"], "no flag 'beta' in tenant-acme-flags/feature-flags"),
        (
            ["--deployment", "acme", "--flag", "item-size-limit", "--attribute", "kib=500"],
            "attribute 'kib' must be at most 300, got 500",
        ),
        (
            ["--deployment", "acme", "--flag", "item-size-limit", "--attribute", "kib=lots"],
            "--attribute kib of flag 'item-size-limit' must be a number",
        ),
        (["--deployment", "acme", "--flag", "maintenance", "--attribute", "message="], "must match pattern"),
        (["--deployment", "acme", "--flag", "maintenance", "--attribute", "colour=red"], "has no attribute 'colour'"),
    ],
)
def test_bad_set_is_one_line_exit_2_and_writes_nothing(
    boundary: Boundary, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    needs_aws = (
        argv[1] == "acme" and argv[3] != "Maintenance" and "nothing" not in message and "NAME=VALUE" not in message
    )
    if needs_aws:
        _expect_lookup(boundary, [1])
    assert main(["flags", "set", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and message in captured.err, captured.err
    assert "create_hosted_configuration_version" not in boundary.calls
    with pytest.raises(boundary.moto.exceptions.ResourceNotFoundException):
        _version(boundary, 2)


def _expect_deploy(b: Boundary, states: list[dict[str, Any]]) -> None:
    _expect_lookup(b, None)
    b.stubber.add_response(
        "list_environments",
        {"Items": [{"Id": ENV_ID, "Name": "acme", "ApplicationId": b.app}]},
        {"ApplicationId": b.app},
    )
    b.stubber.add_response(
        "list_deployment_strategies", {"Items": [{"Id": STRATEGY_ID, "Name": "tenant-acme-flags-rollout"}]}, {}
    )
    b.stubber.add_response(
        "start_deployment",
        {"ApplicationId": b.app, "EnvironmentId": ENV_ID, "DeploymentNumber": 7, "State": "DEPLOYING"},
        {
            "ApplicationId": b.app,
            "EnvironmentId": ENV_ID,
            "DeploymentStrategyId": STRATEGY_ID,
            "ConfigurationProfileId": b.profile,
            "ConfigurationVersion": "1",
            "Description": ANY,
        },
    )
    for state in states:
        b.stubber.add_response(
            "get_deployment",
            {"ApplicationId": b.app, "EnvironmentId": ENV_ID, "DeploymentNumber": 7, **state},
            {"ApplicationId": b.app, "EnvironmentId": ENV_ID, "DeploymentNumber": 7},
        )


def test_deploy_follows_the_deployment_until_complete(boundary: Boundary, capsys: pytest.CaptureFixture[str]) -> None:
    _expect_deploy(
        boundary,
        [
            {"State": "DEPLOYING", "PercentageComplete": 50.0},
            {"State": "BAKING", "PercentageComplete": 100.0},
            {"State": "COMPLETE", "PercentageComplete": 100.0},
        ],
    )
    assert main(["flags", "deploy", "--deployment", "acme", "--version", "1", "--poll-interval", "0"]) == 0
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.err.splitlines()[1:]] == [
        "DEPLOYING",
        "DEPLOYING",
        "BAKING",
        "COMPLETE",
    ]
    assert captured.out == "deployment 7: COMPLETE, version 1 is live in acme\n"
    boundary.stubber.assert_no_pending_responses()


def test_deploy_reports_a_rollback_by_alarm_and_exits_1(boundary: Boundary, capsys: pytest.CaptureFixture[str]) -> None:
    when = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)
    _expect_deploy(
        boundary,
        [
            {"State": "ROLLING_BACK", "PercentageComplete": 50.0},
            {
                "State": "ROLLED_BACK",
                "PercentageComplete": 50.0,
                "EventLog": [
                    {
                        "EventType": "ROLLBACK_COMPLETED",
                        "TriggeredBy": "APPCONFIG",
                        "Description": "Rollback complete",
                        "OccurredAt": when,
                    },
                    {
                        "EventType": "ROLLBACK_STARTED",
                        "TriggeredBy": "CLOUDWATCH_ALARM",
                        "Description": "Rollback initiated by alarm silo-acme-component-FunctionErrors",
                        "OccurredAt": when,
                    },
                ],
            },
        ],
    )
    assert main(["flags", "deploy", "--deployment", "acme", "--version", "1", "--poll-interval", "0"]) == 1
    out = capsys.readouterr().out
    assert out == "deployment 7: ROLLED_BACK: Rollback initiated by alarm silo-acme-component-FunctionErrors\n"
    boundary.stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--deployment", "acme", "--version", "0"], "--version must be a positive integer"),
        (["--deployment", "acme", "--version", "x"], "--version must be a positive integer"),
        (["--deployment", "acme", "--timeout", "nan"], "--timeout must be a number of seconds"),
        (["--deployment", "acme", "--poll-interval", "-1"], "--poll-interval must be a number of seconds"),
        (["--deployment", "a_b"], "--deployment must match"),
    ],
)
def test_bad_deploy_is_one_line_exit_2_and_starts_nothing(
    boundary: Boundary, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["flags", "deploy", *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err, err
    assert boundary.calls == []


def test_unknown_deployment_is_one_line(boundary: Boundary, capsys: pytest.CaptureFixture[str]) -> None:
    boundary.stubber.add_response("list_applications", {"Items": []}, {})
    assert main(["flags", "list", "--deployment", "globex"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "devops-blueprints: error: no AppConfig application named 'tenant-globex-flags' (check --deployment and the "
        "AWS account and region)\n"
    )


def test_an_aws_error_is_one_line_in_awss_words(boundary: Boundary, capsys: pytest.CaptureFixture[str]) -> None:
    boundary.stubber.add_client_error(
        "list_applications", "AccessDeniedException", "not allowed\nfor\x1b[2J you", http_status_code=403
    )
    assert main(["flags", "list", "--deployment", "acme"]) == 2
    assert capsys.readouterr().err == (
        "devops-blueprints: error: list_applications failed: AccessDeniedException: not allowed; for\\x1b[2J you\n"
    )


def test_list_of_a_given_version_reads_that_version(boundary: Boundary, capsys: pytest.CaptureFixture[str]) -> None:
    _expect_lookup(boundary, [1])
    assert main(["flags", "set", "--deployment", "acme", "--flag", "maintenance", "--on"]) == 0
    _expect_lookup(boundary, None)  # --version: no version listing
    assert main(["flags", "list", "--deployment", "acme", "--version", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "tenant-acme-flags/feature-flags version 1: 2 flags"
    assert out[-3].split()[:2] == ["maintenance", "off"]  # version 2 has it on; version 1 does not
    assert _version(boundary, 2)["values"]["maintenance"]["enabled"] is True
    boundary.stubber.assert_no_pending_responses()

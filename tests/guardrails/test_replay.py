"""scp replay: CloudTrail records (shaped like the user guide's, see cloudtrail_samples) -> requests ->
decisions; the mapping table against the IAM database; bad files and bad events; the CLI; S3 on moto."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devops_blueprints.cli import main
from devops_blueprints.guardrails import Simulator, catalog, full_aws_access
from devops_blueprints.guardrails.cloudtrail import read_log_file
from devops_blueprints.guardrails.events import ActionMap, MappedAction, Unmapped
from devops_blueprints.guardrails.iamdb import database
from devops_blueprints.guardrails.replay import (
    ALREADY_DENIED,
    UNAFFECTED,
    UNMAPPED,
    Replay,
)
from devops_blueprints.guardrails.replay_report import Summary
from devops_blueprints.guardrails.simulator import ALLOWED, DENIED, Level
from tests.guardrails import cloudtrail_samples as s

REGIONS = catalog.get("approved-regions")  # eu-west-1, eu-central-1; bypass OrganizationAccountAccessRole


def regions_replay(**options: Any) -> Replay:
    return Replay(Simulator([Level("target", (full_aws_access(), REGIONS.policy()))]), **options)


# -- each identity maps to the request the docs imply -------------------------------------------


@pytest.mark.parametrize(
    ("identity", "principal"),
    [
        (s.ALICE, f"arn:aws:iam::{s.ACCOUNT}:user/Alice"),
        # a role session counts as its role, with the role's path from sessionIssuer
        (s.ASSUMED_ROLE, f"arn:aws:iam::{s.ACCOUNT}:role/teams/RoleToBeAssumed"),
        (s.FEDERATED, f"arn:aws:sts::{s.ACCOUNT}:federated-user/Bob"),
        (s.ROOT, f"arn:aws:iam::{s.ACCOUNT}:root"),
        (s.CROSS_ACCOUNT, f"arn:aws:iam::{s.OTHER_ACCOUNT}:role/Deployer"),
    ],
)
def test_principals_map_to_their_arn_and_regions_decide(identity: dict[str, Any], principal: str) -> None:
    replay = regions_replay()
    inside = replay.decide(s.record(identity, region="eu-west-1"))
    outside = replay.decide(s.record(identity, region="us-east-2"))
    assert (inside.outcome, inside.action, inside.principal, inside.region) == (
        ALLOWED,
        "ec2:StartInstances",
        principal,
        "eu-west-1",
    )
    assert (outside.outcome, outside.matched) == (DENIED, (("approved-regions", "DenyOutsideApprovedRegions"),))


def test_cross_account_caller_is_evaluated_with_its_own_account() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyOurAccount",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalAccount": s.ACCOUNT}},
            }
        ],
    }
    from devops_blueprints.guardrails import policy_from_document

    replay = Replay(Simulator([[full_aws_access(), policy_from_document(policy, "own")]]))
    assert replay.decide(s.record(s.ALICE)).outcome == ALLOWED
    assert replay.decide(s.record(s.CROSS_ACCOUNT)).matched == (("own", "OnlyOurAccount"),)


def test_bypass_role_is_exempt_as_the_policy_says() -> None:
    bypass = json.loads(json.dumps(s.ASSUMED_ROLE))
    bypass["sessionContext"]["sessionIssuer"]["arn"] = f"arn:aws:iam::{s.ACCOUNT}:role/OrganizationAccountAccessRole"
    assert regions_replay().decide(s.record(bypass, region="ap-south-1")).outcome == ALLOWED


def test_global_services_are_not_denied_outside_the_regions() -> None:
    decision = regions_replay().decide(s.record(s.ALICE, "iam.amazonaws.com", "CreateUser", region="us-east-1"))
    assert (decision.outcome, decision.action) == (ALLOWED, "iam:CreateUser")


@pytest.mark.parametrize(
    ("identity", "extra", "reason"),
    [
        (s.SERVICE_LINKED, {}, "service-linked-role"),
        (s.AWS_SERVICE, {"eventType": "AwsServiceEvent"}, "aws-service"),
    ],
)
def test_service_linked_roles_and_aws_services_are_unaffected(
    identity: dict[str, Any], extra: dict[str, Any], reason: str
) -> None:
    decision = regions_replay().decide(s.record(identity, region="ap-south-1", **extra))
    assert (decision.outcome, decision.reason) == (UNAFFECTED, reason)


def test_management_account_is_unaffected() -> None:
    manager = {**s.ALICE, "arn": f"arn:aws:iam::{s.MANAGEMENT}:user/Alice", "accountId": s.MANAGEMENT}
    decision = regions_replay(management_account=s.MANAGEMENT).decide(s.record(manager, region="ap-south-1"))
    assert (decision.outcome, decision.reason) == (UNAFFECTED, "management-account")
    assert regions_replay().decide(s.record(manager, region="ap-south-1")).outcome == DENIED


def test_aws_account_identity_without_an_arn_is_unmapped_when_the_policy_reads_the_arn() -> None:
    decision = regions_replay().decide(s.record(s.AWS_ACCOUNT, region="ap-south-1"))
    assert decision.outcome == UNMAPPED
    assert decision.reason == "condition-key-unknown: aws:principalarn (ec2:StartInstances, userIdentity AWSAccount)"


def test_access_denied_calls_are_kept_apart() -> None:
    decision = regions_replay().decide(
        s.record(s.ALICE, region="ap-south-1", errorCode="Client.UnauthorizedOperation", errorMessage="no")
    )
    assert (decision.outcome, decision.reason) == (ALREADY_DENIED, "Client.UnauthorizedOperation")
    other_error = regions_replay().decide(s.record(s.ALICE, region="ap-south-1", errorCode="TrailNotFoundException"))
    assert other_error.outcome == DENIED  # the user guide's UpdateTrail error is not an authorization failure


def test_approved_regions_denies_exactly_the_out_of_region_calls() -> None:
    replay = regions_replay()
    regions = ["eu-west-1", "eu-central-1", "us-east-1", "ap-south-1", "us-east-2", "eu-west-2"]
    calls = [("ec2.amazonaws.com", "StartInstances"), ("lambda.amazonaws.com", "ListFunctions")]
    calls += [("sts.amazonaws.com", "GetCallerIdentity"), ("iam.amazonaws.com", "ListRoles")]
    for region in regions:
        for source, name in calls:
            decision = replay.decide(s.record(s.ALICE, source, name, region=region))
            regional = source.split(".")[0] not in ("sts", "iam")
            expected = DENIED if regional and region not in ("eu-west-1", "eu-central-1") else ALLOWED
            assert decision.outcome == expected, (source, name, region)


# -- actions -------------------------------------------------------------------------------------


def test_api_names_that_differ_from_the_action_come_from_the_iam_database() -> None:
    actions = ActionMap()
    assert actions.lookup("s3.amazonaws.com", "ListObjectsV2") == MappedAction("s3:ListBucket", True)
    assert actions.lookup("s3.amazonaws.com", "ListBuckets") == MappedAction("s3:ListAllMyBuckets", False)
    assert actions.lookup("monitoring.amazonaws.com", "PutMetricAlarm").action == "cloudwatch:PutMetricAlarm"
    assert actions.lookup("tagging.amazonaws.com", "TagResources").action == "tag:TagResources"
    reencrypt = actions.lookup("kms.amazonaws.com", "ReEncrypt")
    assert reencrypt == Unmapped("ambiguous-action: kms.amazonaws.com ReEncrypt (kms:ReEncryptFrom, kms:ReEncryptTo)")
    assert actions.lookup("ec2.amazonaws.com", "DescribeFuture") == Unmapped(
        "unknown-action: ec2.amazonaws.com DescribeFuture"
    )
    assert actions.lookup("example.com", "X") == Unmapped("unknown-event-source: example.com")


def test_the_slim_action_index_equals_the_iam_database_indexes() -> None:
    """The replay's own fast reading of the IAM definitions gives exactly iamdb's indexes."""
    from devops_blueprints.guardrails.events import ActionIndex, action_index

    slim, full = action_index(), ActionIndex.of(database())
    assert (
        slim == full
        and len(slim.action_names) > 15_000
        and slim.api_operations["s3:listobjectsv2"] == ("s3:ListBucket",)
    )


def test_every_event_name_of_the_corpus_is_checked_against_the_iam_database() -> None:
    """The mapping table for every (eventSource, eventName) in the samples and the benchmark's corpus: a mapped
    name is an action the database has (same service prefix), an unmapped one says so by name."""
    from benchmarks.replay import CALLS

    db = database()
    pairs = {(source, name) for source, name, _ro, _kind in CALLS}
    pairs |= {("ec2.amazonaws.com", "StartInstances"), ("iam.amazonaws.com", "CreateUser")}
    pairs |= {("cloudtrail.amazonaws.com", "UpdateTrail"), ("ec2.amazonaws.com", "CreateKeyPair")}
    pairs |= {("iam.amazonaws.com", "AddUserToGroup"), ("iam.amazonaws.com", "CreateRole")}
    actions = ActionMap()
    unknown = []
    for source, name in sorted(pairs):
        found = actions.lookup(source, name)
        if isinstance(found, Unmapped):
            assert name in found.reason
            unknown.append(name)
            continue
        prefix, _colon, action = found.action.partition(":")
        assert db.action_exists(found.action)
        assert prefix == {"monitoring": "cloudwatch"}.get(source.split(".")[0], source.split(".")[0])
        documented = db.api_operations.get(f"{prefix}:{name.lower()}", ())
        assert action.lower() == name.lower() or documented == (found.action,), (source, name, found)
    assert unknown == ["DescribeFutureThing"]


# -- resources and context -----------------------------------------------------------------------


def test_resource_level_statements_get_the_resource_from_the_event() -> None:
    replay = Replay(Simulator(catalog.path("Workloads")))
    secret = s.record(
        s.ASSUMED_ROLE,
        "secretsmanager.amazonaws.com",
        "GetSecretValue",
        region="eu-west-1",
        requestParameters={"secretId": "admin-db"},
    )
    other = {**secret, "requestParameters": {"secretId": "app-db"}}
    listed = {
        **secret,
        "requestParameters": None,
        "resources": [{"ARN": f"arn:aws:secretsmanager:eu-west-1:{s.ACCOUNT}:secret:admin-x-AbCdEf"}],
    }
    missing = {**secret, "requestParameters": None}
    assert replay.decide(secret).matched == (("protect-admin-secrets", "DenyAdminSecretsAccess"),)
    assert replay.decide(other).outcome == ALLOWED
    assert replay.decide(listed).outcome == DENIED
    unknown = replay.decide(missing)
    assert (unknown.outcome, unknown.reason) == (UNMAPPED, "resource-unknown: secretsmanager:GetSecretValue")


def test_condition_keys_cloudtrail_does_not_record_make_the_event_unmapped() -> None:
    replay = Replay(Simulator(catalog.path("Workloads")))
    decision = replay.decide(
        s.record(s.ALICE, "iam.amazonaws.com", "GetRole", region="us-east-1", requestParameters={"roleName": "app"})
    )
    assert decision.outcome == UNMAPPED
    assert decision.reason == "condition-key-not-in-cloudtrail: iam:resourcetag/passroleapproved (iam:GetRole)"


def test_request_tags_source_ip_and_org_id() -> None:
    from devops_blueprints.guardrails import policy_from_document

    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Tag", "Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*",
             "Condition": {"Null": {"aws:RequestTag/team": "true"}}},
            {"Sid": "Ip", "Effect": "Deny", "Action": "s3:ListAllMyBuckets", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "205.251.233.0/24"}}},
            {"Sid": "Org", "Effect": "Deny", "Action": "sqs:ListQueues", "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}},
        ],
    }  # fmt: skip
    simulator = Simulator([[full_aws_access(), policy_from_document(document, "p")]])
    replay = Replay(simulator, org_id="o-abcdefghij")
    run = s.record(s.ALICE, "ec2.amazonaws.com", "RunInstances")
    tagged = {
        **run,
        "requestParameters": {"tagSpecificationSet": {"items": [{"tags": [{"key": "team", "value": "a"}]}]}},
    }
    assert replay.decide(run).matched == (("p", "Tag"),)
    assert replay.decide(tagged).outcome == ALLOWED
    buckets = s.record(s.ALICE, "s3.amazonaws.com", "ListBuckets")
    assert replay.decide(buckets).outcome == ALLOWED
    assert replay.decide({**buckets, "sourceIPAddress": "198.51.100.1"}).matched == (("p", "Ip"),)
    queues = s.record(s.ALICE, "sqs.amazonaws.com", "ListQueues")
    assert replay.decide(queues).outcome == ALLOWED
    assert Replay(simulator).decide(queues).reason.startswith("condition-key-unknown: aws:principalorgid")


# -- bad events ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.pop("eventSource"), "missing-field: eventSource"),
        (lambda r: r.pop("eventName"), "missing-field: eventName"),
        (lambda r: r.pop("userIdentity"), "missing-field: userIdentity"),
        (lambda r: r.pop("awsRegion"), "missing-field: awsRegion"),
        (lambda r: r["userIdentity"].pop("arn"), "missing-field: userIdentity.arn"),
        (lambda r: r["userIdentity"].pop("type"), "missing-field: userIdentity.type"),
        (lambda r: r.update(eventType="AwsConsoleSignIn"), "not-an-api-call: AwsConsoleSignIn"),
        (lambda r: r.update(userIdentity="Alice"), "bad-event: $.userIdentity: Expected `object | null`, got `str`"),
        # unhashable or mistyped values are one bad event, not a crash of the replay
        (lambda r: r.update(eventType=["AwsApiCall"]), "bad-event: $.eventType: Expected `str | null`, got `array`"),
        (lambda r: r.update(eventName=7), "bad-event: $.eventName: Expected `str | null`, got `int`"),
        (
            lambda r: r["userIdentity"].update(sessionContext={"attributes": {"mfaAuthenticated": {}}}),
            "bad-event: $.userIdentity.sessionContext.attributes.mfaAuthenticated: Expected `bool | str | null`, "
            "got `object`",
        ),
    ],
)
def test_events_with_missing_fields_are_unmapped_with_a_reason(mutate: Any, reason: str) -> None:
    record = json.loads(json.dumps(s.record(s.ALICE)))
    mutate(record)
    decision = regions_replay().decide(record)
    assert (decision.outcome, decision.reason) == (UNMAPPED, reason)


# -- files ---------------------------------------------------------------------------------------


def test_bad_files_are_one_problem_each_and_the_rest_goes_on(tmp_path: Path) -> None:
    trail = s.sample_trail(tmp_path / "trail")
    good = s.write_log(trail / "plain.json", [s.record(s.ALICE, region="ap-south-1")], compress=False)
    (trail / "notes.txt").write_text("hello")
    (trail / "other.json").write_text('{"Resources": {}}')
    whole = gzip.compress(json.dumps({"Records": [s.record(s.ALICE)] * 50}).encode())
    (trail / "truncated.json.gz").write_bytes(whole[: len(whole) // 2])
    (trail / "corrupt.json.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    (trail / "deep.json").write_text('{"Records": [' + "[" * 100_000 + "]" * 100_000 + "]}")
    bomb = gzip.compress(b'{"Records": [' + b" " * (3 * 1024 * 1024) + b"]}")
    (trail / "bomb.json.gz").write_bytes(bomb)
    mistyped = {**s.record(s.ALICE, region="ap-south-1"), "eventName": 7}
    mixed = s.write_log(
        trail / "mixed.json", [s.record(s.ALICE, region="ap-south-1"), 7, "x", mistyped], compress=False
    )
    replay = regions_replay(max_file_bytes=2 * 1024 * 1024)
    summary = Summary().add_all(replay.decisions([str(trail), str(tmp_path / "missing")]))
    problems = {Path(p.source).name: p.reason for p in replay.problems}
    assert problems == {
        "123456789012_CloudTrail-Digest_eu-west-1_trail_us-east-1_20261102T1000Z.json.gz": "digest-file",
        "notes.txt": "not-json",
        "other.json": "not-cloudtrail",
        "truncated.json.gz": "bad-gzip",
        "corrupt.json.gz": "bad-gzip",
        "deep.json": "not-json",
        "bomb.json.gz": "too-large",
        "missing": "unreadable",
    }
    assert replay.files_read == 4  # the sample's two logs, plain.json, mixed.json
    assert summary.events == 6 + 1 + 4
    assert summary.unmapped["not-an-event: a record that is not a JSON object"].count == 2
    assert summary.unmapped["bad-event: $.eventName: Expected `str | null`, got `int`"].count == 1
    assert summary.outcomes["DENIED"] == 2 + 1 + 1  # the sample's two, plain.json's and mixed.json's good one
    assert good.exists() and mixed.exists()


def test_read_log_file_reads_uncompressed_and_multi_member_gzip(tmp_path: Path) -> None:
    first = gzip.compress(b'{"Records": [{"eventName": "A"},')
    second = gzip.compress(b' {"eventName": "B"}]}')
    path = tmp_path / "two.json.gz"
    path.write_bytes(first + second)
    log = read_log_file(str(path), lambda: [path.read_bytes()])
    assert [r.eventName for r in log.records] == ["A", "B"]  # type: ignore[union-attr]


# -- CLI -----------------------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["scp", "replay", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def trail_and_policy(tmp_path: Path) -> tuple[Path, Path]:
    policy = tmp_path / "regions.json"
    policy.write_text(json.dumps(REGIONS.render()))
    return s.sample_trail(tmp_path / "trail"), policy


def test_cli_text_report_and_exit_3(capsys: pytest.CaptureFixture[str], trail_and_policy: tuple[Path, Path]) -> None:
    trail, policy = trail_and_policy
    code, out, err = cli(capsys, "--policy", str(policy), "--cloudtrail", str(trail))
    assert code == 3
    assert f"{policy}#DenyOutsideApprovedRegions  ec2:StartInstances  arn:aws:iam::{s.ACCOUNT}:user/Alice: 2  " \
           "2026-11-02T10:01:00Z .. 2026-11-02T10:04:00Z" in out  # fmt: skip
    assert "unknown-action: ec2.amazonaws.com DescribeFutureThing: 1" in out
    assert "service-linked-role: 1" in out
    assert out.rstrip().endswith(
        "6 events in 2 file(s): 2 would be denied, 2 allowed, 0 already denied, 1 not subject to SCPs, "
        "1 not mapped; 1 file(s) skipped (1 digest-file)"
    )
    assert err.count("\n") == 1 and "CloudTrail-Digest" in err and "digest file" in err


def test_cli_json_csv_top_and_exit_0(capsys: pytest.CaptureFixture[str], trail_and_policy: tuple[Path, Path]) -> None:
    trail, policy = trail_and_policy
    code, out, _err = cli(capsys, "--policy", str(policy), "--cloudtrail", str(trail), "--format", "json")
    report = json.loads(out)
    assert code == 3
    assert report["outcomes"] == {"ALLOWED": 2, "DENIED": 2, "ALREADY_DENIED": 0, "UNAFFECTED": 1, "UNMAPPED": 1}
    assert report["denied"][0]["count"] == 2 and report["skipped_files"] == {"digest-file": 1}
    code, out, _err = cli(
        capsys, "--catalog-path", "Workloads", "--cloudtrail", str(trail), "--format", "csv", "--top", "1"
    )
    lines = out.splitlines()
    assert lines[0] == "kind,policy,sid,action,principal,reason,count,first,last"
    assert lines[1].startswith("denied,approved-regions,DenyOutsideApprovedRegions,ec2:StartInstances,")
    assert [line.split(",")[0] for line in lines[1:]] == ["denied", "unmapped", "unaffected"]
    allowed_only = trail.parent / "eu"
    allowed_only.mkdir()
    (allowed_only / "a.json").write_text(json.dumps({"Records": [s.record(s.ALICE, region="eu-west-1")]}))
    assert cli(capsys, "--policy", str(policy), "--cloudtrail", str(allowed_only))[0] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cloudtrail", "x"], "needs --policy FILE"),
        (["--catalog-path", "Nope", "--cloudtrail", "x"], "--catalog-path: ou must be one of"),
        (["--catalog-path", "Workloads", "--cloudtrail", "x", "--top", "0"], "--top must be a positive"),
        (["--catalog-path", "Workloads", "--cloudtrail", "x", "--management-account", "12"], "12-digit"),
        (["--catalog-path", "Workloads", "--cloudtrail", "x", "--org-id", "org"], "--org-id expects"),
        (["--policy", "missing.json", "--cloudtrail", "x"], "missing.json"),
    ],
)
def test_cli_usage_errors_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err


# -- --path ROOT,OU,... ---------------------------------------------------------------------------


def replay_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _err = cli(capsys, *argv, "--format", "json", "--jobs", "1")
    return code, json.loads(out)


def test_path_is_the_catalog_along_the_nodes_given(
    capsys: pytest.CaptureFixture[str], trail_and_policy: tuple[Path, Path]
) -> None:
    trail, policy = trail_and_policy
    assert replay_json(capsys, "--path", "Root,Workloads", "--cloudtrail", str(trail)) == replay_json(
        capsys, "--catalog-path", "Workloads", "--cloudtrail", str(trail)
    )
    # the root's catalog SCPs alone do not restrict regions: nothing in the sample would be denied
    code, report = replay_json(capsys, "--path", "Root", "--cloudtrail", str(trail))
    assert (code, report["outcomes"]["DENIED"], report["outcomes"]["ALLOWED"]) == (0, 0, 4)
    # --policy files are attached at the last node: here the root
    code, report = replay_json(capsys, "--path", "Root", "--policy", str(policy), "--cloudtrail", str(trail))
    assert code == 3 and {(r["policy"], r["sid"]) for r in report["denied"]} == {
        (str(policy), "DenyOutsideApprovedRegions")
    }
    # nested in the order given: Suspended's deny-all under Workloads denies every mapped call
    code, report = replay_json(capsys, "--path", "Root, Workloads, Suspended", "--cloudtrail", str(trail))
    assert (code, report["outcomes"]["DENIED"], report["outcomes"]["ALLOWED"]) == (3, 4, 0)
    assert {r["sid"] for r in report["denied"]} == {"DenyAll", "DenyOutsideApprovedRegions"}


def test_path_levels_name_each_node() -> None:
    from devops_blueprints.guardrails.replay_cli import path_levels

    levels = path_levels("Root,Workloads,Exceptions")
    assert [level.name for level in levels] == ["Root", "Workloads", "Exceptions", "Account"]
    assert [level.name for level in catalog.path("Workloads")] == [
        level.name for level in path_levels("Root,Workloads")
    ]
    assert [[p.name for p in level.policies] for level in path_levels("Root,Workloads")] == [
        [p.name for p in level.policies] for level in catalog.path("Workloads")
    ]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("Root,Workload", "--path: unknown node 'Workload'; the catalog's nodes are Root, Security, "),
        ("Root,Prod", "--path: unknown node 'Prod'"),
        ("Workloads", "--path starts at the organization root: Root first, got 'Workloads'"),
        ("Root,Workloads,Root", "--path names Root more than once"),
        ("Root,,Workloads", "--path has an empty node in 'Root,,Workloads'"),
    ],
)
def test_path_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], path: str, message: str) -> None:
    code, out, err = cli(capsys, "--path", path, "--cloudtrail", "x")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err


def test_path_and_catalog_path_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = cli(capsys, "--path", "Root,Workloads", "--catalog-path", "Workloads", "--cloudtrail", "x")
    assert code == 2 and "--path and --catalog-path both give the path" in err


# -- S3 (moto server) ----------------------------------------------------------------------------


def test_s3_prefix_is_read_and_an_unreadable_prefix_is_one_line(
    aws: str, capsys: pytest.CaptureFixture[str], trail_and_policy: tuple[Path, Path]
) -> None:
    import boto3

    trail, policy = trail_and_policy
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="org-trail")
    for path in sorted(trail.iterdir()):
        client.put_object(
            Bucket="org-trail", Key=f"AWSLogs/o-abc/{s.ACCOUNT}/CloudTrail/{path.name}", Body=path.read_bytes()
        )
    code, out, err = cli(
        capsys,
        "--policy",
        str(policy),
        "--cloudtrail",
        "s3://org-trail/AWSLogs/",
        "s3://no-such-bucket/x",
        "--format",
        "json",
    )
    report = json.loads(out)
    assert code == 3
    assert report["files"] == 2 and report["outcomes"]["DENIED"] == 2
    assert report["skipped_files"] == {"digest-file": 1, "unreadable": 1}
    assert "s3://no-such-bucket/x: cannot list the prefix" in err and "NoSuchBucket" in err


@pytest.fixture
def iam_enforced(aws: str) -> Iterator[Callable[[], None]]:
    """moto checks IAM for every request once the returned function is called (until the test ends)."""
    import urllib.request

    def reset_auth(value: str) -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback moto server
            f"{aws}/moto-api/reset-auth", data=value.encode(), method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback moto server
            assert response.status == 200

    try:
        yield lambda: reset_auth("0")
    finally:
        reset_auth("inf")


def test_unreadable_s3_objects_and_prefixes_are_one_line_each_and_the_rest_goes_on(
    iam_enforced: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    trail_and_policy: tuple[Path, Path],
) -> None:
    """An auditor that may list org-trail and read one account's logs, not the other's, nor list locked-trail:
    AccessDenied on two objects and on a prefix, NoSuchBucket on another, each one stderr line; the readable
    logs are replayed, and the summary counts the four."""
    import boto3

    trail, policy = trail_and_policy
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in ("org-trail", "locked-trail"):
        s3.create_bucket(Bucket=bucket)
    logs = sorted(p for p in trail.iterdir() if "Digest" not in p.name)
    for account in ("111111111111", "222222222222"):
        for path in logs:
            s3.put_object(Bucket="org-trail", Key=f"AWSLogs/{account}/CloudTrail/{path.name}", Body=path.read_bytes())
    s3.put_object(Bucket="locked-trail", Key=f"AWSLogs/{logs[0].name}", Body=logs[0].read_bytes())
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="auditor")
    readable = {
        "Version": "2012-10-17",
        "Statement": [
            # (moto answers AccessDenied, not NoSuchBucket, for a missing bucket the caller has no grant on)
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": ["arn:aws:s3:::org-trail", "arn:aws:s3:::no-such-bucket"],
            },
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::org-trail/AWSLogs/111111111111/*"},
        ],
    }
    iam.put_user_policy(UserName="auditor", PolicyName="read-trail", PolicyDocument=json.dumps(readable))
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # its credentials are cached: the auditor's from here on
    iam_enforced()

    locations = ["s3://org-trail/AWSLogs/", "s3://locked-trail/AWSLogs/", "s3://no-such-bucket/AWSLogs/"]
    for jobs in ("1", "2"):
        code, out, err = cli(
            capsys, "--policy", str(policy), "--cloudtrail", *locations, "--format", "json", "--jobs", jobs
        )
        report = json.loads(out)
        assert code == 3, (jobs, report, err)
        assert report["files"] == 2 and report["events"] == 6 and report["outcomes"]["DENIED"] == 2
        assert report["skipped_files"] == {"unreadable": 4}
        lines = err.splitlines()
        assert len(lines) == 4, err
        denied = [
            f"s3://org-trail/AWSLogs/222222222222/CloudTrail/{path.name}: cannot read the object: " for path in logs
        ]
        assert [line.split("skipped ", 1)[1].split("An error")[0] for line in lines[:2]] == denied
        assert all("(AccessDenied) when calling the GetObject operation" in line for line in lines[:2])
        assert lines[2].startswith("devops-blueprints: skipped s3://locked-trail/AWSLogs/: cannot list the prefix: ")
        assert "(AccessDenied) when calling the ListObjectsV2 operation" in lines[2]
        assert lines[3].startswith("devops-blueprints: skipped s3://no-such-bucket/AWSLogs/: cannot list the prefix: ")
        assert "(NoSuchBucket)" in lines[3]
    code, out, _err = cli(capsys, "--policy", str(policy), "--cloudtrail", *locations, "--jobs", "1")
    assert out.rstrip().endswith("4 file(s) skipped (4 unreadable)")

"""scp replay's memo: decisions cached on (the statements' group, resources, the values of the keys the statements
read) equal the unmemoized reference (``cache_size=0``: every event evaluated on its own with every key it
supplies) on the test corpus, the benchmark's generated corpus and a generated corpus that varies keys the
policies read and keys they do not; the cache is bounded (LRU); several processes give the same summary as one."""

from __future__ import annotations

import gzip
import json
import random
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devops_blueprints.guardrails import Simulator, catalog, full_aws_access, policy_from_document
from devops_blueprints.guardrails import cloudtrail as ct
from devops_blueprints.guardrails.replay import Replay
from devops_blueprints.guardrails.replay_report import summarize
from devops_blueprints.guardrails.simulator import Level
from tests.guardrails import cloudtrail_samples as s

ORG_ID = "o-abcdefghij"
# A policy set that reads every key a replay supplies, a policy variable in a NotResource and resources.
KEYS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "S3FromOffice", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/25"},
                       "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin-*"}}},
        {"Sid": "TeamTag", "Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*",
         "Condition": {"Null": {"aws:RequestTag/team": "true"}}},
        {"Sid": "KnownTagKeys", "Effect": "Deny", "Action": "ec2:CreateTags", "Resource": "*",
         "Condition": {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team", "env"]}}},
        {"Sid": "MfaToDelete", "Effect": "Deny", "Action": "iam:Delete*", "Resource": "*",
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
        {"Sid": "TablesThroughEndpoint", "Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}},
        {"Sid": "OwnTables", "Effect": "Deny", "Action": "dynamodb:GetItem",
         "NotResource": "arn:aws:dynamodb:*:${aws:PrincipalAccount}:table/*"},
        {"Sid": "InOrg", "Effect": "Deny", "Action": "sqs:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": ORG_ID}}},
        {"Sid": "AdminSecrets", "Effect": "Deny", "Action": "secretsmanager:GetSecretValue",
         "Resource": "arn:aws:secretsmanager:*:*:secret:admin-*"},
        {"Sid": "Regions", "Effect": "Deny", "NotAction": ["iam:*", "sts:*", "s3:ListAllMyBuckets"], "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]},
                       "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin-*"}}},
    ],
}  # fmt: skip


def keys_simulator() -> Simulator:
    return Simulator([Level("Root", (full_aws_access(),)), [full_aws_access(), policy_from_document(KEYS_POLICY, "k")]])


def simulators() -> dict[str, Simulator]:
    found = {f"catalog {ou}": Simulator(catalog.path(ou)) for ou in ("Workloads", "Sandbox", "Suspended")}
    found["approved-regions"] = Simulator([[full_aws_access(), catalog.get("approved-regions").policy()]])
    found["keys"] = keys_simulator()
    return found


def same_decisions(simulator: Simulator, records: list[Any], **options: Any) -> tuple[int, set[str]]:
    """Every record decided memoized and unmemoized: equal; returns the memo's hits and the Sids that denied."""
    memo = Replay(simulator, **options)
    reference = Replay(simulator, cache_size=0, **options)
    sids: set[str] = set()
    for index, record in enumerate(records):
        decision = memo.decide(record, "f")
        assert decision == reference.decide(record, "f"), (index, record)
        sids.update(sid for _policy, sid in decision.matched)
    assert reference.cache_info().hits == 0
    return memo.cache_info().hits, sids


# -- the corpora ---------------------------------------------------------------------------------

IDENTITIES = [s.ALICE, s.ASSUMED_ROLE, s.FEDERATED, s.ROOT, s.CROSS_ACCOUNT, s.SERVICE_LINKED, s.AWS_SERVICE,
              s.AWS_ACCOUNT]  # fmt: skip
CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("ec2.amazonaws.com", "StartInstances", None),
    (
        "ec2.amazonaws.com",
        "RunInstances",
        {"tagSpecificationSet": {"items": [{"tags": [{"key": "team", "value": "a"}]}]}},
    ),
    ("ec2.amazonaws.com", "RunInstances", {"instanceType": "t3.micro"}),
    ("ec2.amazonaws.com", "CreateTags", {"tagSet": {}, "tags": {"team": "a", "cost": "1"}}),
    ("s3.amazonaws.com", "ListBuckets", None),
    ("s3.amazonaws.com", "GetObject", {"bucketName": "data", "key": "a/b.json"}),
    ("secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": "admin-db"}),
    ("secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": "app-db"}),
    ("secretsmanager.amazonaws.com", "GetSecretValue", None),
    ("secretsmanager.amazonaws.com", "ListSecrets", None),
    ("iam.amazonaws.com", "GetRole", {"roleName": "app"}),
    ("iam.amazonaws.com", "CreateUser", {"userName": "Bob"}),
    ("iam.amazonaws.com", "DeleteUser", {"userName": "Bob"}),
    ("monitoring.amazonaws.com", "DeleteAlarms", {"alarmNames": ["Admin-cpu", "team-cpu"]}),
    ("logs.amazonaws.com", "PutRetentionPolicy", {"logGroupName": "/aws/lambda/f", "retentionInDays": 7}),
    ("organizations.amazonaws.com", "LeaveOrganization", None),
    ("guardduty.amazonaws.com", "DeleteDetector", {"detectorId": "d"}),
    ("dynamodb.amazonaws.com", "GetItem", {"tableName": "orders"}),
    ("dynamodb.amazonaws.com", "PutItem", {"tableName": "orders"}),
    ("sqs.amazonaws.com", "SendMessage", {"queueUrl": f"https://sqs.eu-west-1.amazonaws.com/{s.ACCOUNT}/q"}),
    ("lambda.amazonaws.com", "ListFunctions", None),
    ("sts.amazonaws.com", "GetCallerIdentity", None),
    ("ec2.amazonaws.com", "DescribeFutureThing", None),
    ("kms.amazonaws.com", "ReEncrypt", None),
]
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "ap-south-1"]


def corpus() -> Iterator[dict[str, Any]]:
    """The test corpus: every sample identity x call x region, with calls AWS denied and console sign-ins."""
    for identity in IDENTITIES:
        for source, name, parameters in CALLS:
            for region in REGIONS:
                yield s.record(identity, source, name, region=region, requestParameters=parameters)
        yield s.record(identity, region="ap-south-1", errorCode="AccessDenied")
        yield s.record(identity, "signin.amazonaws.com", "ConsoleLogin", eventType="AwsConsoleSignIn")
    yield s.service_event()


def varied(rng: random.Random) -> dict[str, Any]:
    """A generated event: principals, calls, regions, source IPs, endpoints, MFA and tags all vary, read or not."""
    account = rng.choice([s.ACCOUNT, s.OTHER_ACCOUNT])
    kind = rng.random()
    if kind < 0.5:
        role = rng.choice(["Developer", "Admin-ops", "ci", "OrganizationAccountAccessRole"])
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/s{rng.randrange(50)}",
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{account}:role/{role}", "accountId": account},
                "attributes": {"mfaAuthenticated": rng.choice(["true", "false"]), "creationDate": f"{rng.random()}"},
            },
        }
        if rng.random() < 0.2:
            del identity["sessionContext"]["attributes"]
    elif kind < 0.8:
        identity = {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/u{rng.randrange(5)}", "accountId": account}
    else:
        identity = rng.choice([s.ROOT, s.FEDERATED, s.AWS_ACCOUNT, s.SERVICE_LINKED])
    source, name, parameters = rng.choice(CALLS)
    if name in ("RunInstances", "CreateTags") and rng.random() < 0.5:
        keys = rng.sample(["team", "env", "cost", "Team"], rng.randrange(4))
        parameters = {"tags": {key: rng.choice(["a", "b"]) for key in keys}}
    if name in ("GetItem", "PutItem"):
        parameters = {"tableName": rng.choice(["orders", "users"])}
    extra: dict[str, Any] = {
        "sourceIPAddress": rng.choice(["203.0.113.7", "203.0.113.200", "198.51.100.1", "ec2.amazonaws.com"]),
        "recipientAccountId": rng.choice([account, s.ACCOUNT]),
        "requestParameters": parameters,
    }
    endpoint = rng.choice([None, "vpce-1a2b3c4d", "vpce-0f0f0f0f"])
    if endpoint:
        extra["vpcEndpointId"] = endpoint
    if rng.random() < 0.03:
        extra["errorCode"] = rng.choice(["AccessDenied", "ThrottlingException"])
    return s.record(identity, source, name, region=rng.choice(REGIONS), **extra)


# -- memoized == unmemoized ----------------------------------------------------------------------


@pytest.mark.parametrize("org_id", [None, ORG_ID])
def test_memoized_decisions_equal_the_reference_on_the_test_corpus(org_id: str | None) -> None:
    records = list(corpus())
    for name, simulator in simulators().items():
        hits, _sids = same_decisions(simulator, records, org_id=org_id, management_account=s.MANAGEMENT)
        assert hits > 0, name  # the memo was used, not bypassed


def test_memoized_decisions_equal_the_reference_on_a_generated_corpus() -> None:
    rng = random.Random(19)
    records = [varied(rng) for _ in range(3000)]
    hits, sids = same_decisions(keys_simulator(), records, org_id=ORG_ID)
    other_hits, other_org_sids = same_decisions(keys_simulator(), records, org_id="o-anotherorg")
    assert hits > 1000 and other_hits > 1000
    assert "InOrg" not in sids and "InOrg" in other_org_sids
    assert sids | other_org_sids == {statement["Sid"] for statement in KEYS_POLICY["Statement"]}  # each denied some
    hits, sids = same_decisions(Simulator(catalog.path("Workloads")), records, org_id=ORG_ID)
    assert hits > 1000 and len(sids) >= 4


def test_memoized_decisions_equal_the_reference_on_the_benchmark_corpus(tmp_path: Path) -> None:
    from benchmarks.replay import MANAGEMENT, generate

    generate(tmp_path, 5000)
    (path,) = tmp_path.iterdir()
    log = ct.read_log_file(str(path), lambda: [path.read_bytes()])
    assert isinstance(log, ct.LogFile)
    hits, sids = same_decisions(Simulator(catalog.path("Workloads")), log.records, management_account=MANAGEMENT)
    assert hits > 2500 and "DenyOutsideApprovedRegions" in sids


# -- what the cache key holds --------------------------------------------------------------------


def test_a_key_no_statement_reads_shares_the_entry_and_a_read_key_does_not() -> None:
    simulator = keys_simulator()
    buckets = s.record(s.ALICE, "s3.amazonaws.com", "ListBuckets", region="eu-west-1", sourceIPAddress="203.0.113.7")
    # ec2:StartInstances: the Regions statement reads the region and the principal, not the source address,
    # the endpoint, MFA or tags
    start = s.record(s.ASSUMED_ROLE, region="eu-west-1", sourceIPAddress="203.0.113.7")
    unread = [
        {**start, "sourceIPAddress": "198.51.100.1"},
        {**start, "vpcEndpointId": "vpce-0f0f0f0f", "eventTime": "2026-11-03T00:00:00Z"},
        {**start, "requestParameters": {"tags": {"team": "a"}}},
        {
            **start,
            "userIdentity": {**s.ASSUMED_ROLE, "arn": f"arn:aws:sts::{s.ACCOUNT}:assumed-role/RoleToBeAssumed/x"},
        },
    ]
    replay = Replay(simulator)
    first = replay.decide(start)
    assert [replay.decide(record).outcome for record in unread] == [first.outcome] * 4
    assert replay.cache_info()[:2] == (4, 1)
    # lambda:ListFunctions is decided by the same statements as ec2:StartInstances: one entry serves both
    assert replay.decide(s.record(s.ASSUMED_ROLE, "lambda.amazonaws.com", "ListFunctions", region="eu-west-1")).action \
        == "lambda:ListFunctions"  # fmt: skip
    assert replay.cache_info()[:2] == (5, 1)
    # s3:ListAllMyBuckets reads aws:SourceIp: another address is another entry, and another decision
    assert replay.decide(buckets).outcome == "ALLOWED"
    assert replay.decide({**buckets, "sourceIPAddress": "198.51.100.1"}).matched == (("k", "S3FromOffice"),)
    assert replay.cache_info()[:2] == (5, 3)
    # ... but two addresses are two entries even when the decision is the same
    assert replay.decide({**buckets, "sourceIPAddress": "203.0.113.8"}).outcome == "ALLOWED"
    assert replay.cache_info()[:2] == (5, 4)


def test_the_decision_cache_is_a_bounded_lru() -> None:
    replay = Replay(keys_simulator(), cache_size=4)
    reference = Replay(keys_simulator(), cache_size=0)
    users = [{**s.ALICE, "arn": f"arn:aws:iam::{s.ACCOUNT}:user/u{i}"} for i in range(10)]
    records = [s.record(user, region="ap-south-1") for user in users]
    for record in records:
        assert replay.decide(record) == reference.decide(record)
    assert replay.cache_info() == (0, 10, 4, 4)
    replay.decide(records[-1])  # the most recent entry is still there ...
    replay.decide(records[0])  # ... the oldest was evicted
    assert replay.cache_info()[:2] == (1, 11)
    with pytest.raises(ValueError, match="cache_size must be 0"):
        Replay(keys_simulator(), cache_size=-1)


# -- several processes ---------------------------------------------------------------------------


def test_several_processes_give_the_summary_of_one(tmp_path: Path) -> None:
    rng = random.Random(7)
    trail = tmp_path / "trail"
    trail.mkdir()
    for index in range(6):
        s.write_log(trail / f"{s.ACCOUNT}_CloudTrail_eu-west-1_2026110{index}T1000Z_x.json.gz",
                    [varied(rng) for _ in range(300)])  # fmt: skip
    (trail / "b-not-a-log.json").write_text("[]")
    (trail / "d-truncated.json.gz").write_bytes(gzip.compress(b'{"Records": []}')[:10])
    levels = [
        Level("Root", (full_aws_access(),)),
        Level("Keys", (full_aws_access(), policy_from_document(KEYS_POLICY, "k"))),
    ]
    seen: list[str] = []
    one = summarize(levels, [str(trail)], jobs=1, org_id=ORG_ID)
    two = summarize(levels, [str(trail)], jobs=2, org_id=ORG_ID, on_problem=lambda p: seen.append(p.reason))
    assert one.to_dict() == two.to_dict()
    assert one.events == 1800 and one.files_read == 6
    assert [p.source for p in one.problems] == [p.source for p in two.problems]
    assert seen == ["not-cloudtrail", "bad-gzip"]  # in file order
    assert two.cache_hits + two.cache_misses == one.cache_hits + one.cache_misses > 0
    with pytest.raises(ValueError, match="jobs must be a positive"):
        summarize(levels, [str(trail)], jobs=0)


# -- decompression: ISA-L where installed, zlib otherwise -----------------------------------------


@pytest.mark.parametrize("inflate", ["installed", "zlib"])
def test_gzip_is_read_alike_with_isal_or_zlib(inflate: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if inflate == "zlib":
        monkeypatch.setattr(ct, "_inflate", zlib)
    records = [s.record(s.ALICE, eventTime=f"2026-11-02T10:{i % 60:02d}:00Z") for i in range(2000)]
    whole = gzip.compress(json.dumps({"Records": records}).encode())
    half = len(whole) // 2
    # two gzip members, delivered in small chunks
    members = gzip.compress(b'{"Records": [{"eventName": "A"},') + gzip.compress(b' {"eventName": "B"}]}')
    read = ct.read_log_file
    log = read("a.json.gz", lambda: [whole[i : i + 4096] for i in range(0, len(whole), 4096)])
    assert isinstance(log, ct.LogFile) and len(log.records) == 2000
    assert [r.eventName for r in read("m.json.gz", lambda: [members[:7], members[7:]]).records] == ["A", "B"]  # type: ignore[union-attr]
    truncated = read("t.json.gz", lambda: [whole[:half]])
    corrupt = read("c.json.gz", lambda: [whole[:half] + bytes(64) + whole[half + 64 :]])
    bomb = read("b.json.gz", lambda: [whole], max_bytes=100_000)
    assert (truncated.reason, corrupt.reason, bomb.reason) == ("bad-gzip", "bad-gzip", "too-large")  # type: ignore[union-attr]

"""CloudTrail replay throughput: generated logs (default 1,000,000 events) against the whole catalog.

Events are generated with a realistic mix (S3 data events, EC2/Lambda/DynamoDB/KMS/STS calls, IAM and other
global services, AWS service events, console sign-ins, calls AWS already denied, service-linked roles,
the management account, a few event names IAM does not know), about 1.3 KB of JSON each as CloudTrail
writes them, 5,000 per file, gzip'd as a trail delivers them. Measured in the same run, each in a fresh
process (so peak RSS is that measurement's own):

* parse-only baseline: read + decompress + parse every file and visit every record, by the reader the replay
  ships (:func:`~devops_blueprints.guardrails.cloudtrail.read_source`: ISA-L's inflate where python-isal is
  installed, as the package installs it on Linux x86_64/aarch64, else zlib; msgspec into the event structs);
* end to end: the same files through :class:`Replay` and the report's :class:`Summary`, root -> Workloads ->
  account with every catalog SCP where the article attaches it.

Goals: >= 150,000 events/s end to end, evaluation adding <= 1x the parse-only time, peak RSS flat in the
number of events (end to end at a quarter of the events and at all of them). Also printed: the decision
cache's hit rate, the share of events mapped, and the 1-minute load average before and after (the machine is
shared, and every figure is wall time). ``BENCH_REPLAY_EVENTS`` sets the size (``python -m benchmarks replay``).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from benchmarks.peak_rss import vm_hwm_bytes

EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "1000000"))
PER_FILE = 5_000
JOBS = 2  # the 2-core machine
GOAL_EVENTS_PER_SECOND = 150_000
GOAL_EVALUATION_RATIO = 1.0  # evaluation adds at most 1x the parse-only time
RSS_FLAT_RATIO = 1.25  # peak RSS at all events within 25 % of that at a quarter
ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
MANAGEMENT = "999900001111"
REGIONS = ["eu-west-1"] * 5 + ["eu-central-1"] * 3 + ["us-east-1"] * 2 + ["ap-south-1", "us-west-2"]
# (eventSource, eventName, readOnly, resource-ish parameters builder key)
CALLS = [
    ("s3.amazonaws.com", "GetObject", True, "s3obj"),
    ("s3.amazonaws.com", "PutObject", False, "s3obj"),
    ("s3.amazonaws.com", "ListObjectsV2", True, "s3bucket"),
    ("s3.amazonaws.com", "ListBuckets", True, None),
    ("ec2.amazonaws.com", "DescribeInstances", True, None),
    ("ec2.amazonaws.com", "RunInstances", False, "ec2"),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", True, None),
    ("lambda.amazonaws.com", "Invoke", False, "lambda"),
    ("lambda.amazonaws.com", "GetFunction", True, "lambda"),
    ("dynamodb.amazonaws.com", "GetItem", True, "table"),
    ("dynamodb.amazonaws.com", "PutItem", False, "table"),
    ("kms.amazonaws.com", "Decrypt", True, "kms"),
    ("kms.amazonaws.com", "GenerateDataKey", True, "kms"),
    ("sts.amazonaws.com", "AssumeRole", True, "role"),
    ("sts.amazonaws.com", "GetCallerIdentity", True, None),
    ("iam.amazonaws.com", "GetRole", True, "iamrole"),
    ("iam.amazonaws.com", "ListRoles", True, None),
    ("logs.amazonaws.com", "CreateLogStream", False, "loggroup"),
    ("logs.amazonaws.com", "PutRetentionPolicy", False, "loggroup"),
    ("monitoring.amazonaws.com", "PutMetricData", False, None),
    ("monitoring.amazonaws.com", "DescribeAlarms", True, None),
    ("monitoring.amazonaws.com", "DeleteAlarms", False, "alarms"),
    ("secretsmanager.amazonaws.com", "GetSecretValue", True, "secret"),
    ("sqs.amazonaws.com", "SendMessage", False, "queue"),
    ("sns.amazonaws.com", "Publish", False, "topic"),
    ("config.amazonaws.com", "DescribeConfigRules", True, None),
    ("guardduty.amazonaws.com", "ListDetectors", True, None),
    ("organizations.amazonaws.com", "DescribeOrganization", True, None),
    ("cloudformation.amazonaws.com", "DescribeStacks", True, None),
    ("ssm.amazonaws.com", "GetParameter", True, None),
    ("ecr.amazonaws.com", "GetAuthorizationToken", True, None),
    ("ec2.amazonaws.com", "DescribeFutureThing", True, None),  # a name IAM does not know
]
WEIGHTS = [30, 10, 6, 1, 8, 1, 3, 6, 2, 6, 3, 5, 3, 4, 2, 1, 1, 3, 1, 4, 2, 0.2, 1, 3, 2, 0.5, 0.5, 0.3, 1, 2, 1, 0.2]


def _identity(rng: random.Random, account: str) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.55:
        role = rng.choice(["Developer", "ci-deploy", "app-runtime", "OrganizationAccountAccessRole", "Admin-Role"])
        session = f"session-{rng.randrange(200)}"
        return {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE{rng.randrange(1000)}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": f"ASIAEXAMPLE{rng.randrange(10**6)}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROAEXAMPLE{rng.randrange(1000)}",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "attributes": {"creationDate": "2026-11-02T09:00:00Z", "mfaAuthenticated": "false"},
            },
        }
    if roll < 0.65:
        name = f"AWSServiceRoleFor{rng.choice(['ECS', 'Config', 'AutoScaling'])}"
        return {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account}:assumed-role/{name}/svc",
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": f"arn:aws:iam::{account}:role/aws-service-role/ecs.amazonaws.com/{name}",
                    "accountId": account,
                    "userName": name,
                }
            },
            "invokedBy": "ecs.amazonaws.com",
        }
    if roll < 0.85:
        user = f"user-{rng.randrange(40)}"
        return {
            "type": "IAMUser",
            "principalId": f"AIDAEXAMPLE{rng.randrange(1000)}",
            "arn": f"arn:aws:iam::{account}:user/{user}",
            "accountId": account,
            "accessKeyId": f"AKIAEXAMPLE{rng.randrange(1000)}",
            "userName": user,
        }
    if roll < 0.87:
        return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}
    return {"type": "AWSService", "invokedBy": rng.choice(["cloudtrail.amazonaws.com", "ec2.amazonaws.com"])}


def _parameters(kind: str | None, rng: random.Random, account: str, region: str) -> dict[str, Any] | None:
    if kind == "s3obj":
        return {"bucketName": f"bucket-{rng.randrange(30)}", "key": f"data/{rng.randrange(10**6)}.json", "Host": "s3"}
    if kind == "s3bucket":
        return {"bucketName": f"bucket-{rng.randrange(30)}", "list-type": "2", "prefix": "data/"}
    if kind == "ec2":
        return {"instanceType": "t3.micro", "instancesSet": {"items": [{"imageId": "ami-0abcdef", "minCount": 1}]}}
    if kind == "lambda":
        return {"functionName": f"fn-{rng.randrange(20)}"}
    if kind == "table":
        return {"tableName": f"table-{rng.randrange(10)}", "key": {"pk": {"S": "x"}}}
    if kind == "kms":
        return {
            "keyId": f"arn:aws:kms:{region}:{account}:key/{rng.randrange(20)}",
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }
    if kind == "role":
        return {"roleArn": f"arn:aws:iam::{account}:role/app-{rng.randrange(20)}", "roleSessionName": "s"}
    if kind == "iamrole":
        return {"roleName": f"app-{rng.randrange(20)}"}
    if kind == "loggroup":
        return {"logGroupName": f"/aws/lambda/fn-{rng.randrange(20)}", "logStreamName": "2026/11/02/[$LATEST]abc"}
    if kind == "alarms":
        return {"alarmNames": [f"{rng.choice(['Admin-', 'team-'])}alarm-{rng.randrange(10)}"]}
    if kind == "secret":
        return {"secretId": f"{rng.choice(['admin-', 'app-'])}db-{rng.randrange(5)}"}
    if kind == "queue":
        return {"queueUrl": f"https://sqs.{region}.amazonaws.com/{account}/queue-{rng.randrange(5)}"}
    if kind == "topic":
        return {"topicArn": f"arn:aws:sns:{region}:{account}:topic-{rng.randrange(5)}"}
    return None


def _event(rng: random.Random) -> dict[str, Any]:
    account = MANAGEMENT if rng.random() < 0.05 else rng.choice(ACCOUNTS)
    region = rng.choice(REGIONS)
    when = (
        f"2026-11-{1 + rng.randrange(28):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"
    )
    if rng.random() < 0.01:
        return {
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/user-1", "accountId": account},
            "eventTime": when,
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7",
            "eventType": "AwsConsoleSignIn",
            "responseElements": {"ConsoleLogin": "Success"},
            "recipientAccountId": account,
        }
    source, name, read_only, kind = rng.choices(CALLS, WEIGHTS)[0]
    event: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": _identity(rng, account),
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": f"203.0.113.{rng.randrange(256)}",
        "userAgent": "aws-sdk-python/1.35.0 Python/3.12.3 Linux/6.1 Botocore/1.35.0",
        "requestParameters": _parameters(kind, rng, account, region),
        "responseElements": None,
        "requestID": f"{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}",
        "eventID": f"{rng.getrandbits(64):016x}-{rng.getrandbits(64):016x}",
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": source != "s3.amazonaws.com" or name == "ListBuckets",
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
        },
    }
    if kind in ("s3obj", "s3bucket"):
        bucket = event["requestParameters"]["bucketName"]
        event["resources"] = [{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}]
        event["eventCategory"] = "Data"
    if event["userIdentity"]["type"] == "AWSService":
        event["eventType"] = "AwsServiceEvent"
        event["sourceIPAddress"] = event["userIdentity"]["invokedBy"]
    if rng.random() < 0.02:
        event["errorCode"] = "AccessDenied"
        event["errorMessage"] = "User is not authorized to perform this operation"
    return event


def generate(folder: Path, events: int, seed: int = 19) -> int:
    """Write ``events`` generated events into gzip'd CloudTrail files; returns the bytes of JSON written."""
    rng = random.Random(seed)
    written = 0
    for index in range(0, events, PER_FILE):
        records = [_event(rng) for _ in range(min(PER_FILE, events - index))]
        data = msgspec.json.encode({"Records": records})
        written += len(data)
        name = f"{ACCOUNTS[0]}_CloudTrail_eu-west-1_20261102T{index // PER_FILE:04d}Z_{index:016d}.json.gz"
        (folder / name).write_bytes(gzip.compress(data, compresslevel=6))
    return written


def _parse_file(path: str) -> int:
    from devops_blueprints.guardrails.cloudtrail import LogSource, read_source

    log = read_source(LogSource(path, path=path))
    assert hasattr(log, "records"), log
    return sum(1 for record in log.records if record)  # type: ignore[union-attr]


def measure(mode: str, folder: str, limit: int, jobs: int) -> dict[str, float]:
    """One measurement in this process (and its workers): ``parse`` or ``replay`` of the first ``limit`` files."""
    from concurrent.futures import ProcessPoolExecutor

    from devops_blueprints.guardrails import catalog
    from devops_blueprints.guardrails.replay_report import summarize

    files = sorted(str(p) for p in Path(folder).iterdir())[:limit]
    levels = catalog.path("Workloads")
    shares: dict[str, float] = {}
    # end to end includes loading the IAM database (in this process or in each worker), as the command does
    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    if mode == "parse":
        if jobs == 1:
            events = sum(_parse_file(name) for name in files)
        else:
            import multiprocessing

            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                events = sum(pool.map(_parse_file, files))
        denied = 0.0
    else:
        summary = summarize(levels, files, jobs=jobs, management_account=MANAGEMENT)
        events = summary.events
        denied = float(summary.would_deny)
        shares = {k: v / max(events, 1) for k, v in summary.outcomes.items()}
        shares["cache_hit_rate"] = summary.cache_hit_rate
        (Path(folder).parent / f"summary-{limit}-{jobs}.json").write_text(json.dumps(summary.to_dict(10)))
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_started
    # This process's own peak from VmHWM: ru_maxrss of RUSAGE_SELF would carry the benchmark parent's high-water
    # mark across exec (benchmarks.peak_rss). Workers' figure (RUSAGE_CHILDREN) is at least this process's RSS
    # when it started them, for the same reason.
    rss_kib = max(vm_hwm_bytes() // 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {
        "events": float(events),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rss_mib": rss_kib / 1024,
        "denied": denied,
        **shares,
    }


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _child(mode: str, folder: str, limit: int, jobs: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.replay", "--measure", mode, folder, str(limit), str(jobs)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        folder = Path(tmp) / "logs"
        folder.mkdir()
        started = time.perf_counter()
        json_bytes = generate(folder, EVENTS)
        files = len(list(folder.iterdir()))
        print(
            f"  generated {EVENTS:,} events in {files} files ({json_bytes / EVENTS:,.0f} bytes of JSON per event) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        from devops_blueprints.guardrails import cloudtrail

        print(f"  decompression: {cloudtrail._inflate.__name__}; load average {os.getloadavg()[0]:.2f} before")
        figures: dict[str, float] = {}
        runs: dict[int, dict[str, float]] = {}
        for jobs in (1, JOBS):
            parse = _child("parse", str(folder), files, jobs)
            runs[jobs] = _child("replay", str(folder), files, jobs)
            figures.update(_report(jobs, parse, runs[jobs]))
        full = runs[1]
        quarter = _child("replay", str(folder), max(1, files // 4), 1)
        summary = json.loads((Path(tmp) / f"summary-{files}-1.json").read_text())
    load_after = os.getloadavg()[0]
    rss_ratio = full["rss_mib"] / quarter["rss_mib"]
    met_rss = rss_ratio <= RSS_FLAT_RATIO
    print(
        f"  peak RSS (one process): {quarter['rss_mib']:,.0f} MiB at "
        f"{quarter['events']:,.0f} events, {full['rss_mib']:,.0f} MiB at {full['events']:,.0f} events "
        f"(x{rss_ratio:.2f}); flat (<= x{RSS_FLAT_RATIO}): {'met' if met_rss else 'MISSED'}"
    )
    outcomes = summary["outcomes"]
    total = max(summary["events"], 1)
    mapped = (outcomes["ALLOWED"] + outcomes["DENIED"]) / total
    print(
        "  outcomes: "
        + ", ".join(f"{name} {count / total:.1%}" for name, count in outcomes.items())
        + f"; mapped and evaluated: {mapped:.1%}"
    )
    print(
        f"  decision cache hit rate: {full['cache_hit_rate']:.2%} (1 process), {runs[JOBS]['cache_hit_rate']:.2%} "
        f"({JOBS} processes); load average {load_after:.2f} after"
    )
    for row in summary["unmapped"]:
        print(f"    unmapped {row['reason']}: {row['count'] / total:.2%}")
    for row in summary["unaffected"]:
        print(f"    unaffected {row['reason']}: {row['count'] / total:.2%}")
    return {
        **figures,
        "events": full["events"],
        "rss_mib": full["rss_mib"],
        "rss_quarter_mib": quarter["rss_mib"],
        "rss_ratio": rss_ratio,
        "mapped_share": mapped,
        "cache_hit_rate": full["cache_hit_rate"],
        "load_average_after": load_after,
        "goal_rss_met": float(met_rss),
    }


def _report(jobs: int, parse: dict[str, float], full: dict[str, float]) -> dict[str, float]:
    rate = full["events"] / full["seconds"]
    parse_rate = parse["events"] / parse["seconds"]
    added = (full["seconds"] - parse["seconds"]) / parse["seconds"]
    met_rate, met_eval = rate >= GOAL_EVENTS_PER_SECOND, added <= GOAL_EVALUATION_RATIO
    cpu_added = (full["cpu_seconds"] - parse["cpu_seconds"]) / parse["cpu_seconds"]
    print(
        f"  {jobs} process(es): parse-only baseline {parse['events']:,.0f} events in {parse['seconds']:.2f} s = {parse_rate:,.0f} events/s"
    )
    print(
        f"  {jobs} process(es): end to end (read, decompress, parse, map, evaluate, summarize) {full['seconds']:.2f} s "
        f"= {rate:,.0f} events/s; goal {GOAL_EVENTS_PER_SECOND:,}/s: {'met' if met_rate else 'MISSED'}; evaluation adds "
        f"{added:.2f}x the parse-only time, goal <= {GOAL_EVALUATION_RATIO:.0f}x: {'met' if met_eval else 'MISSED'}"
    )
    print(
        f"  {jobs} process(es): CPU time (user + system, workers included; less sensitive to the machine's load): "
        f"parse-only {parse['cpu_seconds']:.2f} s, end to end {full['cpu_seconds']:.2f} s "
        f"= {full['events'] / full['cpu_seconds']:,.0f} events per CPU-second; evaluation adds {cpu_added:.2f}x"
    )
    return {
        f"events_per_second_{jobs}": rate,
        f"parse_events_per_second_{jobs}": parse_rate,
        f"evaluation_added_ratio_{jobs}": added,
        f"evaluation_added_cpu_ratio_{jobs}": cpu_added,
        f"goal_rate_met_{jobs}": float(met_rate),
        f"goal_evaluation_met_{jobs}": float(met_eval),
    }


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    else:
        run()

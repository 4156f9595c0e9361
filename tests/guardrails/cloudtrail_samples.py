"""Hand-written CloudTrail records shaped like the CloudTrail user guide's examples.

* userIdentity shapes (IAMUser Alice, AssumedRole RoleToBeAssumed/MySessionName, FederatedUser, Root,
  AWSService, AWSAccount):
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
* whole records (EC2 StartInstances by Alice, IAM CreateUser, CloudTrail UpdateTrail with an errorCode):
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html
* a service-linked role's session: the role's path is ``aws-service-role/<service>.amazonaws.com/``
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html)
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
MANAGEMENT = "999988887777"

ALICE = {
    "type": "IAMUser",
    "principalId": "AIDAJ45Q7YFFAREXAMPLE",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/Alice",
    "accountId": ACCOUNT,
    "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
    "userName": "Alice",
}
ASSUMED_ROLE = {
    "type": "AssumedRole",
    "principalId": "AROAIDPPEZS35WEXAMPLE:AssumedRoleSessionName",
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleToBeAssumed/MySessionName",
    "accountId": ACCOUNT,
    "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
    "sessionContext": {
        "attributes": {"mfaAuthenticated": "false", "creationDate": "20131102T010628Z"},
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAIDPPEZS35WEXAMPLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:role/teams/RoleToBeAssumed",  # with a path, which the session ARN drops
            "accountId": ACCOUNT,
            "userName": "RoleToBeAssumed",
        },
    },
}
FEDERATED = {
    "type": "FederatedUser",
    "principalId": f"{ACCOUNT}:Bob",
    "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/Bob",
    "accountId": ACCOUNT,
    "sessionContext": {
        "sessionIssuer": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/Alice",
            "accountId": ACCOUNT,
            "userName": "Alice",
        }
    },
}
ROOT = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}
SERVICE_LINKED = {
    "type": "AssumedRole",
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForConfig/AWSConfig-Describe",
    "accountId": ACCOUNT,
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "accountId": ACCOUNT,
            "userName": "AWSServiceRoleForConfig",
        }
    },
    "invokedBy": "config.amazonaws.com",
}
CROSS_ACCOUNT = {  # a role in another account calling into ours: recorded here with its own account
    "type": "AssumedRole",
    "arn": f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/Deployer/ci",
    "accountId": OTHER_ACCOUNT,
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/Deployer",
            "accountId": OTHER_ACCOUNT,
        }
    },
}
AWS_SERVICE = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}
AWS_ACCOUNT = {"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": OTHER_ACCOUNT}


def record(
    identity: dict[str, Any],
    source: str = "ec2.amazonaws.com",
    name: str = "StartInstances",
    region: str = "us-east-2",
    **extra: Any,
) -> dict[str, Any]:
    """The user guide's EC2 StartInstances record, with the identity, call and region given."""
    return {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": extra.pop("eventTime", "2014-03-06T21:22:54Z"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "205.251.233.176",
        "userAgent": "ec2-api-tools 1.6.12.2",
        "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-ebeaf9e2"}]}},
        "responseElements": None,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
        **extra,
    }


def service_event() -> dict[str, Any]:
    return record(AWS_SERVICE, "cloudtrail.amazonaws.com", "CreateTrail", eventType="AwsServiceEvent")


def write_log(path: Path, records: list[Any], *, compress: bool = True) -> Path:
    data = json.dumps({"Records": records}).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def sample_trail(folder: Path) -> Path:
    """A trail folder as delivered: two log files, one in the approved regions and one not, plus a digest."""
    folder.mkdir(parents=True, exist_ok=True)
    write_log(
        folder / f"{ACCOUNT}_CloudTrail_eu-west-1_20261102T1000Z_AbCdEfGhIjKlMnOp.json.gz",
        [
            record(ALICE, region="eu-west-1"),
            record(ASSUMED_ROLE, "s3.amazonaws.com", "ListBuckets", region="eu-west-1"),
            record(SERVICE_LINKED, "config.amazonaws.com", "DescribeConfigRules", region="ap-south-1"),
        ],
    )
    write_log(
        folder / f"{ACCOUNT}_CloudTrail_ap-south-1_20261102T1005Z_QrStUvWxYzAbCdEf.json.gz",
        [
            record(ALICE, region="ap-south-1", eventTime="2026-11-02T10:01:00Z"),
            record(ALICE, region="ap-south-1", eventTime="2026-11-02T10:04:00Z"),
            record(ASSUMED_ROLE, "ec2.amazonaws.com", "DescribeFutureThing", region="ap-south-1"),
        ],
    )
    digest = folder / f"{ACCOUNT}_CloudTrail-Digest_eu-west-1_trail_us-east-1_20261102T1000Z.json.gz"
    digest.write_bytes(gzip.compress(json.dumps({"digestStartTime": "2026-11-02T09:00:00Z"}).encode()))
    return folder

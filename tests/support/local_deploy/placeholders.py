"""The one list of resource types the local emulator stands in for with a placeholder.

MiniStack 1.5.33 refuses a template that declares a type it has no provisioner for ("Template format error:
Unrecognized resource types: [...]"), before it creates anything, as CloudFormation does. For exactly the types
below, ``register`` installs a placeholder handler: it creates nothing, returns the attributes CloudFormation
documents for the type (so Ref and Fn::GetAtt of consumers resolve), and appends one line to a ledger so the
deploy report can say, per stack, which resources were placeholders. Nothing else is faked: every other
resource goes through the emulator's own provisioner, and a type missing from this list still fails the deploy.

``tests/deploy/test_placeholders.py`` fails when the emulator gains a provisioner for a listed type, so the
placeholder goes. This module runs inside the emulator's own virtualenv (``.venv-ministack``): standard library
only.

Return values: each type's "Return values" section of the CloudFormation resource reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-<service>-<type>.html
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "000000000000"
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


@dataclass(frozen=True)
class Placeholder:
    """Why a type is a placeholder, and how its Ref value and attributes are made."""

    reason: str
    # (stack name, logical id, properties, unique suffix) -> (physical id = Ref value, attributes)
    make: Callable[[str, str, dict[str, Any], str], tuple[str, dict[str, str]]]
    # Only resources whose properties satisfy this are placeholders (None: all of the type); the others go
    # through the emulator's own handler.
    applies: Callable[[dict[str, Any]], bool] | None = None
    # Which resources of the type ``applies`` selects, for people: printed beside the type.
    only: str = ""


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _named(props: dict[str, Any], key: str, stack: str, logical_id: str) -> str:
    return str(props.get(key) or f"{stack}-{logical_id}")[:128]


def _ou(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    ou_id = f"ou-plch-{suffix[:8]}"
    return ou_id, {"Id": ou_id, "Arn": f"arn:aws:organizations::{ACCOUNT}:ou/o-placeholder/{ou_id}"}


def _policy(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    policy_id = f"p-plch{suffix[:8]}"
    arn = f"arn:aws:organizations::{ACCOUNT}:policy/o-placeholder/service_control_policy/{policy_id}"
    return policy_id, {"Id": policy_id, "Arn": arn, "AwsManaged": "false"}


def _guru_collection(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    kind = "AWS_TAGS" if (props.get("ResourceCollectionFilter") or {}).get("Tags") else "AWS_CLOUD_FORMATION"
    return kind, {"ResourceCollectionType": kind}


def _guru_channel(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    channel_id = str(uuid.UUID(int=int(suffix, 16)))
    return channel_id, {"Id": channel_id}


def _guru_log_integration(
    stack: str, logical_id: str, props: dict[str, Any], suffix: str
) -> tuple[str, dict[str, str]]:
    return ACCOUNT, {"AccountId": ACCOUNT}


def _pipeline(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    return _named(props, "Name", stack, logical_id), {"Version": "1"}


def _batch(kind: str, name_key: str, arn_attribute: str) -> Callable[..., tuple[str, dict[str, str]]]:
    def make(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
        name = str(props.get(name_key) or f"{logical_id}-{suffix[:12]}")
        arn = _arn("batch", f"{kind}/{name}" + (":1" if kind == "job-definition" else ""))
        return arn, {arn_attribute: arn}

    return make


def _eip(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    # TEST-NET-1 (RFC 5737): an address that can never be mistaken for a real one.
    address = f"192.0.2.{int(suffix[:2], 16) % 254 + 1}"
    return address, {"PublicIp": address, "AllocationId": f"eipalloc-plch{suffix[:8]}"}


def _nat(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    nat_id = f"nat-plch{suffix[:12]}"
    return nat_id, {"NatGatewayId": nat_id}


def _flow_log(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    flow_id = f"fl-plch{suffix[:12]}"
    return flow_id, {"Id": flow_id}


def _alarm(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    name = _named(props, "AlarmName", stack, logical_id)
    return name, {"Arn": _arn("cloudwatch", f"alarm:{name}")}


def _log_anomaly_detector(
    stack: str, logical_id: str, props: dict[str, Any], suffix: str
) -> tuple[str, dict[str, str]]:
    arn = _arn("logs", f"anomaly-detector:{suffix}")
    return arn, {"AnomalyDetectorArn": arn, "CreationTimeStamp": "0", "LastModifiedTimeStamp": "0"}


def _query_definition(stack: str, logical_id: str, props: dict[str, Any], suffix: str) -> tuple[str, dict[str, str]]:
    query_id = str(uuid.UUID(int=int(suffix, 16)))
    return query_id, {"QueryDefinitionId": query_id}


NOT_PROVISIONED = "MiniStack 1.5.33 has no provisioner for this type (Unrecognized resource types)"

PLACEHOLDERS: dict[str, Placeholder] = {
    "AWS::Organizations::OrganizationalUnit": Placeholder(NOT_PROVISIONED, _ou),
    "AWS::Organizations::Policy": Placeholder(NOT_PROVISIONED, _policy),
    "AWS::DevOpsGuru::ResourceCollection": Placeholder(NOT_PROVISIONED, _guru_collection),
    "AWS::DevOpsGuru::NotificationChannel": Placeholder(NOT_PROVISIONED, _guru_channel),
    "AWS::DevOpsGuru::LogAnomalyDetectionIntegration": Placeholder(NOT_PROVISIONED, _guru_log_integration),
    "AWS::CodePipeline::Pipeline": Placeholder(NOT_PROVISIONED, _pipeline),
    "AWS::Batch::ComputeEnvironment": Placeholder(
        NOT_PROVISIONED, _batch("compute-environment", "ComputeEnvironmentName", "ComputeEnvironmentArn")
    ),
    "AWS::Batch::JobQueue": Placeholder(NOT_PROVISIONED, _batch("job-queue", "JobQueueName", "JobQueueArn")),
    "AWS::Batch::JobDefinition": Placeholder(
        NOT_PROVISIONED, _batch("job-definition", "JobDefinitionName", "JobDefinitionArn")
    ),
    "AWS::EC2::EIP": Placeholder(NOT_PROVISIONED, _eip),
    "AWS::EC2::NatGateway": Placeholder(NOT_PROVISIONED, _nat),
    "AWS::EC2::FlowLog": Placeholder(NOT_PROVISIONED, _flow_log),
    "AWS::CloudWatch::CompositeAlarm": Placeholder(NOT_PROVISIONED, _alarm),
    "AWS::Logs::LogAnomalyDetector": Placeholder(NOT_PROVISIONED, _log_anomaly_detector),
    "AWS::Logs::QueryDefinition": Placeholder(NOT_PROVISIONED, _query_definition),
    # The CloudWatch engine's alarms on metric math (Lambda duration against its timeout, ...): MiniStack provisions
    # alarms on one metric and refuses the others ("Properties.Metrics (metric math) is not supported"); only those
    # are placeholders.
    "AWS::CloudWatch::Alarm": Placeholder(
        "MiniStack 1.5.33 refuses alarms on metric math (Properties.Metrics)",
        _alarm,
        applies=lambda p: "Metrics" in p,
        only="with Metrics (metric math)",
    ),
}


def described() -> list[str]:
    """Every placeholder type, with the resources it covers where that is not all of the type."""
    return [f"{t} ({p.only})" if p.only else t for t, p in sorted(PLACEHOLDERS.items())]


_ledger_lock = threading.Lock()


def _record(ledger: Path, entry: dict[str, str]) -> None:
    with _ledger_lock, ledger.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")


def register(handlers: MutableMapping[str, Any], ledger: Path) -> None:
    """Install the placeholder handlers into the emulator's type registry; each creation goes to ``ledger``."""
    for resource_type, placeholder in PLACEHOLDERS.items():
        native = handlers.get(resource_type)
        if native is not None and placeholder.applies is None:
            raise RuntimeError(
                f"{resource_type} is now provisioned by the emulator: remove its placeholder from {__file__}"
            )
        handlers[resource_type] = _handler(resource_type, placeholder, native, ledger)


def _handler(
    resource_type: str, placeholder: Placeholder, native: dict[str, Any] | None, ledger: Path
) -> dict[str, Any]:
    def create(logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, str]]:
        if native is not None and placeholder.applies is not None and not placeholder.applies(props):
            result: tuple[str, dict[str, str]] = native["create"](logical_id, props, stack_name)
            return result
        physical_id, attributes = placeholder.make(stack_name, logical_id, props, uuid.uuid4().hex)
        _record(
            ledger,
            {"stack": stack_name, "logical_id": logical_id, "type": resource_type, "physical_id": physical_id},
        )
        return physical_id, attributes

    def update(
        physical_id: str, old_props: dict[str, Any], new_props: dict[str, Any], stack_name: str, logical_id: str
    ) -> tuple[str, dict[str, str]]:
        if native is not None and placeholder.applies is not None and not placeholder.applies(new_props):
            if placeholder.applies(old_props):
                return create(logical_id, new_props, stack_name)
            result: tuple[str, dict[str, str]] = native["update"](
                physical_id, old_props, new_props, stack_name, logical_id
            )
            return result
        # A placeholder has nothing to update: a new one stands in for the changed resource.
        return create(logical_id, new_props, stack_name)

    def delete(physical_id: str, props: dict[str, Any]) -> None:
        if native is not None and placeholder.applies is not None and not placeholder.applies(props):
            native["delete"](physical_id, props)

    return {"create": create, "update": update, "update_with_logical_id": True, "delete": delete}

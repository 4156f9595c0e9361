"""Compute: Lambda functions, ECS services, Step Functions state machines."""

from __future__ import annotations

import json
from typing import Any

from devops_blueprints.tf_import.errors import MissingAttributeError, TfImportError
from devops_blueprints.tf_import.translators.base import Attrs, Translator

_ZIPFILE_PLACEHOLDER = (
    "# Code deployed by Terraform from a local package ({filename}). CloudFormation only records this\n"
    "# placeholder at import; it never deploys it. Keep code changes in Terraform.\n"
)


def _lambda_code(attrs: Attrs) -> dict[str, Any]:
    image_uri = attrs.opt("image_uri")
    if image_uri:
        return {"ImageUri": image_uri}
    bucket = attrs.opt("s3_bucket")
    if bucket:
        code = {"S3Bucket": bucket, "S3Key": attrs.req("s3_key", "the package's S3 object")}
        version = attrs.opt("s3_object_version")
        if version:
            code["S3ObjectVersion"] = version
        return code
    filename = attrs.opt("filename")
    runtime = str(attrs.opt("runtime", ""))
    if filename and runtime.startswith(("python", "nodejs")):
        return {"ZipFile": _ZIPFILE_PLACEHOLDER.format(filename=filename)}
    if filename:
        raise TfImportError(
            f"{attrs.address}: code comes from the local file {filename!r} "
            f"with runtime {runtime or 'unset'!r}; "
            "CloudFormation needs Code (S3 object or image) to import AWS::Lambda::Function: deploy the "
            "package from S3 (s3_bucket/s3_key) or as an image (image_uri) in Terraform"
        )
    raise MissingAttributeError(attrs.address, "s3_bucket", attrs.cfn_type, "or image_uri or filename: Code")


def _lambda_properties(attrs: Attrs) -> dict[str, Any]:
    package_type = attrs.opt("package_type", "Zip")
    props: dict[str, Any] = {
        "FunctionName": attrs.req("function_name"),
        "Role": attrs.req("role", "Role is required"),
        "Code": _lambda_code(attrs),
    }
    if package_type == "Image":
        props["PackageType"] = "Image"
    else:
        props["Runtime"] = attrs.opt("runtime")
        props["Handler"] = attrs.opt("handler")
    props["MemorySize"] = attrs.opt("memory_size")
    props["Timeout"] = attrs.opt("timeout")
    props["Architectures"] = attrs.opt("architectures")
    return props


LAMBDA_FUNCTION = Translator(
    tf_types=("aws_lambda_function",),
    cfn_type="AWS::Lambda::Function",
    identifier=lambda a: {"FunctionName": a.req("function_name")},
    properties=_lambda_properties,
    label="Lambda function",
)


def _ecs_service_identifier(attrs: Attrs) -> dict[str, str]:
    arn = str(attrs.first_of("arn", "id", reason="the service ARN"))
    if not arn.startswith("arn:"):
        raise TfImportError(
            f"{attrs.address}: attribute 'id' is {arn!r}, not a service ARN; CloudFormation imports "
            "AWS::ECS::Service by ServiceArn and Cluster (refresh the state with a current AWS provider)"
        )
    return {"ServiceArn": arn, "Cluster": attrs.req_str("cluster")}


def _ecs_service_properties(attrs: Attrs) -> dict[str, Any]:
    props: dict[str, Any] = {
        "ServiceName": attrs.req("name"),
        "Cluster": attrs.req("cluster"),
        "TaskDefinition": attrs.opt("task_definition"),
        "LaunchType": attrs.opt("launch_type"),
    }
    if attrs.opt("scheduling_strategy", "REPLICA") == "REPLICA":
        props["DesiredCount"] = attrs.opt("desired_count")
    else:
        props["SchedulingStrategy"] = attrs.opt("scheduling_strategy")
    return props


ECS_SERVICE = Translator(
    tf_types=("aws_ecs_service",),
    cfn_type="AWS::ECS::Service",
    identifier=_ecs_service_identifier,
    properties=_ecs_service_properties,
    label="ECS service",
)


def _definition(attrs: Attrs) -> str:
    definition = attrs.req("definition", "DefinitionString")
    if not isinstance(definition, str):
        return json.dumps(definition, separators=(",", ":"))
    return definition


STATE_MACHINE = Translator(
    tf_types=("aws_sfn_state_machine",),
    cfn_type="AWS::StepFunctions::StateMachine",
    identifier=lambda a: {"Arn": a.first_of("arn", "id", reason="the state machine ARN")},
    properties=lambda a: {
        "StateMachineName": a.req("name"),
        "RoleArn": a.req("role_arn", "RoleArn is required"),
        "DefinitionString": _definition(a),
        "StateMachineType": a.opt("type", "STANDARD"),
    },
    label="Step Functions state machine",
)

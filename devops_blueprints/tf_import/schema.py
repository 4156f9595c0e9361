"""JSON Schemas of what ``tf cfn`` reads: the shape of ``terraform show -json`` output, module by module, and
the attributes each supported resource type's translator uses, with the JSON types it needs.

The state format is Terraform's JSON output format (``format_version`` 1.x,
https://developer.hashicorp.com/terraform/internals/json-format): ``values.root_module`` holds ``resources``
and ``child_modules``; each child module has its own ``address``, ``resources`` and ``child_modules``. Modules
are validated one at a time (the reader walks them without recursion), so module nesting depth never turns into
recursion depth; every error names its JSON path from the document's root.

Attribute schemas list only the attributes a translator reads (other attributes pass unchecked) and allow
``null`` for every one of them (Terraform writes ``null`` for an unset attribute); whether an attribute is
required is the translator's decision, which names the CloudFormation property that needs it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from devops_blueprints._json_input import JsonInputError, loads

_NO_CONTROL = "^[^\\x00-\\x1f\\x7f]*$"

DOCUMENT: dict[str, Any] = {
    "type": "object",
    "required": ["format_version"],
    "properties": {
        "format_version": {"type": "string", "pattern": "^1\\.[0-9]+$"},
        "terraform_version": {"type": "string"},
        "values": {
            "type": ["object", "null"],
            "properties": {"root_module": {"type": ["object", "null"]}, "outputs": {"type": ["object", "null"]}},
        },
    },
}

# One resource entry of a module.
RESOURCE: dict[str, Any] = {
    "type": "object",
    "required": ["address", "type", "name"],
    "properties": {
        "address": {"type": "string", "minLength": 1, "pattern": _NO_CONTROL},
        "mode": {"enum": ["managed", "data"]},
        "type": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
        "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$"},
        "index": {"type": ["integer", "string"]},
        "values": {"type": "object"},
        "sensitive_values": {"type": ["object", "boolean"]},
    },
    # A data source may come without values; a managed resource needs them.
    "if": {"required": ["mode"], "properties": {"mode": {"const": "data"}}},
    "else": {"required": ["values"]},
}

# One module; its child modules are checked when the reader gets to them (each with this same schema). The
# resource schema is inlined, not a "$ref": resolving a reference per resource was most of the time spent.
MODULE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "address": {"type": "string", "minLength": 1, "pattern": _NO_CONTROL},
        "resources": {"type": ["array", "null"], "items": RESOURCE},
        "child_modules": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "required": ["address"],
                "properties": {"address": {"type": "string", "minLength": 1, "pattern": _NO_CONTROL}},
            },
        },
    },
}

_STR = {"type": ["string", "null"]}
_INT = {"type": ["integer", "null"]}
_BOOL = {"type": ["boolean", "null"]}
_STRINGS = {"type": ["array", "null"], "items": {"type": "string"}}
_JSON_TEXT = {"anyOf": [{"type": "string", "format": "json"}, {"type": ["object", "array", "null"]}]}


def _block(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A nested block: Terraform writes a list of objects (or, for single nested attributes, one object)."""
    item = {"type": "object", "properties": properties, "required": list(required)}
    return {"anyOf": [{"type": ["array", "null"], "items": item}, item]}


def _attrs(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


_INDEX = {"name": _STR, "hash_key": _STR, "range_key": _STR, "projection_type": _STR, "non_key_attributes": _STRINGS}

VALUES: dict[str, dict[str, Any]] = {
    "aws_lambda_function": _attrs(
        function_name=_STR, role=_STR, image_uri=_STR, s3_bucket=_STR, s3_key=_STR, s3_object_version=_STR,
        filename=_STR, runtime=_STR, package_type=_STR, handler=_STR, memory_size=_INT, timeout=_INT,
        architectures=_STRINGS,
    ),
    "aws_dynamodb_table": _attrs(
        name=_STR, hash_key=_STR, range_key=_STR, billing_mode=_STR, read_capacity=_INT, write_capacity=_INT,
        attribute=_block({"name": {"type": "string"}, "type": {"enum": ["S", "N", "B"]}}, ("name", "type")),
        global_secondary_index=_block(
            {**_INDEX, "name": {"type": "string"}, "hash_key": {"type": "string"}, "read_capacity": _INT,
             "write_capacity": _INT},
            ("name", "hash_key"),
        ),
        local_secondary_index=_block(
            {**_INDEX, "name": {"type": "string"}, "range_key": {"type": "string"}}, ("name", "range_key")
        ),
        stream_enabled=_BOOL, stream_view_type=_STR,
    ),
    "aws_sqs_queue": _attrs(url=_STR, id=_STR, name=_STR, fifo_queue=_BOOL),
    "aws_sns_topic": _attrs(arn=_STR, id=_STR, name=_STR, fifo_topic=_BOOL),
    "aws_kinesis_stream": _attrs(
        name=_STR, shard_count=_INT, retention_period=_INT, stream_mode_details=_block({"stream_mode": _STR})
    ),
    "aws_ecs_service": _attrs(
        arn=_STR, id=_STR, cluster=_STR, name=_STR, task_definition=_STR, launch_type=_STR,
        scheduling_strategy=_STR, desired_count=_INT,
    ),
    "aws_db_instance": _attrs(
        identifier=_STR, instance_class=_STR, engine=_STR, cluster_identifier=_STR, allocated_storage=_INT,
        storage_encrypted=_BOOL,
    ),
    "aws_rds_cluster": _attrs(cluster_identifier=_STR, engine=_STR, storage_encrypted=_BOOL),
    "aws_cloudwatch_event_rule": _attrs(
        arn=_STR, name=_STR, event_bus_name=_STR, event_pattern=_JSON_TEXT, schedule_expression=_STR, state=_STR,
        is_enabled=_BOOL, description=_STR,
    ),
    "aws_lb": _attrs(
        arn=_STR, id=_STR, name=_STR, load_balancer_type=_STR, internal=_BOOL, ip_address_type=_STR,
        subnets=_STRINGS, security_groups=_STRINGS,
    ),
    "aws_sfn_state_machine": _attrs(arn=_STR, id=_STR, name=_STR, role_arn=_STR, definition=_JSON_TEXT, type=_STR),
    "aws_elasticache_replication_group": _attrs(
        replication_group_id=_STR, id=_STR, description=_STR, replication_group_description=_STR, node_type=_STR,
        engine=_STR,
    ),
    "aws_api_gateway_rest_api": _attrs(
        id=_STR, name=_STR, description=_STR, endpoint_configuration=_block({"types": _STRINGS})
    ),
    "aws_api_gateway_stage": _attrs(
        rest_api_id=_STR, stage_name=_STR, deployment_id=_STR, description=_STR, xray_tracing_enabled=_BOOL
    ),
    "aws_s3_bucket": _attrs(bucket=_STR, id=_STR),
}  # fmt: skip
VALUES["aws_alb"] = VALUES["aws_lb"]

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("json", raises=JsonInputError)
def _is_json_text(text: object) -> bool:
    if isinstance(text, str):
        loads(text, "the text")
    return True


@cache
def validator(name: str) -> Draft202012Validator:
    """The validator of ``DOCUMENT``, ``MODULE`` or the ``values`` of one Terraform type."""
    schema = {"DOCUMENT": DOCUMENT, "MODULE": MODULE}.get(name) or VALUES[name]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_FORMATS)

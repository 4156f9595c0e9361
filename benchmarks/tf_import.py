"""Terraform import: translate a generated 5,000-resource `terraform show -json` state.

Figures: seconds to read, translate and serialise the state (what `tf cfn` does), against a baseline measured in the same run
(``json.loads`` of the same text), as a ratio. The state mixes every supported type, modules three
levels deep, count and for_each instances, and 5 % unsupported resources.
"""

from __future__ import annotations

import json
import time
from typing import Any

from devops_blueprints.tf_import import load_show_json, translate
from devops_blueprints.tf_import.template import template_body

RESOURCES = 5_000
REPEATS = 3
_ACCT = "123456789012"
_R = "us-east-1"


def _values(tf_type: str, n: int) -> dict[str, Any]:
    name = f"r{n}"
    arn = f"arn:aws:svc:{_R}:{_ACCT}:{name}"
    common: dict[str, Any] = {"id": name, "arn": arn, "name": name, "tags": {"team": "bench"}, "tags_all": {}}
    specific: dict[str, dict[str, Any]] = {
        "aws_lambda_function": {
            "function_name": name,
            "role": f"arn:aws:iam::{_ACCT}:role/{name}",
            "runtime": "python3.12",
            "handler": "index.handler",
            "s3_bucket": "artifacts",
            "s3_key": f"{name}.zip",
            "memory_size": 256,
            "timeout": 30,
        },
        "aws_dynamodb_table": {
            "hash_key": "pk",
            "range_key": "sk",
            "billing_mode": "PAY_PER_REQUEST",
            "attribute": [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
        },
        "aws_sqs_queue": {"url": f"https://sqs.{_R}.amazonaws.com/{_ACCT}/{name}", "fifo_queue": False},
        "aws_sns_topic": {"fifo_topic": False},
        "aws_kinesis_stream": {
            "shard_count": 1,
            "retention_period": 24,
            "stream_mode_details": [{"stream_mode": "PROVISIONED"}],
        },
        "aws_ecs_service": {
            "id": f"arn:aws:ecs:{_R}:{_ACCT}:service/app/{name}",
            "cluster": f"arn:aws:ecs:{_R}:{_ACCT}:cluster/app",
            "task_definition": f"{name}:1",
            "desired_count": 1,
            "launch_type": "FARGATE",
        },
        "aws_db_instance": {
            "identifier": name,
            "instance_class": "db.t4g.micro",
            "engine": "postgres",
            "allocated_storage": 20,
        },
        "aws_rds_cluster": {"cluster_identifier": name, "engine": "aurora-postgresql"},
        "aws_cloudwatch_event_rule": {
            "arn": f"arn:aws:events:{_R}:{_ACCT}:rule/{name}",
            "event_bus_name": "default",
            "schedule_expression": "rate(5 minutes)",
            "state": "ENABLED",
        },
        "aws_lb": {"load_balancer_type": "application", "internal": False, "subnets": ["subnet-0aa1c79de3e0a1b2d"]},
        "aws_sfn_state_machine": {
            "role_arn": f"arn:aws:iam::{_ACCT}:role/{name}",
            "definition": '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}',
            "type": "STANDARD",
        },
        "aws_elasticache_replication_group": {
            "replication_group_id": name,
            "description": "bench",
            "node_type": "cache.t4g.small",
        },
        "aws_api_gateway_rest_api": {"description": "bench"},
        "aws_api_gateway_stage": {"rest_api_id": "a1b2c3d4e5", "stage_name": name, "deployment_id": "d1"},
        "aws_s3_bucket": {"bucket": name},
        "aws_iam_role": {"assume_role_policy": "{}"},
    }
    return {**common, **specific[tf_type]}


def generate_state(count: int = RESOURCES) -> str:
    """A `terraform show -json` document with ``count`` managed resources, as text."""
    types = [
        "aws_lambda_function", "aws_dynamodb_table", "aws_sqs_queue", "aws_sns_topic", "aws_kinesis_stream",
        "aws_ecs_service", "aws_db_instance", "aws_rds_cluster", "aws_cloudwatch_event_rule", "aws_lb",
        "aws_sfn_state_machine", "aws_elasticache_replication_group", "aws_api_gateway_rest_api",
        "aws_api_gateway_stage", "aws_s3_bucket",
    ]  # fmt: skip
    modules: dict[str, dict[str, Any]] = {}
    root: dict[str, Any] = {"resources": [], "child_modules": []}
    for n in range(count):
        tf_type = "aws_iam_role" if n % 20 == 19 else types[n % len(types)]
        depth = n % 4  # root, module.m, module.m.module.s["k"], module.m.module.s["k"].module.q[0]
        group = n // 100
        address = ["", f"module.m{group}", f'module.m{group}.module.s["k{group}"]',
                   f'module.m{group}.module.s["k{group}"].module.q[0]'][depth]  # fmt: skip
        index: int | str = n if n % 2 else f"key-{n}"
        suffix = f"[{index}]" if isinstance(index, int) else f'["{index}"]'
        resource: dict[str, Any] = {
            "address": f"{address + '.' if address else ''}{tf_type}.this{suffix}",
            "mode": "managed",
            "type": tf_type,
            "name": "this",
            "index": index,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "schema_version": 0,
            "values": _values(tf_type, n),
            "sensitive_values": {"tags": {}, "tags_all": {}},
        }
        if not address:
            root["resources"].append(resource)
            continue
        module = modules.get(address)
        if module is None:
            module = modules[address] = {"address": address, "resources": [], "child_modules": []}
            parent_address = address.rsplit(".module.", 1)[0] if ".module." in address else ""
            parent = modules[parent_address] if parent_address else root
            parent["child_modules"].append(module)
        module["resources"].append(resource)
    return json.dumps({"format_version": "1.0", "terraform_version": "1.11.4", "values": {"root_module": root}})


def _best(fn: Any) -> float:
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - started)
    return min(timings)


def run() -> dict[str, Any]:
    text = generate_state()
    baseline = _best(lambda: json.loads(text))
    # what `tf cfn` does: parse, translate, serialise the template
    translated = _best(lambda: template_body(translate(load_show_json(text, "bench")).template))
    result = translate(load_show_json(text, "bench"))
    figures = {
        "resources": RESOURCES,
        "state_bytes": len(text),
        "translated": len(result.resources_to_import),
        "unsupported": sum(len(a) for a in result.unsupported.values()),
        "json_load_s": round(baseline, 4),
        "translate_s": round(translated, 4),
        "ratio_vs_json_load": round(translated / baseline, 2),
        "per_resource_us": round(translated / RESOURCES * 1e6, 1),
        "best_of": REPEATS,
    }
    assert figures["translated"] + figures["unsupported"] == RESOURCES
    print(
        f"tf_import: {RESOURCES} resources ({len(text) / 1e6:.1f} MB state) translated in {translated:.3f} s "
        f"(best of {REPEATS}); json.loads alone {baseline:.3f} s; ratio {figures['ratio_vs_json_load']}x; "
        f"{figures['per_resource_us']} us/resource"
    )
    return figures


if __name__ == "__main__":
    run()

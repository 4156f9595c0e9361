"""Prop validation of :class:`~devops_blueprints.constructs.embeddings.embedding.ImageEmbeddingPipeline`.

Eager checks run before any resource is created: every problem is one ``ValueError`` naming the prop, the
value and what is allowed. Unresolved tokens are not validated (their values are known at deploy time).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from devops_blueprints.constructs.embeddings.embedding_storage import FAILURES_PREFIX, MANIFESTS_PREFIX

COMPUTE_TYPES = ("fargate", "fargate-spot", "ec2", "spot")
ENCRYPTIONS = ("kms", "s3-managed")
FARGATE_VCPUS = (0.25, 0.5, 1, 2, 4, 8, 16)
MAX_VCPUS_LIMIT = 10_000
MAX_GPUS = 8


# Graviton families: a "g" among the letters after the generation (c7g, m6gd, c6gn, im4gn, is4gen, x2gd,
# g5g, hpc7g) and the first-generation a1; everything else Batch runs (including "optimal") is x86_64.
_ARM_FAMILY = re.compile(r"^(a1|[a-z]+\d+[a-z]*g[a-z]*)$")


def instance_architecture(instance_type: ec2.InstanceType | str) -> str:
    """``"arm64"`` or ``"x86_64"`` for an EC2 instance type or family as Batch accepts it (``c7g.large``,
    ``c7g``, ``optimal``, ``default_arm64``)."""
    name = (instance_type if isinstance(instance_type, str) else instance_type.to_string()).lower()
    if name in ("default_arm64", "default_x86_64"):
        return name.removeprefix("default_")
    family = name.split(".", 1)[0].split("-", 1)[0]
    return "arm64" if _ARM_FAMILY.match(family) else "x86_64"


def _fail(message: str) -> None:
    raise ValueError(f"ImageEmbeddingPipeline: {message}")


def _is_token(value: Any) -> bool:
    return isinstance(value, str | int | float) and cdk.Token.is_unresolved(value)


def _check_whole(name: str, value: Any, low: int, high: int) -> None:
    """``value`` is an unresolved token or a whole number in ``low..high``."""
    if _is_token(value):
        return
    whole = isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    if not whole or not low <= value <= high:
        _fail(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def validate_props(
    *,
    bucket: s3.IBucket | None,
    table: dynamodb.ITable | None,
    encryption: str | None,
    encryption_key: kms.IKey | None,
    access_logs_bucket: s3.IBucket | None,
    vpc: ec2.IVpc | None,
    max_azs: int | None,
    nat_gateways: int | None,
    compute_type: str,
    max_vcpus: float,
    gpu_count: int,
    instance_types: Sequence[ec2.InstanceType] | None,
    spot_bid_percentage: float | None,
    job_vcpus: float,
    job_memory_mib: float,
    retry_attempts: float,
    job_timeout: cdk.Duration | None,
    images_prefix: str,
    command: Sequence[str],
    embedding_model: str | None = None,
    model_key: str | None = None,
) -> None:
    """Every prop problem is one error naming the prop, the value and what is allowed."""
    if bucket is not None and access_logs_bucket is not None:
        _fail("give either bucket (existing) or access_logs_bucket (for a new bucket), not both")
    if bucket is not None and table is not None:
        for name, value in (("encryption", encryption), ("encryption_key", encryption_key)):
            if value is not None:
                _fail(f"{name} applies to a bucket or table this construct creates; bucket and table are both given")
    if encryption is not None and encryption not in ENCRYPTIONS:
        _fail(f'encryption must be one of {", ".join(ENCRYPTIONS)}, got "{encryption}"')
    if encryption == "s3-managed" and encryption_key is not None:
        _fail('give either encryption="s3-managed" or encryption_key, not both')
    if vpc is not None:
        for vpc_option, given in (("max_azs", max_azs), ("nat_gateways", nat_gateways)):
            if given is not None:
                _fail(
                    f"{vpc_option} applies to a VPC this construct creates; give either vpc or {vpc_option}, not both"
                )
    if max_azs is not None:
        _check_whole("max_azs", max_azs, 1, 6)
    if nat_gateways is not None:
        _check_whole("nat_gateways", nat_gateways, 0, 6)
    if compute_type not in COMPUTE_TYPES:
        _fail(f'compute_type must be one of {", ".join(COMPUTE_TYPES)}, got "{compute_type}"')
    fargate = compute_type.startswith("fargate")
    _check_whole("max_vcpus", max_vcpus, 1, MAX_VCPUS_LIMIT)
    if _is_token(gpu_count):
        _fail("gpu_count must be a plain number (it chooses the instance types), got an unresolved token")
    _check_whole("gpu_count", gpu_count, 0, MAX_GPUS)
    if gpu_count and fargate:
        _fail(f'gpu_count needs compute_type "ec2" or "spot" (Fargate has no GPUs), got "{compute_type}"')
    if instance_types and fargate:
        _fail(f'instance_types needs compute_type "ec2" or "spot", got "{compute_type}"')
    by_architecture: dict[str, list[str]] = {}
    for instance_type in instance_types or ():
        by_architecture.setdefault(instance_architecture(instance_type), []).append(instance_type.to_string())
    if len(by_architecture) > 1:
        _fail(
            f"instance_types mixes x86_64 ({', '.join(by_architecture['x86_64'])}) and arm64 "
            f"({', '.join(by_architecture['arm64'])}): the job's one image is built for one architecture"
        )
    if gpu_count and "arm64" in by_architecture:
        _fail(
            f"gpu_count needs x86_64 instance types (onnxruntime-gpu publishes no Arm build), got "
            f"{', '.join(by_architecture['arm64'])}"
        )
    if spot_bid_percentage is not None:
        if compute_type != "spot":
            _fail(f'spot_bid_percentage needs compute_type "spot", got "{compute_type}"')
        _check_whole("spot_bid_percentage", spot_bid_percentage, 1, 100)
    if not _is_token(job_vcpus):
        if isinstance(job_vcpus, bool) or not isinstance(job_vcpus, int | float):
            _fail(f"job_vcpus must be a number, got {job_vcpus!r}")
        if fargate and job_vcpus not in FARGATE_VCPUS:
            allowed = ", ".join(f"{v:g}" for v in FARGATE_VCPUS)
            _fail(f"job_vcpus must be one of {allowed} on Fargate, got {job_vcpus:g}")
        if not fargate and (job_vcpus < 1 or not float(job_vcpus).is_integer()):
            _fail(f"job_vcpus must be a whole number >= 1 on EC2, got {job_vcpus:g}")
        if not _is_token(max_vcpus) and job_vcpus > max_vcpus:
            _fail(f"job_vcpus ({job_vcpus:g}) must not exceed max_vcpus ({max_vcpus})")
    _check_whole("job_memory_mib", job_memory_mib, 512, 122_880)
    _check_whole("retry_attempts", retry_attempts, 1, 10)
    if job_timeout is not None and not job_timeout.is_unresolved() and job_timeout.to_seconds() < 60:
        _fail(f"job_timeout must be at least 60 seconds, got {job_timeout.to_human_string()}")
    if images_prefix and not images_prefix.endswith("/"):
        _fail(f'images_prefix must be "" (whole bucket) or end with "/", got "{images_prefix}"')
    for reserved in (MANIFESTS_PREFIX, FAILURES_PREFIX):
        if images_prefix.startswith(reserved):
            _fail(f'images_prefix must not be under "{reserved}" (the pipeline writes there), got "{images_prefix}"')
    if not command or not all(isinstance(part, str) and part for part in command):
        _fail(f"command must be a non-empty list of non-empty strings, got {list(command)!r}")
    if model_key is not None:
        _check_model_key(model_key, embedding_model)


def _check_model_key(model_key: str, embedding_model: str | None) -> None:
    if embedding_model is not None:
        _fail("give either embedding_model (a path in the image) or model_key (an object in the bucket), not both")
    if _is_token(model_key):
        return
    if not isinstance(model_key, str) or not model_key.endswith(".onnx") or model_key.startswith("/"):
        _fail(f'model_key must be an object key ending in ".onnx" (no leading "/"), got {model_key!r}')
    for reserved in (MANIFESTS_PREFIX, FAILURES_PREFIX):
        if model_key.startswith(reserved):
            _fail(f'model_key must not be under "{reserved}" (the pipeline writes there), got "{model_key}"')

"""One translator per supported Terraform resource type, looked up by Terraform type."""

from __future__ import annotations

from devops_blueprints.tf_import.translators.base import Attrs, Translator
from devops_blueprints.tf_import.translators.compute import ECS_SERVICE, LAMBDA_FUNCTION, STATE_MACHINE
from devops_blueprints.tf_import.translators.data import (
    DB_CLUSTER,
    DB_INSTANCE,
    DYNAMODB_TABLE,
    KINESIS_STREAM,
    REPLICATION_GROUP,
    S3_BUCKET,
)
from devops_blueprints.tf_import.translators.messaging import EVENT_RULE, SNS_TOPIC, SQS_QUEUE
from devops_blueprints.tf_import.translators.network import LOAD_BALANCER, REST_API, STAGE

TRANSLATORS: tuple[Translator, ...] = (
    LAMBDA_FUNCTION,
    DYNAMODB_TABLE,
    SQS_QUEUE,
    SNS_TOPIC,
    KINESIS_STREAM,
    ECS_SERVICE,
    DB_INSTANCE,
    DB_CLUSTER,
    EVENT_RULE,
    LOAD_BALANCER,
    STATE_MACHINE,
    REPLICATION_GROUP,
    REST_API,
    STAGE,
    S3_BUCKET,
)

BY_TF_TYPE: dict[str, Translator] = {tf_type: t for t in TRANSLATORS for tf_type in t.tf_types}

__all__ = ["BY_TF_TYPE", "TRANSLATORS", "Attrs", "Translator"]

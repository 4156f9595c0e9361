"""Data stores and streams: DynamoDB tables, RDS instances and clusters, ElastiCache replication
groups, S3 buckets, Kinesis streams."""

from __future__ import annotations

from typing import Any

from devops_blueprints.tf_import.translators.base import Attrs, Translator, drop_none


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return keys


def _projection(index: dict[str, Any]) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.get("projection_type") or "ALL"}
    if index.get("non_key_attributes"):
        projection["NonKeyAttributes"] = list(index["non_key_attributes"])
    return projection


def _throughput(read: Any, write: Any) -> dict[str, int]:
    return {"ReadCapacityUnits": int(read or 1), "WriteCapacityUnits": int(write or 1)}


def _dynamodb_properties(attrs: Attrs) -> dict[str, Any]:
    provisioned = attrs.opt("billing_mode", "PROVISIONED") == "PROVISIONED"
    props: dict[str, Any] = {
        "TableName": attrs.req("name"),
        "KeySchema": _key_schema(attrs.req_str("hash_key", "KeySchema is required"), attrs.opt("range_key")),
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in attrs.blocks("attribute")
        ]
        or None,
        "BillingMode": "PROVISIONED" if provisioned else "PAY_PER_REQUEST",
    }
    if provisioned:
        props["ProvisionedThroughput"] = _throughput(attrs.opt("read_capacity"), attrs.opt("write_capacity"))
    gsis = []
    for index in attrs.blocks("global_secondary_index"):
        gsi: dict[str, Any] = {
            "IndexName": index["name"],
            "KeySchema": _key_schema(index["hash_key"], index.get("range_key")),
            "Projection": _projection(index),
        }
        if provisioned:
            gsi["ProvisionedThroughput"] = _throughput(index.get("read_capacity"), index.get("write_capacity"))
        gsis.append(gsi)
    props["GlobalSecondaryIndexes"] = sorted(gsis, key=lambda i: str(i["IndexName"])) or None
    lsis = [
        {
            "IndexName": index["name"],
            "KeySchema": _key_schema(attrs.req_str("hash_key"), index["range_key"]),
            "Projection": _projection(index),
        }
        for index in attrs.blocks("local_secondary_index")
    ]
    props["LocalSecondaryIndexes"] = sorted(lsis, key=lambda i: str(i["IndexName"])) or None
    # CloudFormation wants exactly the key attributes of the table and its indexes defined.
    key_names = {key["AttributeName"] for schema in _all_key_schemas(props) for key in schema}
    props["AttributeDefinitions"] = [
        definition for definition in props["AttributeDefinitions"] or [] if definition["AttributeName"] in key_names
    ] or None
    if attrs.opt("stream_enabled") and attrs.opt("stream_view_type"):
        props["StreamSpecification"] = {"StreamViewType": attrs.opt("stream_view_type")}
    return props


def _all_key_schemas(props: dict[str, Any]) -> list[list[dict[str, str]]]:
    schemas = [props["KeySchema"]]
    for indexes in (props.get("GlobalSecondaryIndexes"), props.get("LocalSecondaryIndexes")):
        schemas.extend(index["KeySchema"] for index in indexes or [])
    return schemas


DYNAMODB_TABLE = Translator(
    tf_types=("aws_dynamodb_table",),
    cfn_type="AWS::DynamoDB::Table",
    identifier=lambda a: {"TableName": a.req("name")},
    properties=_dynamodb_properties,
    label="DynamoDB table",
)


def _db_instance_properties(attrs: Attrs) -> dict[str, Any]:
    cluster = attrs.opt("cluster_identifier")
    props: dict[str, Any] = {
        "DBInstanceIdentifier": attrs.req("identifier"),
        "DBInstanceClass": attrs.req("instance_class"),
        "Engine": attrs.req("engine"),
    }
    if cluster:  # an Aurora cluster member: storage belongs to the cluster
        props["DBClusterIdentifier"] = cluster
    else:
        props["AllocatedStorage"] = str(attrs.req("allocated_storage"))
        props["StorageEncrypted"] = attrs.opt("storage_encrypted")
    return props


DB_INSTANCE = Translator(
    tf_types=("aws_db_instance",),
    cfn_type="AWS::RDS::DBInstance",
    identifier=lambda a: {"DBInstanceIdentifier": a.req("identifier")},
    properties=_db_instance_properties,
    label="RDS DB instance",
)

DB_CLUSTER = Translator(
    tf_types=("aws_rds_cluster",),
    cfn_type="AWS::RDS::DBCluster",
    identifier=lambda a: {"DBClusterIdentifier": a.req("cluster_identifier")},
    properties=lambda a: {
        "DBClusterIdentifier": a.req("cluster_identifier"),
        "Engine": a.req("engine"),
        "StorageEncrypted": a.opt("storage_encrypted"),
    },
    label="RDS DB cluster",
)

REPLICATION_GROUP = Translator(
    tf_types=("aws_elasticache_replication_group",),
    cfn_type="AWS::ElastiCache::ReplicationGroup",
    identifier=lambda a: {"ReplicationGroupId": a.first_of("replication_group_id", "id")},
    properties=lambda a: {
        "ReplicationGroupId": a.first_of("replication_group_id", "id"),
        # "description" since AWS provider 5; "replication_group_description" before.
        "ReplicationGroupDescription": a.first_of(
            "description", "replication_group_description", reason="ReplicationGroupDescription is required"
        ),
        "CacheNodeType": a.opt("node_type"),
        "Engine": a.opt("engine"),
    },
    label="ElastiCache replication group",
)

S3_BUCKET = Translator(
    tf_types=("aws_s3_bucket",),
    cfn_type="AWS::S3::Bucket",
    identifier=lambda a: {"BucketName": a.first_of("bucket", "id")},
    properties=lambda a: {"BucketName": a.first_of("bucket", "id")},
    label="S3 bucket",
)


def _kinesis_properties(attrs: Attrs) -> dict[str, Any]:
    mode = attrs.block("stream_mode_details").get("stream_mode") or "PROVISIONED"
    return drop_none(
        {
            "Name": attrs.req("name"),
            "StreamModeDetails": {"StreamMode": mode},
            "ShardCount": attrs.opt("shard_count") if mode == "PROVISIONED" else None,
            "RetentionPeriodHours": attrs.opt("retention_period"),
        }
    )


KINESIS_STREAM = Translator(
    tf_types=("aws_kinesis_stream",),
    cfn_type="AWS::Kinesis::Stream",
    identifier=lambda a: {"Name": a.req("name")},
    properties=_kinesis_properties,
    label="Kinesis data stream",
)

"""The deployment table of the tenant-deployment flow (ARCHITECTURE.md section 2).

Operators write one item per deployment (``id``, ``type``, ``account``, ``region``, optional ``tier``
and ``wave``); the system writes ``status``, ``status_reason``, ``build_id`` and ``updated_at``. The
table's stream (``NEW_AND_OLD_IMAGES``) drives the provisioner.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

__all__ = ["DeploymentTable"]


class DeploymentTable(Construct):
    """A DynamoDB table of tenant deployments, with a stream for the provisioner.

    Creates (unless ``table`` is given): partition key ``id`` (S), stream ``NEW_AND_OLD_IMAGES``,
    on-demand billing, point-in-time recovery, encryption with a customer managed KMS key,
    deletion protection and a ``RETAIN`` removal policy.

    :param table: an existing deployment table instead of a new one. It must expose its stream ARN
        (``dynamodb.Table.from_table_attributes(..., table_stream_arn=...)``) and use ``id`` (S) as
        its partition key with ``NEW_AND_OLD_IMAGES`` on the stream. Default: a new table.
    :param encryption_key: the customer managed key of a new table. Default: a new key with rotation
        on. Not allowed together with ``table``.
    :param removal_policy: of a new table and key. Default: ``RETAIN`` (deployment records are the
        source of truth for every tenant pipeline).
    :param deletion_protection: of a new table. Default: ``True``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable | None = None,
        encryption_key: kms.IKey | None = None,
        removal_policy: cdk.RemovalPolicy | None = None,
        deletion_protection: bool | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if table is not None:
            given = [
                name
                for name, value in (
                    ("encryption_key", encryption_key),
                    ("removal_policy", removal_policy),
                    ("deletion_protection", deletion_protection),
                )
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"DeploymentTable: {', '.join(given)} only applies to a new table; got an existing "
                    f"table as well (pass either table or the properties of a new one)"
                )
            if table.table_stream_arn is None:
                raise ValueError(
                    "DeploymentTable: table must expose its stream ARN (import it with "
                    "Table.from_table_attributes(..., table_stream_arn=...)), got a table without one"
                )
            self._table = table
            self._key = table.encryption_key
            return

        policy = removal_policy if removal_policy is not None else cdk.RemovalPolicy.RETAIN
        if encryption_key is None:
            created_key = kms.Key(
                self,
                "Key",
                description="Encrypts the tenant deployment table and its stream",
                enable_key_rotation=True,
                removal_policy=policy,
            )
            encryption_key = created_key
        self._key = encryption_key
        self._table = dynamodb.Table(
            self,
            "Resource",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            deletion_protection=True if deletion_protection is None else deletion_protection,
            removal_policy=policy,
        )

    @property
    def table(self) -> dynamodb.ITable:
        """The deployment table (created or given)."""
        return self._table

    @property
    def table_name(self) -> str:
        """The deployment table's name."""
        return self._table.table_name

    @property
    def table_stream_arn(self) -> str:
        """The table's stream ARN (``NEW_AND_OLD_IMAGES``)."""
        arn = self._table.table_stream_arn
        if arn is None:  # checked in the constructor
            raise ValueError(f"{self.node.path}: the table has no stream")
        return arn

    @property
    def encryption_key(self) -> kms.IKey | None:
        """The table's customer managed key (``None`` for an existing table imported without it)."""
        return self._key

    def grant_read_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read deployment records (the CLI's ``list``, the release orchestrator)."""
        return self._table.grant_read_data(grantee)

    def grant_read_write_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read and write deployment records (operators, the status updaters)."""
        return self._table.grant_read_write_data(grantee)

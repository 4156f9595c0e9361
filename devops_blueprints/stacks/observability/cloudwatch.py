"""The account-level part of the CloudWatch engine: the encrypted topic its composite alarms notify."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.constructs.observability.cloudwatch_engine import CloudWatchEngine, CloudWatchEngineOptions
from devops_blueprints.constructs.observability.investigations import InvestigationGroup


class CloudWatchObservabilityStack(cdk.Stack):
    """One per account/region: the CloudWatch engine (``engine``) of an application boundary, with its
    KMS-encrypted, TLS-only notification topic.

    :param notification_emails: email subscriptions for every application's anomalies. Default: none.
    :param options: thresholds, disabled alarms, log anomaly detection, dashboards, per-application emails.
    :param investigations: also create the account/region's CloudWatch investigation group; every
        application's composite alarm opens an investigation in it. Default: False.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        notification_emails: Sequence[str] = (),
        options: CloudWatchEngineOptions | None = None,
        investigations: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.investigation_group: InvestigationGroup | None = None
        actions: list[str] = []
        if investigations:
            self.investigation_group = InvestigationGroup(self, "Investigations", name="applications")
            actions.append(self.investigation_group.alarm_action_arn)
        self.engine = CloudWatchEngine(
            self, "Engine", email_addresses=notification_emails, options=options, alarm_actions=actions
        )

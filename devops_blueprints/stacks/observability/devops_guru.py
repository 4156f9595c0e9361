"""The account-level DevOps Guru set-up: notifications and the tag-based application boundary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from devops_blueprints.constructs.app_boundary import DEFAULT_TAG_KEY
from devops_blueprints.constructs.observability.devops_guru_coverage import DevOpsGuruAppBoundary
from devops_blueprints.constructs.observability.devops_guru_notifications import DevOpsGuruNotifications


class DevOpsGuruStack(cdk.Stack):
    """One per account/region: a KMS-encrypted notification topic and channel, and the resource
    collection of the application boundary (``boundary``) that the sample stacks are put inside.

    :param tag_key: the application boundary key. Default: ``devops-guru-applications``.
    :param tag_values: applications to analyse. Default: ``["*"]`` (every value of the key).
    :param notification_emails: email subscriptions for insights. Default: none.
    :param severities: severities to notify. Default: DevOps Guru's (HIGH, MEDIUM).
    :param message_types: message types to notify. Default: all.
    :param log_anomaly_detection: turn on log anomaly detection. Default: True.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tag_key: str = DEFAULT_TAG_KEY,
        tag_values: Sequence[str] = ("*",),
        notification_emails: Sequence[str] = (),
        severities: Sequence[str] | None = None,
        message_types: Sequence[str] | None = None,
        log_anomaly_detection: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.notifications = DevOpsGuruNotifications(
            self,
            "Notifications",
            email_addresses=notification_emails,
            severities=severities,
            message_types=message_types,
            log_anomaly_detection=log_anomaly_detection,
        )
        self.boundary = DevOpsGuruAppBoundary(self, "AppBoundary", tag_key=tag_key, tag_values=tag_values)

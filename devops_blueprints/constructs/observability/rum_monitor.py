"""``WebAppMonitor``: a CloudWatch RUM app monitor for a web application, its page/resource metrics and alarms
(source article: "Create metrics and alarms for specific web pages with Amazon CloudWatch RUM").

aws-cdk-lib has only the L1 ``CfnAppMonitor`` (``AWS::RUM::AppMonitor``). This construct adds:

* how browsers send events: a Cognito identity pool whose unauthenticated role may only call
  ``rum:PutRumEvents`` on this monitor (``authorization="cognito"``, the default), or a resource-based policy on
  the monitor that accepts unsigned ``PutRumEvents`` (``authorization="resource-policy"``);
* the snippet a page embeds (:meth:`WebAppMonitor.snippet`, and the ``Snippet`` stack output);
* RUM's extended metrics (``MetricDestinations`` -> CloudWatch) and the article's metric filters on the
  monitor's log group, with static or anomaly-detection alarms on an encrypted topic (what is measured:
  :mod:`rum_metrics`; its filters and alarms: :mod:`rum_alarms`).

The log group. With ``CwLogEnabled`` RUM writes a copy of every event to a log group it names
``/aws/vendedlogs/RUMService_<monitor name><first 8 characters of the monitor id>`` (the id's first
``-``-separated part). AWS documents no name; this is what RUM creates (AWS CLI's ``get-app-monitor`` example
shows ``"CwLogGroup": "/aws/vendedlogs/RUMService_MyWebApp..."``, and it is derived the same way, with
``Fn::Select(0, Fn::Split("-", Id))``, by NHSDigital's eps-prescription-tracker-ui ``Rum.ts`` and others), and
the group appears only when the first event arrives. A metric filter on a group that does not exist fails, so
the construct creates the group itself right after the monitor (an ``AwsCustomResource`` calling
``CreateLogGroup``, an already existing group being fine) and sets its retention; RUM then writes into it (the
eps-prescription-tracker-ui stacks create that group in CloudFormation the same way). The filters depend on it,
so a first deployment does not wait for traffic and does not fail.

After stack deletion: the log group stays (``retain_log_group=True``, the default: it holds the events), as do
the metrics already published (CloudWatch keeps them 15 months). With ``retain_log_group=False`` the group is
deleted with the stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Literal

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rum as rum
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct

from devops_blueprints.constructs._props import string_list
from devops_blueprints.constructs.observability.devops_guru_coverage import acknowledge_custom_resource_provider
from devops_blueprints.constructs.observability.encrypted_topic import allow_cloudwatch_alarms, notification_topic
from devops_blueprints.constructs.observability.rum_alarms import MonitorAlarms, metric_destinations
from devops_blueprints.constructs.observability.rum_metrics import ExtendedMetric, PageMetric

#: The web client the snippet loads: the CDN URL of RUM's generated snippet, latest 1.x
#: (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-RUM-custom-snippet.html and
#: github.com/aws-observability/aws-rum-web, docs/cdn_installation.md).
WEB_CLIENT_URL = "https://client.rum.us-east-1.amazonaws.com/1.x/cwr.js"
#: App monitor names: 1-255 characters of ``[.\-_#A-Za-z0-9]``, not starting with ``.``
#: (https://docs.aws.amazon.com/cloudwatchrum/latest/APIReference/API_CreateAppMonitor.html).
_MONITOR_NAME = re.compile(r"(?!\.)[.\-_#A-Za-z0-9]{1,255}")
#: A domain (or ``*.`` wildcard domain, or ``localhost``) of the DomainList; 1-253 characters, at most 5 entries
#: (same page: "DomainList ... Minimum number of 1 item. Maximum number of 5 items").
_DOMAIN = re.compile(r"(\*\.)?(localhost|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})")
MAX_DOMAINS = 5
#: ``retentionInDays`` values PutRetentionPolicy accepts
#: (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
TELEMETRIES = ("errors", "performance", "http")


class WebAppMonitor(Construct):
    """A CloudWatch RUM app monitor with its snippet, page/resource metrics and alarms.

    :param name: the app monitor's name.
    :param domains: the domains the monitor accepts events from (1 to 5; ``*.example.com`` allowed).
    :param authorization: ``"cognito"`` (identity pool, unauthenticated role limited to ``rum:PutRumEvents`` on
        this monitor) or ``"resource-policy"`` (public ``PutRumEvents`` through the monitor's resource-based
        policy; the client sends unsigned requests). Default: ``"cognito"``.
    :param session_sample_rate: share of sessions recorded, 0 to 1. Default: 1.
    :param telemetries: of ``errors``, ``performance``, ``http``. Default: all three.
    :param allow_cookies: let the web client set cookies (user and session ids). Default: True.
    :param cw_log_enabled: keep a copy of the events in CloudWatch Logs (needed for page metrics). Default: True.
    :param log_retention_days: retention of that log group, in days (a value PutRetentionPolicy takes). Default: 30.
    :param retain_log_group: keep the log group when the stack is deleted. Default: True.
    :param page_metrics: metric filters and their alarms (:class:`PageMetric`). Default: none.
    :param extended_metrics: RUM extended metrics and their alarms (:class:`ExtendedMetric`). Default: none.
    :param topic: an existing topic for the alarms (with its own key). Default: a new encrypted topic.
    :param encryption_key: the key of the new topic. Default: a new key (rotation on).
    :param email_addresses: email subscriptions of the alarms' topic. Default: none.
    :param removal_policy: of the new topic's key. Default: RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        domains: Sequence[str],
        authorization: Literal["cognito", "resource-policy"] = "cognito",
        session_sample_rate: float = 1.0,
        telemetries: Sequence[str] = TELEMETRIES,
        allow_cookies: bool = True,
        cw_log_enabled: bool = True,
        log_retention_days: int = 30,
        retain_log_group: bool = True,
        page_metrics: Sequence[PageMetric] = (),
        extended_metrics: Sequence[ExtendedMetric] = (),
        topic: sns.ITopic | None = None,
        encryption_key: kms.IKey | None = None,
        email_addresses: Sequence[str] = (),
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(name, domains, authorization, session_sample_rate, telemetries)
        if log_retention_days not in RETENTION_DAYS:
            raise ValueError(
                f"log_retention_days must be one of {', '.join(map(str, RETENTION_DAYS))}, got {log_retention_days!r}"
            )
        page_metrics = tuple(page_metrics)
        extended_metrics = tuple(extended_metrics)
        for metric in (*page_metrics, *extended_metrics):
            if not isinstance(metric, (PageMetric, ExtendedMetric)):
                raise ValueError(f"page_metrics/extended_metrics take PageMetric/ExtendedMetric, got {metric!r}")
        if page_metrics and not cw_log_enabled:
            raise ValueError(
                "page_metrics are metric filters on the monitor's log group: they need cw_log_enabled=True"
            )
        names = [m.name for m in page_metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"page_metrics names must be unique, got {names}")
        stack = cdk.Stack.of(self)
        self.name = name
        self.authorization = authorization
        self.monitor_arn = stack.format_arn(service="rum", resource="appmonitor", resource_name=name)

        self.identity_pool: cognito.CfnIdentityPool | None = None
        self.guest_role: iam.Role | None = None
        resource_policy: rum.CfnAppMonitor.ResourcePolicyProperty | None = None
        if authorization == "cognito":
            self.identity_pool, self.guest_role = self._identity_pool()
        else:
            resource_policy = rum.CfnAppMonitor.ResourcePolicyProperty(
                policy_document=stack.to_json_string(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "AllowUnsignedPutRumEvents",
                                "Effect": "Allow",
                                "Principal": "*",
                                "Action": "rum:PutRumEvents",
                                "Resource": self.monitor_arn,
                            }
                        ],
                    }
                )
            )
        self._config = {
            "sessionSampleRate": session_sample_rate,
            "telemetries": list(telemetries),
            "allowCookies": allow_cookies,
            "enableXRay": False,
        }
        self.resource = rum.CfnAppMonitor(
            self,
            "Resource",
            name=name,
            domain_list=list(domains),
            cw_log_enabled=cw_log_enabled,
            resource_policy=resource_policy,
            app_monitor_configuration=rum.CfnAppMonitor.AppMonitorConfigurationProperty(
                allow_cookies=allow_cookies,
                enable_x_ray=False,
                session_sample_rate=session_sample_rate,
                telemetries=list(telemetries),
                identity_pool_id=self.identity_pool.ref if self.identity_pool else None,
                guest_role_arn=self.guest_role.role_arn if self.guest_role else None,
                metric_destinations=metric_destinations(extended_metrics),
            ),
        )
        self.monitor_id = self.resource.attr_id
        #: ``/aws/vendedlogs/RUMService_<name><first 8 characters of the monitor id>`` (see the module docstring).
        self.log_group_name = cdk.Fn.join(
            "", [f"/aws/vendedlogs/RUMService_{name}", cdk.Fn.select(0, cdk.Fn.split("-", self.monitor_id))]
        )
        self.log_group: cr.AwsCustomResource | None = None
        if cw_log_enabled:
            self.log_group = self._log_group(log_retention_days, retain_log_group)

        self.topic: sns.ITopic | None = None
        self.key: kms.IKey | None = None
        alarmed = any(m.alarm is not None for m in page_metrics) or any(m.alarm is not None for m in extended_metrics)
        if alarmed:
            notifications = Construct(self, "Notifications")
            self.key, self.topic = notification_topic(
                notifications,
                topic=topic,
                encryption_key=encryption_key,
                email_addresses=email_addresses,
                display_name=f"RUM alarms of {name}",
                key_description=f"Encrypts the RUM alarm notifications of {name}",
                removal_policy=removal_policy,
                grant=lambda t, k: allow_cloudwatch_alarms(t, k),
            )
        measured = MonitorAlarms(
            self, name, log_group_name=self.log_group_name, log_group=self.log_group, topic=self.topic
        )
        for page in page_metrics:
            measured.add_page_metric(page)
        for extended in extended_metrics:
            measured.add_extended_metric(extended)
        #: Every alarm the monitor created (static and anomaly detection), e.g. for ``CloudWatchEngine.add_alarms``.
        self.alarms: list[cloudwatch.Alarm] = measured.alarms
        self.metric_filters: list[logs.CfnMetricFilter] = measured.metric_filters
        cdk.CfnOutput(self, "Snippet", value=self.snippet(), description=f"RUM snippet of {name}: put it in <head>")
        cdk.CfnOutput(self, "MonitorId", value=self.monitor_id)

    # -------------------------------------------------------------------------------------------- snippet

    def snippet(self) -> str:
        """The ``<script>`` a page puts in its ``<head>``: RUM's generated snippet
        (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-RUM-find-code-snippet.html)
        with this monitor's id, region and credentials (a string with deploy-time tokens)."""
        stack = cdk.Stack.of(self)
        config: dict[str, object] = {
            **self._config,
            "endpoint": f"https://dataplane.rum.{stack.region}.{stack.url_suffix}",
        }
        if self.identity_pool is not None and self.guest_role is not None:
            config["identityPoolId"] = self.identity_pool.ref
            config["guestRoleArn"] = self.guest_role.role_arn
        else:
            config["signing"] = False
        loader = (
            "(function(n,i,v,r,s,c,x,z){x=window.AwsRumClient={q:[],n:n,i:i,v:v,r:r,c:c};"
            "window[n]=function(c,p){x.q.push({c:c,p:p});};z=document.createElement('script');z.async=true;"
            "z.src=s;document.head.insertBefore(z,document.head.getElementsByTagName('script')[0]);})"
        )
        arguments = ",".join(
            [
                json.dumps("cwr"),
                json.dumps(self.monitor_id),
                json.dumps("1.0.0"),
                json.dumps(stack.region),
                json.dumps(WEB_CLIENT_URL),
                json.dumps(config, separators=(",", ":")),
            ]
        )
        return f"<script>{loader}({arguments});</script>"

    # ------------------------------------------------------------------------------------------ internals

    def _identity_pool(self) -> tuple[cognito.CfnIdentityPool, iam.Role]:
        pool = cognito.CfnIdentityPool(self, "IdentityPool", allow_unauthenticated_identities=True)
        role = iam.Role(
            self,
            "GuestRole",
            description=f"Unauthenticated browsers of {self.name}: rum:PutRumEvents on this app monitor only",
            assumed_by=iam.FederatedPrincipal(
                "cognito-identity.amazonaws.com",
                {
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": pool.ref},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"},
                },
                "sts:AssumeRoleWithWebIdentity",
            ),
            inline_policies={
                "PutRumEvents": iam.PolicyDocument(
                    statements=[iam.PolicyStatement(actions=["rum:PutRumEvents"], resources=[self.monitor_arn])]
                )
            },
        )
        cognito.CfnIdentityPoolRoleAttachment(
            self, "IdentityPoolRoles", identity_pool_id=pool.ref, roles={"unauthenticated": role.role_arn}
        )
        cdk.Validations.of(pool).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-COG7",
                reason="The RUM web client gets guest credentials for anonymous visitors; the unauthenticated "
                "role may only call rum:PutRumEvents on this app monitor",
            )
        )
        return pool, role

    def _log_group(self, days: int, retain: bool) -> cr.AwsCustomResource:
        stack = cdk.Stack.of(self)
        arn = cdk.Fn.join(
            "",
            [f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:", self.log_group_name],
        )
        on_delete = None
        if not retain:
            on_delete = cr.AwsSdkCall(
                service="CloudWatchLogs",
                action="deleteLogGroup",
                parameters={"logGroupName": self.log_group_name},
                ignore_error_codes_matching="ResourceNotFoundException",
            )
        create = cr.AwsSdkCall(
            service="CloudWatchLogs",
            action="createLogGroup",
            parameters={"logGroupName": self.log_group_name},
            physical_resource_id=cr.PhysicalResourceId.of(self.log_group_name),
            ignore_error_codes_matching="ResourceAlreadyExistsException",
        )
        group = cr.AwsCustomResource(
            self,
            "LogGroup",
            # Created here if RUM has not created it yet; RUM writes into an existing group. On update too: a
            # replaced monitor has a new id, so a new group name.
            on_create=create,
            on_update=create,
            on_delete=on_delete,
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["logs:CreateLogGroup", "logs:DeleteLogGroup"]
                        if not retain
                        else ["logs:CreateLogGroup"],
                        resources=[arn],
                    )
                ]
            ),
        )
        group.node.add_dependency(self.resource)
        retention_call = cr.AwsSdkCall(
            service="CloudWatchLogs",
            action="putRetentionPolicy",
            parameters={"logGroupName": self.log_group_name, "retentionInDays": days},
            physical_resource_id=cr.PhysicalResourceId.of(f"{self.name}-retention"),
        )
        retention_resource = cr.AwsCustomResource(
            self,
            "LogGroupRetention",
            on_create=retention_call,
            on_update=retention_call,
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["logs:PutRetentionPolicy"], resources=[arn])]
            ),
        )
        retention_resource.node.add_dependency(group)
        acknowledge_custom_resource_provider(stack)
        return group


def _check_domain(domain: str) -> None:
    if not isinstance(domain, str) or len(domain) > 253 or not _DOMAIN.fullmatch(domain):
        raise ValueError(f"domains must contain domain names (www.example.com, *.example.com), got {domain!r}")


def _validate(
    name: str, domains: Sequence[str], authorization: str, session_sample_rate: float, telemetries: Sequence[str]
) -> None:
    if not isinstance(name, str) or not _MONITOR_NAME.fullmatch(name):
        raise ValueError(f"name must be 1-255 characters of letters, digits, '.', '-', '_', '#', got {name!r}")
    string_list(
        "domains",
        domains,
        noun="domains",
        max_items=MAX_DOMAINS,
        if_empty="name at least one domain the monitor accepts events from, e.g. www.example.com",
        check=_check_domain,
    )
    if authorization not in ("cognito", "resource-policy"):
        raise ValueError(f'authorization must be "cognito" or "resource-policy", got {authorization!r}')
    if not 0 <= session_sample_rate <= 1:
        raise ValueError(f"session_sample_rate must be from 0 to 1, got {session_sample_rate}")
    if isinstance(telemetries, str):
        raise ValueError(f"telemetries must be a list, got the string {telemetries!r}")
    for telemetry in telemetries:
        if telemetry not in TELEMETRIES:
            raise ValueError(f"telemetries must be among {', '.join(TELEMETRIES)}, got {telemetry!r}")

"""Sample static web site monitored with CloudWatch RUM: S3 behind CloudFront (origin access control, HTTPS
only, access logs) whose page carries the RUM snippet of a :class:`WebAppMonitor` with the source article's
page and resource metrics and alarms."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from devops_blueprints.constructs.observability.rum_metrics import (
    AnomalyDetection,
    ExtendedMetric,
    PageMetric,
    Threshold,
)
from devops_blueprints.constructs.observability.rum_monitor import WebAppMonitor

#: The article's resource pattern, for the sample's own script.
SCRIPT_PATTERN = '{$.event_details.targetUrl = "*/js/app.js*" && $.event_details.duration > 0}'
#: Navigation (page load) events of the home page.
HOME_NAVIGATION_PATTERN = '{$.event_type = "com.amazon.rum.performance_navigation_event" && $.metadata.pageId = "/"}'

APP_JS = """document.addEventListener("DOMContentLoaded", function () {
  var note = document.getElementById("loaded");
  if (note) { note.textContent = "Loaded at " + new Date().toISOString(); }
});
"""


def index_html(snippet: str, *, title: str = "devops-blueprints RUM sample") -> str:
    """The sample's page: RUM's snippet first in ``<head>`` (as RUM's instructions ask), then the page's own
    script, whose load time the sample's metric filter measures."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n'
        '<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"{snippet}\n"
        '<script src="/js/app.js" defer></script>\n'
        "</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        '<p id="loaded">Loading...</p>\n'
        "</body>\n</html>\n"
    )


class StaticSiteStack(cdk.Stack):
    """A private S3 bucket served by CloudFront through origin access control (HTTPS only, TLS), access logs
    of both in a log bucket, and a RUM app monitor for the distribution's domain whose snippet is in the page.

    Metrics and alarms (the source article's): the load time of ``/js/app.js`` from a metric filter (p90 above
    1 s; desktop above 0.8 s, mobile above 2 s), the home page's navigation time with anomaly detection, and
    RUM's extended ``PerformanceNavigationDuration`` for ``PageId=/`` above 3 s.

    :param notification_emails: email subscriptions of the RUM alarms. Default: none.
    :param extra_domains: further domains the monitor accepts (e.g. a custom domain name). Default: none.
    :param removal_policy: of the buckets. Default: DESTROY with their objects (a sample).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        notification_emails: Sequence[str] = (),
        extra_domains: Sequence[str] = (),
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        auto_delete = removal_policy == cdk.RemovalPolicy.DESTROY
        self.log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # CloudFront standard logging (legacy) writes with an ACL: the bucket needs ACLs enabled
            # (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging-legacy-s3.html).
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(90))],
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete,
        )
        cdk.Validations.of(self.log_bucket).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-S1", reason="The access-log bucket itself is not logged (no loop)")
        )
        self.bucket = s3.Bucket(
            self,
            "Content",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/",
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="devops-blueprints RUM sample site",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
        )
        cdk.Validations.of(self.distribution).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-CFR4",
                reason="The sample uses the default *.cloudfront.net certificate, whose security policy CloudFront "
                "fixes (viewers still connect over HTTPS only); a custom domain brings its certificate and policy",
            ),
            cdk.Acknowledgment(id="AwsSolutions-CFR1", reason="A public sample page: no geographic restriction"),
            cdk.Acknowledgment(id="AwsSolutions-CFR2", reason="A static sample page with no input: no WAF web ACL"),
        )
        self.monitor = WebAppMonitor(
            self,
            "Rum",
            # "StaticSite" -> "static-site": the application name the sample stage gives it (alarm names start with it).
            name=re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", construct_id).lower(),
            domains=[self.distribution.distribution_domain_name, *extra_domains],
            email_addresses=notification_emails,
            removal_policy=removal_policy,
            page_metrics=[
                PageMetric(
                    name="AppJsDuration",
                    filter_pattern=SCRIPT_PATTERN,
                    alarm=Threshold(1000),
                    thresholds_by_device_type={"desktop": 800, "mobile": 2000},
                ),
                PageMetric(
                    name="HomeNavigationDuration", filter_pattern=HOME_NAVIGATION_PATTERN, alarm=AnomalyDetection()
                ),
            ],
            extended_metrics=[
                ExtendedMetric(
                    name="PerformanceNavigationDuration", dimension="PageId", value="/", alarm=Threshold(3000)
                )
            ],
        )
        self.page = index_html(self.monitor.snippet())
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Pages",
            destination_bucket=self.bucket,
            sources=[s3deploy.Source.data("index.html", self.page), s3deploy.Source.data("js/app.js", APP_JS)],
            distribution=self.distribution,
            distribution_paths=["/index.html", "/js/*"],
            memory_limit=256,
        )
        cdk.CfnOutput(self, "Url", value=f"https://{self.distribution.distribution_domain_name}/")
        _acknowledge_generated_functions(self)


def _acknowledge_generated_functions(stack: cdk.Stack) -> None:
    """The BucketDeployment handler and the auto-delete-objects provider are aws-cdk-lib's singletons; their
    managed logging policy, runtime and the object wildcards of their grants are not ours to choose."""
    for child in stack.node.children:
        child_id = child.node.id
        if child_id.startswith("Custom::CDKBucketDeployment") or child_id.startswith("Custom::S3AutoDeleteObjects"):
            cdk.Validations.of(child).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    reason="aws-cdk-lib's generated function only writes its own logs with this managed policy",
                ),
                cdk.Acknowledgment(
                    id="AwsSolutions-L1", reason="The runtime is chosen and kept current by aws-cdk-lib"
                ),
            )
        if child_id.startswith("Custom::CDKBucketDeployment"):
            # BucketDeployment's grants: read of its asset objects, read/write of the site bucket's objects,
            # invalidations of the distribution (CloudFront invalidation actions are granted on "*" by it).
            cdk.Validations.of(child).acknowledge(
                *[
                    cdk.Acknowledgment(
                        id=f"AwsSolutions-IAM5[{finding}]",
                        reason="aws-cdk-lib's BucketDeployment grant on the asset and site buckets' objects only",
                    )
                    for finding in (
                        "Action::s3:Abort*",
                        "Action::s3:DeleteObject*",
                        "Action::s3:GetBucket*",
                        "Action::s3:GetObject*",
                        "Action::s3:List*",
                        "Resource::<Content88381566.Arn>/*",
                        "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
                    )
                ],
                cdk.Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="BucketDeployment's cloudfront:CreateInvalidation/GetInvalidation grant for the distribution",
                ),
            )

"""The CloudWatch engine of an application boundary: alarms, composite alarm, log anomaly detectors, saved
queries and a dashboard for every application, found automatically.

How it works. :meth:`CloudWatchEngine.cover` records the scopes (stacks, stages or any construct) of an
application and drops one marker construct into the first of them. An aspect on that marker runs once, at
synth, after the app is fully built: it walks every scope of the application, and for each L1 resource whose
type is in :data:`~devops_blueprints.constructs.observability.cloudwatch_coverage.COVERAGE` it creates that
type's alarms next to the resource (same stack, so no cross-stack references). Then, in the application's
first stack (its *home*), it creates the composite alarm(s) whose state is "this application is anomalous",
notifying the engine's encrypted topic, and a dashboard. Resource types the engine does not know are listed
in one warning per application; nothing is left uncovered silently.

Alarm names are explicit (``<app>-<stack>-<logical id>-<alarm>``), so the composite rule names its children
without tokens and its exact length is known at synth: CloudWatch allows 10,240 characters and 100 alarms
per rule (PutCompositeAlarm,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html); larger
applications get part composites under one top composite.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import cloudformation_include as cfn_include
from constructs import Construct, IConstruct

from devops_blueprints.constructs.app_boundary import DEFAULT_TAG_KEY, validate_tag_key, validate_tag_values
from devops_blueprints.constructs.observability.cloudwatch_coverage import (
    COVERAGE,
    DEAD_LETTER_ALARM,
    AlarmSpec,
    TypeCoverage,
    billed_metric_count,
    is_passive,
)
from devops_blueprints.constructs.observability.encrypted_topic import (
    allow_cloudwatch_alarms,
    notification_topic,
    validate_email_addresses,
)
from devops_blueprints.constructs.observability.lambda_error_queries import LambdaErrorQueries

#: CloudWatch limits of one composite alarm rule (PutCompositeAlarm).
MAX_RULE_LENGTH = 10_240
MAX_RULE_ALARMS = 100
#: AlarmName is 1..255 characters.
MAX_ALARM_NAME = 255
#: The tag the engine adds to every resource of an application; Metrics Insights widgets filter on it.
METRICS_TAG_KEY = "ObservabilityApplication"
#: Monthly prices in us-east-1, https://aws.amazon.com/cloudwatch/pricing/ ("Alarms"): a standard-resolution
#: alarm costs $0.10 per metric it evaluates (an anomaly-detection alarm counts three), a composite $0.50.
PRICE_PER_ALARM_METRIC = 0.10
PRICE_PER_COMPOSITE = 0.50

_METRICS_TAG_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclasses.dataclass(frozen=True)
class CloudWatchEngineOptions:
    """What the engine creates, beyond the defaults of the coverage table.

    :param thresholds: ``{"<type>/<alarm>": value}`` for static alarms, e.g.
        ``{"AWS::Lambda::Function/ErrorRate": 2}`` (percent). Rates must be 0..100, counts >= 0.
    :param disabled_alarms: ``"<type>/<alarm>"`` entries not to create (or ``"<type>/*"`` for a whole type).
    :param band_width: standard deviations of every anomaly band. Default 2 (CloudWatch's default); 1..10.
    :param log_anomaly_detection: one ``AWS::Logs::LogAnomalyDetector`` per log group of the application.
    :param dashboards: one dashboard per application.
    :param lambda_error_queries: saved Logs Insights queries over the application's function log groups
        (:class:`~devops_blueprints.constructs.observability.lambda_error_queries.LambdaErrorQueries`).
    :param email_addresses: ``{app_name: [address, ...]}`` subscriptions that only receive that application's
        notifications (an SNS filter policy on the alarm name in the message body).
    """

    thresholds: Mapping[str, float] = dataclasses.field(default_factory=dict)
    disabled_alarms: Collection[str] = ()
    band_width: float = 2.0
    log_anomaly_detection: bool = True
    dashboards: bool = True
    lambda_error_queries: bool = True
    email_addresses: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {f"{t}/{spec.name}": spec for t, c in COVERAGE.items() for spec in c.alarms}
        known[f"AWS::SQS::Queue/{DEAD_LETTER_ALARM.name}"] = DEAD_LETTER_ALARM
        for key, value in self.thresholds.items():
            spec = known.get(key)
            if spec is None:
                raise ValueError(f"thresholds: unknown alarm {key!r}; known: {', '.join(sorted(known))}")
            if spec.kind != "static":
                raise ValueError(f"thresholds: {key} is an anomaly-detection alarm and takes no threshold")
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise ValueError(f"thresholds: {key} must be a number, got {value!r}")
            upper = 100 if spec.expression is not None and "100" in spec.expression else float("inf")
            if not 0 <= value <= upper:
                bound = "0..100 (percent)" if upper == 100 else ">= 0"
                raise ValueError(f"thresholds: {key} must be {bound}, got {value}")
        for entry in self.disabled_alarms:
            resource_type, _, name = entry.partition("/")
            if resource_type not in COVERAGE or not (name == "*" or entry in known):
                raise ValueError(f"disabled_alarms: unknown alarm {entry!r}")
        if isinstance(self.band_width, bool) or not 1 <= self.band_width <= 10:
            raise ValueError(f"band_width must be between 1 and 10 standard deviations, got {self.band_width!r}")
        for app_name, addresses in self.email_addresses.items():
            validate_tag_values([app_name])
            validate_email_addresses(addresses)

    def alarms_for(self, coverage: TypeCoverage, extra: Iterable[AlarmSpec] = ()) -> list[AlarmSpec]:
        if f"{coverage.resource_type}/*" in self.disabled_alarms:
            return []
        specs = []
        for spec in (*coverage.alarms, *extra):
            key = f"{coverage.resource_type}/{spec.name}"
            if key in self.disabled_alarms:
                continue
            if key in self.thresholds:
                spec = spec.with_threshold(self.thresholds[key])
            if spec.kind == "anomaly" and spec.band_width != self.band_width:
                spec = dataclasses.replace(spec, band_width=self.band_width)
            specs.append(spec)
        return specs


@dataclasses.dataclass
class ApplicationCoverage:
    """What the engine created for one application (read it after synth, or in tests)."""

    app_name: str
    #: ``(construct path of its container, construct id)`` of every alarm; the alarms are created from a
    #: template by one ``CfnInclude`` per stack (see ``_AlarmBatch``).
    alarms: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    anomaly_alarms: int = 0
    alarm_names: list[str] = dataclasses.field(default_factory=list)
    composites: list[cloudwatch.CfnCompositeAlarm] = dataclasses.field(default_factory=list)
    log_anomaly_detectors: list[logs.CfnLogAnomalyDetector] = dataclasses.field(default_factory=list)
    dashboards: list[cloudwatch.CfnDashboard] = dataclasses.field(default_factory=list)
    covered: dict[str, int] = dataclasses.field(default_factory=dict)
    uncovered: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    function_log_groups: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    functions_without_log_group: list[str] = dataclasses.field(default_factory=list)
    insights_functions: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    queries: list[logs.CfnQueryDefinition] = dataclasses.field(default_factory=list)
    billed_alarm_metrics: int = 0

    @property
    def monthly_cost(self) -> float:
        """Estimated alarm cost per month in us-east-1 (USD)."""
        return round(self.billed_alarm_metrics * PRICE_PER_ALARM_METRIC + len(self.composites) * PRICE_PER_COMPOSITE, 2)


class _App:
    def __init__(self, app_name: str) -> None:
        self.app_name = app_name
        self.scopes: list[IConstruct] = []
        self.excluded: list[str] = []
        #: Stack path -> the batch of that stack's alarms.
        self.alarm_batches: dict[str, _AlarmBatch] = {}
        #: Alarms made elsewhere that the composite names too (``CloudWatchEngine.add_alarms``): name, the
        #: alarm as given, its ``AWS::CloudWatch::Alarm``.
        self.added_alarms: list[tuple[str, Construct, cloudwatch.CfnAlarm]] = []
        self.built = False
        self.result = ApplicationCoverage(app_name)


@jsii.implements(cdk.IAspect)
class _BuildOnce:
    """Visits only its marker (a leaf), so the walk happens once per application, after the app is built."""

    def __init__(self, engine: CloudWatchEngine, app: _App) -> None:
        self._engine = engine
        self._app = app

    def visit(self, node: IConstruct) -> None:
        if not self._app.built:
            self._app.built = True
            self._engine._build(self._app)


def _stacks_under(scope: IConstruct) -> list[tuple[cdk.Stack, IConstruct]]:
    """(stack, root) pairs: the resources of ``root`` that belong to ``stack``."""
    if isinstance(scope, cdk.Stack):
        return [(scope, scope)]
    if isinstance(scope, cdk.Stage):
        return [(child, child) for child in scope.node.find_all() if isinstance(child, cdk.Stack)]
    return [(cdk.Stack.of(scope), scope)]


_UNRESOLVED_PREFIX = "${Token["  # how an unresolved CDK value starts in a string


class _AlarmBatch:
    """The alarms of one stack (for one application), created together through one ``CfnInclude``.

    Constructing an L1 from Python costs a jsii round trip per alarm, with its properties marshalled
    struct by struct; at a thousand alarms that was most of the engine's share of synth time. The batch
    writes its alarms as a small CloudFormation template and includes it, so node builds the alarms from
    the template in one call. The include is named ``Default`` and keeps no logical ids of its own
    (``preserve_logical_ids=False``): CDK leaves ``Default`` out of logical ids, so every alarm gets the id it
    would have as a direct child of ``container``. Values that hold tokens (a queue's name, a function's
    ``Ref``) go in as template parameters the include replaces with the tokens themselves.
    """

    def __init__(self, container: Construct) -> None:
        self.container = container
        self._path: str | None = None
        self._resources: dict[str, dict[str, Any]] = {}
        self._parameters: dict[str, Any] = {}
        self._parameter_of: dict[str, str] = {}

    @property
    def path(self) -> str:
        """The container's construct path (read from node once)."""
        if self._path is None:
            self._path = self.container.node.path
        return self._path

    def add(self, construct_id: str, properties: dict[str, Any]) -> None:
        if construct_id in self._resources:
            raise ValueError(f"{self.path}: two alarms named {construct_id}")
        self._resources[construct_id] = {"Type": "AWS::CloudWatch::Alarm", "Properties": self._literal(properties)}

    def _literal(self, value: Any) -> Any:
        """``value`` with every string that holds a token replaced by a ``Ref`` to a parameter."""
        if isinstance(value, str):
            if _UNRESOLVED_PREFIX not in value:
                return value
            name = self._parameter_of.get(value)
            if name is None:
                name = self._parameter_of[value] = f"EngineValue{len(self._parameter_of)}"
                self._parameters[name] = value
            return {"Ref": name}
        if isinstance(value, dict):
            return {key: self._literal(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._literal(item) for item in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        raise TypeError(f"alarm property of type {type(value).__name__} cannot be written to a template")

    def create(self) -> None:
        if not self._resources:
            return
        template = {
            "Parameters": {name: {"Type": "String"} for name in self._parameters},
            "Resources": self._resources,
        }
        handle, path = tempfile.mkstemp(prefix="cloudwatch-engine-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(json.dumps(template))  # dumps encodes in C; dump writes chunk by chunk
            # CfnInclude reads the file in its constructor; nothing refers to it afterwards.
            cfn_include.CfnInclude(
                self.container,
                "Default",
                template_file=path,
                preserve_logical_ids=False,
                parameters=self._parameters,
            )
        finally:
            os.unlink(path)
        self._resources = {}


#: Python class of an L1 -> its CloudFormation type (read once per class instead of once per resource).
_CLASS_TYPES: dict[type, str | None] = {}


def _resource_type(resource: cdk.CfnResource) -> str:
    """``resource.cfn_resource_type`` without a jsii call per resource where the class tells the type: every
    generated L1 class (``CfnQueue``...) carries ``CFN_RESOURCE_TYPE_NAME``. A plain ``CfnResource`` (or a
    class node knows and Python does not) is read from the resource itself."""
    cls = type(resource)
    if cls not in _CLASS_TYPES:
        # Declared on the class itself (a subclass that inherits the name may create any type: read per resource).
        # (jsii stores it as a class property: present in __dict__, read through the class.)
        name = getattr(cls, "CFN_RESOURCE_TYPE_NAME", None) if "CFN_RESOURCE_TYPE_NAME" in cls.__dict__ else None
        _CLASS_TYPES[cls] = name if isinstance(name, str) else None
    known = _CLASS_TYPES[cls]
    return known if known is not None else resource.cfn_resource_type


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - 9]}-{digest}"


class CloudWatchEngine(Construct):
    """Per-application CloudWatch alarms, composite alarm, log anomaly detection and dashboard.

    Put it in the stack that holds the account's notification topic; cover applications through an
    :class:`~devops_blueprints.constructs.observability.boundary.ApplicationBoundary` (or :meth:`cover`).

    :param topic: an existing standard topic for the composite alarms. Default: a new topic encrypted with a
        customer-managed key (the design of ``DevOpsGuruNotifications``), publishable only by this account's
        CloudWatch alarms.
    :param encryption_key: the key of the new topic. Default: a new key with rotation on.
    :param email_addresses: subscriptions for every application's notifications. Default: none.
    :param options: thresholds, disabled alarms, band width, log anomaly detection, dashboards,
        per-application subscriptions.
    :param alarm_actions: more actions for every composite alarm (e.g. an investigation group's ARN).
    :param tag_key: the application boundary key the engine's alarms are tagged with, like every other
        resource of the application. Default: ``devops-guru-applications``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic | None = None,
        encryption_key: kms.IKey | None = None,
        email_addresses: Sequence[str] = (),
        options: CloudWatchEngineOptions | None = None,
        alarm_actions: Sequence[str] = (),
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        tag_key: str = DEFAULT_TAG_KEY,
    ) -> None:
        super().__init__(scope, construct_id)
        validate_tag_key(tag_key)
        #: The boundary key the engine's own alarms carry (an ApplicationBoundary checks it matches its own).
        self.tag_key = tag_key
        self.options = options or CloudWatchEngineOptions()
        self.encryption_key: kms.IKey | None
        self.topic: sns.ITopic
        self.encryption_key, self.topic = notification_topic(
            self,
            topic=topic,
            encryption_key=encryption_key,
            email_addresses=email_addresses,
            display_name="Application anomalies (CloudWatch)",
            key_description="Encrypts CloudWatch engine notifications",
            removal_policy=removal_policy,
            grant=allow_cloudwatch_alarms,
        )
        for app_name, addresses in self.options.email_addresses.items():
            for address in addresses:
                self.topic.add_subscription(
                    subscriptions.EmailSubscription(
                        address,
                        filter_policy_with_message_body={
                            "AlarmName": sns.FilterOrPolicy.filter(
                                sns.SubscriptionFilter.string_filter(match_prefixes=[f"{app_name}-"])
                            )
                        },
                    )
                )
        self.alarm_actions = list(alarm_actions)
        self._apps: dict[str, _App] = {}
        self._stack_names: dict[int, str] = {}

    # -- declaring -------------------------------------------------------------------------------------

    def cover(self, scope: IConstruct, app_name: str, *, exclude: Sequence[IConstruct] = ()) -> None:
        """Cover the resources under ``scope`` as application ``app_name`` (several scopes may share one)."""
        validate_tag_values([app_name])
        if app_name == "*":
            raise ValueError('app_name must name one application, got "*"')
        app = self._apps.get(app_name)
        if app is None:
            app = self._apps[app_name] = _App(app_name)
            marker = Construct(scope, f"CloudWatchEngineMarker-{_short(app_name, 60)}")  # type: ignore[arg-type]
            # After the default-priority aspects (tags, other mutations), before read-only ones (checks).
            cdk.Aspects.of(marker).add(_BuildOnce(self, app), priority=cdk.AspectPriority.DEFAULT + 100)
        elif app.built:
            raise ValueError(f"application {app_name!r} was already built; cover every scope before synth")
        app.scopes.append(scope)
        app.excluded.extend(construct.node.path for construct in exclude)
        cdk.Tags.of(scope).add(METRICS_TAG_KEY, app_name)

    def add_alarms(self, app_name: str, alarms: Sequence[cloudwatch.Alarm | cloudwatch.CfnAlarm]) -> None:
        """Name alarms made elsewhere (e.g. ``WebAppMonitor``'s page alarms) in the composite alarm of
        application ``app_name``, which must be covered first. Each alarm needs a literal ``alarm_name``: the
        composite's rule names its alarms, and the engine splits the rule by length at synth."""
        app = self._apps.get(app_name)
        if app is None:
            raise ValueError(
                f"add_alarms: application {app_name!r} is not covered by {self.node.path}; cover() it first"
            )
        if app.built:
            raise ValueError(f"application {app_name!r} was already built; add its alarms before synth")
        for alarm in alarms:
            resource = alarm.node.default_child if isinstance(alarm, cloudwatch.Alarm) else alarm
            name = resource.alarm_name if isinstance(resource, cloudwatch.CfnAlarm) else None
            if (
                not isinstance(resource, cloudwatch.CfnAlarm)
                or not isinstance(name, str)
                or cdk.Token.is_unresolved(name)
            ):
                raise ValueError(
                    f"add_alarms: alarm {alarm.node.path} has no literal alarm_name; the composite rule of "
                    f"{app_name!r} names its alarms, so give it one"
                )
            app.added_alarms.append((name, alarm, resource))

    def cover_template(self, template: Mapping[str, Any], app_name: str, *, source: str) -> ApplicationCoverage:
        """Cover the resources of a CloudFormation ``template`` deployed as another stack (``source``, e.g. the
        stack ``tf deploy`` imports Terraform-managed resources into), from this engine's own stack.

        The resources are addressed by the physical names their literal properties hold (an imported
        resource always has them), so nothing refers across stacks. Types whose properties do not name the
        resource (an HTTP API's generated id) are listed as uncovered. Built at once, not at synth.
        """
        validate_tag_values([app_name])
        if app_name in self._apps:
            raise ValueError(f"application {app_name!r} is already covered by {self.node.path}")
        app = self._apps[app_name] = _App(app_name)
        app.built = True
        stack = cdk.Stack.of(self)
        container = Construct(self, f"Imported-{_short(app_name, 60)}")
        alarms = app.alarm_batches[stack.node.path] = _AlarmBatch(Construct(container, "Alarms"))
        result = app.result
        resources = template.get("Resources")
        if not isinstance(resources, Mapping):
            raise ValueError("template has no Resources object")
        for logical_id, resource in resources.items():
            resource_type = resource.get("Type") if isinstance(resource, Mapping) else None
            properties = resource.get("Properties", {}) if isinstance(resource, Mapping) else {}
            if not isinstance(resource_type, str) or not isinstance(properties, Mapping):
                raise ValueError(f"template resource {logical_id!r} has no Type and Properties")
            coverage = COVERAGE.get(resource_type)
            if coverage is not None:
                dimensions = coverage.literal(properties)
                if dimensions is None:
                    result.uncovered.setdefault(resource_type, []).append(f"{source}/{logical_id} (no name)")
                    continue
                self._cover_one(app, source, alarms, logical_id, coverage, dimensions)
            elif resource_type == "AWS::Logs::LogGroup" and self.options.log_anomaly_detection:
                name = properties.get("LogGroupName")
                if not isinstance(name, str):
                    result.uncovered.setdefault(resource_type, []).append(f"{source}/{logical_id} (no name)")
                    continue
                arn = stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
                self._log_anomaly_detector(app, container, logical_id, arn)
            elif not is_passive(resource_type):
                result.uncovered.setdefault(resource_type, []).append(f"{source}/{logical_id}")
        self._finish(app, container)
        return result

    def coverage(self, app_name: str) -> ApplicationCoverage:
        """What was created for ``app_name`` (complete after synth)."""
        return self._apps[app_name].result

    @property
    def applications(self) -> list[str]:
        return list(self._apps)

    # -- building (at synth, once per application) -----------------------------------------------------

    def _build(self, app: _App) -> None:
        engine_stack = cdk.Stack.of(self)
        result = app.result
        home: cdk.Stack | None = None
        containers: dict[str, Construct] = {}
        # Keyed by id() with the proxy as value: holding the object keeps its id from being reused.
        seen: dict[int, IConstruct] = {}
        for scope in app.scopes:
            for stack, root in _stacks_under(scope):
                self._check_environment(engine_stack, stack, app.app_name)
                if home is None:
                    home = stack
                container = containers.get(stack.node.path)
                if container is None:
                    container = containers[stack.node.path] = Construct(
                        stack, f"CloudWatchEngine-{_short(app.app_name, 60)}"
                    )
                    if stack is not home:
                        home.add_stack_dependency(stack, f"composite alarm of {app.app_name} names its alarms")
                self._cover_resources(app, stack, root, container, seen)
        for stack_path, container in containers.items():
            log_groups = result.function_log_groups.get(stack_path, [])
            if self.options.lambda_error_queries and log_groups:
                queries = LambdaErrorQueries(
                    container,
                    "LambdaErrorQueries",
                    # A query name is folder/app/query: a "/" in the application name would add a level.
                    app_name=app.app_name.replace("/", "-"),
                    function_log_groups=log_groups,
                    insights_function_names=result.insights_functions.get(stack_path, []),
                )
                result.queries.extend(queries.query_definitions)
        if home is not None:
            self._finish(app, containers[home.node.path])

    def _finish(self, app: _App, container: Construct) -> None:
        """The application-level part, in ``container``: composite alarm(s), dashboard, annotations."""
        for batch in app.alarm_batches.values():
            batch.create()
        home = cdk.Stack.of(container)
        for name, alarm, resource in app.added_alarms:
            app.result.alarm_names.append(name)
            app.result.billed_alarm_metrics += billed_metric_count(resource)
            stack = cdk.Stack.of(alarm)
            if stack is not home:
                home.add_stack_dependency(stack, f"composite alarm of {app.app_name} names its alarms")
        self._composites(app, container)
        if self.options.dashboards and app.result.alarm_names:
            self._dashboard(app, container)
        self._annotate(app, container)

    @staticmethod
    def _check_environment(engine_stack: cdk.Stack, stack: cdk.Stack, app_name: str) -> None:
        for attribute in ("account", "region"):
            mine, theirs = getattr(engine_stack, attribute), getattr(stack, attribute)
            if cdk.Token.is_unresolved(mine) != cdk.Token.is_unresolved(theirs) or (
                not cdk.Token.is_unresolved(mine) and mine != theirs
            ):
                raise ValueError(
                    f"application {app_name!r}: stack {stack.node.path} is in {attribute} {theirs!r} but the "
                    f"CloudWatch engine {engine_stack.node.path} is in {mine!r}; give that environment an engine "
                    "of its own (alarms notify a topic in their own account and region)"
                )

    def _cover_resources(
        self, app: _App, stack: cdk.Stack, root: IConstruct, container: Construct, seen: dict[int, IConstruct]
    ) -> None:
        # Every jsii call costs a round trip to node: the walk reads only what it needs (type checks are
        # Python-side; paths only when something must be compared by path).
        result = app.result
        nodes = root.node.find_all()
        nested = [node.node.path + "/" for node in nodes if isinstance(node, cdk.Stack) and node is not stack]
        resources: list[cdk.CfnResource] = []
        for node in nodes:
            if not isinstance(node, cdk.CfnResource) or id(node) in seen:
                continue
            if nested or app.excluded:
                path = node.node.path
                if any(path.startswith(prefix) for prefix in nested):
                    continue
                if any(path == excluded or path.startswith(excluded + "/") for excluded in app.excluded):
                    continue
            seen[id(node)] = node
            resources.append(node)
        typed = [(resource, _resource_type(resource)) for resource in resources]
        stack_path = stack.node.path
        dead_letter_targets = self._dead_letter_targets(stack, typed)
        for resource, resource_type in typed:
            coverage = COVERAGE.get(resource_type)
            if coverage is not None:
                logical_id = stack.get_logical_id(resource)
                extra = [DEAD_LETTER_ALARM] if logical_id in dead_letter_targets else []
                if self.options.alarms_for(coverage, extra):
                    alarms = app.alarm_batches.get(stack_path)
                    if alarms is None:
                        alarms = app.alarm_batches[stack_path] = _AlarmBatch(Construct(container, "Alarms"))
                    self._cover_one(app, stack, alarms, logical_id, coverage, coverage.dimensions(resource), extra)
                if resource_type == "AWS::Lambda::Function":
                    self._function_logs(app, stack, stack_path, resource)
            elif resource_type == "AWS::Logs::LogGroup":
                if self.options.log_anomaly_detection:
                    logical_id = stack.get_logical_id(resource)
                    self._log_anomaly_detector(app, container, logical_id, resource.get_att("Arn").to_string())
            elif not is_passive(resource_type):
                result.uncovered.setdefault(resource_type, []).append(resource.node.path)

    def _cover_one(
        self,
        app: _App,
        stack: cdk.Stack | str,
        alarms: _AlarmBatch,
        logical_id: str,
        coverage: TypeCoverage,
        dimensions: Mapping[str, Any],
        extra: Sequence[AlarmSpec] = (),
    ) -> None:
        """The alarms of one resource of a covered type (none when the options disable them all)."""
        specs = self.options.alarms_for(coverage, extra)
        if not specs:
            return
        dims = [{"Name": key, "Value": value} for key, value in dimensions.items()]
        for spec in specs:
            self._alarm(app, stack, alarms, logical_id, coverage.namespace, dims, spec)
        covered = app.result.covered
        covered[coverage.resource_type] = covered.get(coverage.resource_type, 0) + 1

    @staticmethod
    def _log_anomaly_detector(app: _App, container: Construct, logical_id: str, log_group_arn: str) -> None:
        # CreateLogAnomalyDetector takes one log group ARN ("You can specify only one log group ARN",
        # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogAnomalyDetector.html):
        # one detector per log group, not one per application.
        app.result.log_anomaly_detectors.append(
            logs.CfnLogAnomalyDetector(
                container,
                f"LogAnomalies{logical_id}",
                log_group_arn_list=[log_group_arn],
                evaluation_frequency="FIFTEEN_MIN",
                anomaly_visibility_time=21,
            )
        )

    @staticmethod
    def _dead_letter_targets(stack: cdk.Stack, resources: Sequence[tuple[cdk.CfnResource, str]]) -> set[str]:
        """Logical ids of the queues another queue of the stack names as its dead-letter queue."""
        targets: set[str] = set()
        for resource, resource_type in resources:
            if resource_type != "AWS::SQS::Queue":
                continue
            redrive = getattr(resource, "redrive_policy", None)
            if redrive is None:
                continue
            resolved = stack.resolve(redrive)
            arn = resolved.get("deadLetterTargetArn") if isinstance(resolved, dict) else None
            if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                targets.add(arn["Fn::GetAtt"][0])
        return targets

    def _function_logs(self, app: _App, stack: cdk.Stack, stack_path: str, function: cdk.CfnResource) -> None:
        logging_config = stack.resolve(getattr(function, "logging_config", None))
        log_group = logging_config.get("logGroup") if isinstance(logging_config, dict) else None
        if log_group is None:
            app.result.functions_without_log_group.append(function.node.path)
            return
        app.result.function_log_groups.setdefault(stack_path, []).append(
            log_group if isinstance(log_group, str) else cdk.Token.as_string(log_group)
        )
        layers = stack.resolve(getattr(function, "layers", None)) or []
        # The Insights extension is a layer: LambdaInsightsExtension by ARN, or aws-cdk-lib's per-region map of
        # its ARNs (CloudwatchlambdainsightsversionMap) when the version is given as LambdaInsightsVersion.
        if any("lambdainsights" in json.dumps(layer).lower() for layer in layers):
            app.result.insights_functions.setdefault(stack_path, []).append(function.ref)

    def _alarm(
        self,
        app: _App,
        stack: cdk.Stack | str,
        batch: _AlarmBatch,
        logical_id: str,
        namespace: str,
        dimensions: list[dict[str, str]],
        spec: AlarmSpec,
    ) -> None:
        stack_name = stack if isinstance(stack, str) else self._stack_name(stack)
        name = _short(f"{app.app_name}-{stack_name}-{logical_id}-{spec.name}", MAX_ALARM_NAME)
        metrics: list[dict[str, Any]] = []
        for metric in spec.metrics:
            metric_name, statistic = metric.definition()
            metrics.append(
                {
                    "Id": metric.id,
                    "MetricStat": {
                        "Metric": {"Namespace": namespace, "MetricName": metric_name, "Dimensions": dimensions},
                        "Period": spec.period_seconds,
                        "Stat": statistic,
                    },
                    # The alarm evaluates what is returned: the metric itself, or the expression over the metrics.
                    "ReturnData": spec.expression is None,
                }
            )
        properties: dict[str, Any] = {
            "AlarmName": name,
            "AlarmDescription": f"{spec.description} ({app.app_name}: {stack_name}/{logical_id})",
            "EvaluationPeriods": spec.evaluation_periods,
            "DatapointsToAlarm": spec.datapoints_to_alarm,
            "TreatMissingData": "notBreaching",
            "Metrics": metrics,
            # Plain CfnResources have no tag manager: the boundary's tags are written here.
            "Tags": [{"Key": self.tag_key, "Value": app.app_name}, {"Key": METRICS_TAG_KEY, "Value": app.app_name}],
        }
        if spec.kind == "anomaly":
            band = f"ANOMALY_DETECTION_BAND({spec.metrics[0].id}, {spec.band_width:g})"
            metrics.append({"Id": "band", "Expression": band, "ReturnData": True})
            properties["ThresholdMetricId"] = "band"
            properties["ComparisonOperator"] = (
                "LessThanLowerOrGreaterThanUpperThreshold" if spec.both_sides else "GreaterThanUpperThreshold"
            )
        else:
            if spec.expression is not None:
                metrics.append({"Id": "result", "Expression": spec.expression, "Label": spec.name, "ReturnData": True})
            properties["Threshold"] = spec.threshold
            properties["ComparisonOperator"] = spec.operator
        construct_id = f"{logical_id}{spec.name}"
        batch.add(construct_id, properties)
        result = app.result
        result.alarms.append((batch.path, construct_id))
        result.alarm_names.append(name)
        result.anomaly_alarms += spec.kind == "anomaly"
        result.billed_alarm_metrics += spec.metric_count

    def _stack_name(self, stack: cdk.Stack) -> str:
        """The stack's name, read from node once per stack (every jsii read is a round trip)."""
        name = self._stack_names.get(id(stack))
        if name is None:
            name = self._stack_names[id(stack)] = stack.stack_name
        return name

    def _composites(self, app: _App, container: Construct) -> None:
        result = app.result
        if not result.alarm_names:
            return
        chunks = _rule_chunks(result.alarm_names)
        actions = [self.topic.topic_arn, *self.alarm_actions]
        top_name = _short(f"{app.app_name}-anomalous", MAX_ALARM_NAME)
        description = f"Application {app.app_name} is anomalous: one of its alarms is in ALARM"
        # Past one rule's limits, part composites hold the alarms and the top composite names the parts.
        parts: list[cloudwatch.CfnCompositeAlarm] = []
        part_names: list[str] = []
        if len(chunks) > 1:
            for index, chunk in enumerate(chunks, start=1):
                part_names.append(_short(f"{app.app_name}-anomalous-part-{index}", MAX_ALARM_NAME))
                part = cloudwatch.CfnCompositeAlarm(
                    container,
                    f"AnomalousPart{index}",
                    alarm_name=part_names[-1],
                    alarm_rule=_rule(chunk),
                    alarm_description=f"{description} (part {index} of {len(chunks)})",
                )
                self._depend_on_alarms(app, part)
                parts.append(part)
        top = cloudwatch.CfnCompositeAlarm(
            container,
            "Anomalous",
            alarm_name=top_name,
            alarm_rule=_rule(part_names or chunks[0]),
            alarm_description=description,
            alarm_actions=actions,
            ok_actions=[self.topic.topic_arn],
        )
        if parts:
            for part in parts:
                top.node.add_dependency(part)
        else:
            self._depend_on_alarms(app, top)
        result.composites.extend([*parts, top])

    @staticmethod
    def _depend_on_alarms(app: _App, composite: Construct) -> None:
        # A composite rule may only name alarms that exist: those of the home stack come first through this
        # dependency (on the container of its alarms), those of other stacks through the stack dependency.
        stack = cdk.Stack.of(composite)
        home_alarms = app.alarm_batches.get(stack.node.path)
        if home_alarms is not None:
            composite.node.add_dependency(home_alarms.container)
        for _name, alarm, _resource in app.added_alarms:
            if cdk.Stack.of(alarm) is stack:
                composite.node.add_dependency(alarm)

    def _dashboard(self, app: _App, container: Construct) -> None:
        result = app.result
        stack = cdk.Stack.of(container)
        prefix = f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:"  # read once
        alarm_arns = [prefix + name for name in result.alarm_names]
        widgets: list[dict[str, Any]] = [
            {
                "type": "alarm",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 6,
                "properties": {"title": f"{app.app_name}: alarms", "alarms": alarm_arns[:100]},
            }
        ]
        for index, (title, query) in enumerate(_insights_queries(app.app_name, result.covered)):
            widgets.append(
                {
                    "type": "metric",
                    "x": (index % 2) * 12,
                    "y": 6 + (index // 2) * 6,
                    "width": 12,
                    "height": 6,
                    "properties": {
                        "title": title,
                        "region": stack.region,
                        "view": "timeSeries",
                        "stat": "Sum",
                        "period": 300,
                        "metrics": [[{"expression": query, "id": "q1", "label": title}]],
                    },
                }
            )
        result.dashboards.append(
            cloudwatch.CfnDashboard(
                container,
                "Dashboard",
                dashboard_name=_short(re.sub(r"[^A-Za-z0-9_-]", "-", app.app_name), 255),
                dashboard_body=stack.to_json_string({"widgets": widgets}),
            )
        )

    def _annotate(self, app: _App, container: Construct) -> None:
        result = app.result
        anomaly = result.anomaly_alarms
        cdk.Annotations.of(container).add_info(
            f"CloudWatch engine, application {app.app_name}: {len(result.alarms)} alarms ({anomaly} anomaly-"
            f"detection models, {len(result.alarms) - anomaly} static)"
            + (f" and {len(app.added_alarms)} added with add_alarms" if app.added_alarms else "")
            + f", {len(result.composites)} composite, "
            f"{len(result.log_anomaly_detectors)} log anomaly detectors, {len(result.queries)} saved queries; about ${result.monthly_cost:.2f}/month "
            "for alarms (us-east-1 prices)"
        )
        if result.uncovered:
            listed = "; ".join(
                f"{resource_type} x{len(paths)} ({', '.join(paths[:3])}{', ...' if len(paths) > 3 else ''})"
                for resource_type, paths in sorted(result.uncovered.items())
            )
            cdk.Annotations.of(container).add_warning_v2(
                "devops-blueprints:cloudwatchEngineUncovered",
                f"CloudWatch engine, application {app.app_name}: no alarms for these resource types: {listed}",
            )
        if result.functions_without_log_group:
            cdk.Annotations.of(container).add_warning_v2(
                "devops-blueprints:cloudwatchEngineNoLogGroup",
                f"CloudWatch engine, application {app.app_name}: functions without a log group resource (their "
                "logs are in no saved query or anomaly detector): " + ", ".join(result.functions_without_log_group),
            )


def _rule(names: Sequence[str]) -> str:
    return " OR ".join(f'ALARM("{name}")' for name in names)


def _rule_chunks(names: Sequence[str]) -> list[list[str]]:
    """Consecutive groups of names whose rule fits CloudWatch's limits (characters and alarm count)."""
    chunks: list[list[str]] = [[]]
    length = 0
    for name in names:
        term = len(f'ALARM("{name}")')
        added = term if not chunks[-1] else term + len(" OR ")
        if chunks[-1] and (length + added > MAX_RULE_LENGTH or len(chunks[-1]) >= MAX_RULE_ALARMS):
            chunks.append([])
            length, added = 0, term
        chunks[-1].append(name)
        length += added
    return chunks


#: Metrics Insights queries for the dashboard, by covered type (what "top N" means for that service).
_INSIGHTS: dict[str, tuple[str, str, str, str]] = {
    "AWS::Lambda::Function": ("Top functions by errors", "Errors", "AWS/Lambda", "FunctionName"),
    "AWS::SQS::Queue": ("Oldest message age (s)", "ApproximateAgeOfOldestMessage", "AWS/SQS", "QueueName"),
    "AWS::DynamoDB::Table": ("Top tables by write throttles", "WriteThrottleEvents", "AWS/DynamoDB", "TableName"),
    "AWS::ECS::Service": ("Top services by memory", "MemoryUtilization", "AWS/ECS", "ServiceName"),
    "AWS::StepFunctions::StateMachine": ("Failed executions", "ExecutionsFailed", "AWS/States", "StateMachineArn"),
}


_INSIGHTS_QUERY = (
    'SELECT {aggregate}({metric}) FROM SCHEMA("{namespace}", {dimension}) '
    "WHERE tag.{key} = '{app}' GROUP BY {dimension} ORDER BY {aggregate}() DESC LIMIT 10"
)


def _insights_queries(app_name: str, covered: Mapping[str, int]) -> list[tuple[str, str]]:
    """CloudWatch Metrics Insights (SQL) queries over the application's resources, selected by the engine's
    tag (``WHERE tag.<key> = 'value'``, "Query components and syntax in CloudWatch Metrics Insights",
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html;
    tag filters need the account's "resource tags for telemetry" turned on)."""
    function = {"AWS::ECS::Service": "AVG", "AWS::SQS::Queue": "MAX"}
    queries = []
    for resource_type, (title, metric, namespace, dimension) in _INSIGHTS.items():
        if resource_type not in covered:
            continue
        aggregate = function.get(resource_type, "SUM")
        # A CloudWatch Metrics Insights query, not SQL run on a database; app_name is a validated tag value
        # (no quotes), the rest are this module's constants.
        query = _INSIGHTS_QUERY.format(  # nosec B608
            aggregate=aggregate,
            metric=metric,
            namespace=namespace,
            dimension=dimension,
            key=METRICS_TAG_KEY,
            app=app_name,
        )
        queries.append((title, query))
    return queries

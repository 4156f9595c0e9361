"""AWS DevOps Agent: an Agent Space that investigates this account, with the applications it should look at.

Model (CloudFormation ``AWS::DevOpsAgent::AgentSpace`` and ``AWS::DevOpsAgent::Association``; the
template follows the DevOps Agent user guide, "Getting started with AWS DevOps Agent using AWS
CloudFormation", https://docs.aws.amazon.com/devopsagent/latest/userguide/
getting-started-with-aws-devops-agent-getting-started-with-aws-devops-agent-using-aws-cloudformation.html):

- an **Agent Space** holds the agent's configuration and what it learns; its operator web app is reached
  through an IAM role the service assumes for the app's users;
- an **Association** links the space to one *service*. For this account that is service ``aws`` with an
  ``Aws`` configuration of account type ``monitor`` and a role the agent assumes to read the account.
  ``AssociateService`` "overwrites the existing association of the same service", so a space has ONE
  monitor association for the account. It has no per-application resource: what narrows the agent to
  applications is the association's ``Tags`` ("used to identify resources for topology crawl",
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/
  aws-properties-devopsagent-association-awsconfiguration.html). So an application maps to one
  key/value pair there: the application boundary's tag key and the application's name, the tag that
  ``include(scope, app_name)`` puts on the application's resources.

The service exists in a few regions only; a space elsewhere is refused at synth (see
``DEVOPS_AGENT_REGIONS``). The agent still investigates resources of the account in every region.
"""

from __future__ import annotations

import re
import unicodedata

import aws_cdk as cdk
from aws_cdk import aws_devopsagent as devopsagent
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from devops_blueprints.constructs._regions import region_rule
from devops_blueprints.constructs.app_boundary import DEFAULT_TAG_KEY, validate_tag_key, validate_tag_values
from devops_blueprints.constructs.observability._service_role import service_role

#: Regions where AWS DevOps Agent is available ("Supported Regions" in the DevOps Agent user guide,
#: https://docs.aws.amazon.com/devopsagent/latest/userguide/about-aws-devops-agent-supported-regions.html:
#: US East (N. Virginia), US West (Oregon), Asia Pacific (Sydney), Asia Pacific (Tokyo), Europe (Frankfurt),
#: Europe (Ireland)).
DEVOPS_AGENT_REGIONS: frozenset[str] = frozenset(
    {"us-east-1", "us-west-2", "ap-southeast-2", "ap-northeast-1", "eu-central-1", "eu-west-1"}
)

_SERVICE_PRINCIPAL = "aidevops.amazonaws.com"
# The role the agent assumes to read the account and the operator web app's role, as the user guide's
# CloudFormation template attaches them.
_AGENT_MANAGED_POLICY = "AIDevOpsAgentAccessPolicy"
_OPERATOR_MANAGED_POLICY = "AIDevOpsOperatorAppAccessPolicy"
# AWS::DevOpsAgent::AgentSpace Name and Description (resource schema): 1-255 / 1-1000 characters of the
# Unicode categories letter, number, punctuation, symbol, separator (``[\p{L}\p{N}\p{P}\p{S}\p{Z}]+``).
_TEXT_CATEGORIES = frozenset("LNPSZ")
_NAME_MAX = 255
_DESCRIPTION_MAX = 1000
# AWS::DevOpsAgent::Association KeyValuePair: Key and Value 1-512 characters of ``[\p{L}\p{Z}\p{N}_.:/=+\-@]``.
_KV_MAX = 512
_KV_PATTERN = re.compile(r"^[\w .:/=+\-@]+$")


class DevOpsAgentRegionError(ValueError):
    """An Agent Space in a region where AWS DevOps Agent does not exist."""


def _check_text(value: str, prop: str, maximum: int) -> None:
    if cdk.Token.is_unresolved(value):
        return
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{prop} must be a non-empty string, got {value!r}")
    if len(value) > maximum:
        raise ValueError(f"{prop} must be at most {maximum} characters, got {len(value)}")
    if not all(unicodedata.category(ch)[0] in _TEXT_CATEGORIES for ch in value):
        raise ValueError(f"{prop} must not contain control or format characters, got {value!r}")


def _check_region(scope: Construct) -> None:
    region = cdk.Stack.of(scope).region
    if cdk.Token.is_unresolved(region):
        return
    if region not in DEVOPS_AGENT_REGIONS:
        raise DevOpsAgentRegionError(
            f"AWS DevOps Agent is not available in {region}: put DevOpsAgentSpace {scope.node.path} in a stack of "
            f"one of {', '.join(sorted(DEVOPS_AGENT_REGIONS))} (the agent still investigates every region of the "
            "account)"
        )


class DevOpsAgentSpace(Construct):
    """An AWS DevOps Agent Space that monitors this account, with its operator web app (IAM sign-in).

    Creates, unless given: the role the agent assumes to read the account (trusted by
    ``aidevops.amazonaws.com`` for this account's agent spaces only; the AWS managed
    ``AIDevOpsAgentAccessPolicy`` plus creating the Resource Explorer service-linked role), and the operator
    web app's role (same trust, ``AIDevOpsOperatorAppAccessPolicy``). Then the Agent Space and ONE monitor
    association for this account; :meth:`associate_application` narrows it to applications.

    In a stack whose region is known, a region outside :data:`DEVOPS_AGENT_REGIONS` fails synth with
    :class:`DevOpsAgentRegionError`. In an environment-agnostic stack the construct adds a synth warning and a
    template rule, so a deployment to another region fails before anything is created.

    :param name: the Agent Space name (1-255 characters).
    :param description: the Agent Space description (1-1000 characters). Default: none.
    :param agent_role: an existing role for the agent to assume in this account. Default: a new role as above.
        Its trust and permissions are yours to manage.
    :param operator_role: an existing role for the operator web app. Default: a new role as above.
    :param encryption_key: a customer managed key for the space's data at rest (``KmsKeyArn``; cannot be changed
        after creation). Default: an AWS owned key. The key policy must let AWS DevOps Agent use the key; this
        construct adds no statement to it.
    :param locale: the language of the agent's answers, e.g. ``en`` or ``ja-JP``. Default: the service default.
    :param tag_key: the application boundary's tag key that :meth:`associate_application` narrows the agent
        with. Default: ``DEFAULT_TAG_KEY`` (the key ``include()`` tags resources with).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str | None = None,
        agent_role: iam.IRole | None = None,
        operator_role: iam.IRole | None = None,
        encryption_key: kms.IKey | None = None,
        locale: str | None = None,
        tag_key: str = DEFAULT_TAG_KEY,
    ) -> None:
        super().__init__(scope, construct_id)
        _check_text(name, "name", _NAME_MAX)
        if description is not None:
            _check_text(description, "description", _DESCRIPTION_MAX)
        if (
            locale is not None
            and not cdk.Token.is_unresolved(locale)
            and (not re.fullmatch(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*", locale) or len(locale) > 35)
        ):
            raise ValueError(f"locale must be a language tag such as 'en' or 'ja-JP', got {locale!r}")
        validate_tag_key(tag_key)
        _check_region(self)
        self._guard_unknown_region()

        stack = cdk.Stack.of(self)
        self.tag_key = tag_key
        self.agent_role: iam.IRole = agent_role or self._new_role(
            "AgentRole",
            "Assumed by AWS DevOps Agent to investigate this account",
            _AGENT_MANAGED_POLICY,
            actions=["sts:AssumeRole"],
        )
        if agent_role is None and isinstance(self.agent_role, iam.Role):
            # The agent discovers resources with Resource Explorer and creates its service-linked role.
            self.agent_role.add_to_policy(
                iam.PolicyStatement(
                    sid="AllowCreateResourceExplorerServiceLinkedRole",
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[
                        f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/"
                        "resource-explorer-2.amazonaws.com/AWSServiceRoleForResourceExplorer"
                    ],
                )
            )
        self.operator_role: iam.IRole = operator_role or self._new_role(
            "OperatorRole",
            "Assumed by AWS DevOps Agent for the users of the Agent Space's operator web app",
            _OPERATOR_MANAGED_POLICY,
            actions=["sts:AssumeRole", "sts:TagSession"],
        )

        self.encryption_key = encryption_key
        self.agent_space = devopsagent.CfnAgentSpace(
            self,
            "Resource",
            name=name,
            description=description,
            kms_key_arn=encryption_key.key_arn if encryption_key is not None else None,
            locale=locale,
            operator_app=devopsagent.CfnAgentSpace.OperatorAppProperty(
                iam=devopsagent.CfnAgentSpace.IamAuthConfigurationProperty(
                    operator_app_role_arn=self.operator_role.role_arn
                )
            ),
        )
        # The service checks the roles when the space is created: create them (and their policies) first.
        for role in (self.agent_role, self.operator_role):
            self.agent_space.node.add_dependency(role)

        self._applications: dict[str, str] = {}
        self.association = devopsagent.CfnAssociation(
            self,
            "MonitorAssociation",
            agent_space_id=self.agent_space.attr_agent_space_id,
            service_id="aws",
            configuration=devopsagent.CfnAssociation.ServiceConfigurationProperty(
                aws=devopsagent.CfnAssociation.AWSConfigurationProperty(
                    account_id=stack.account,
                    account_type="monitor",
                    assumable_role_arn=self.agent_role.role_arn,
                )
            ),
        )

    @property
    def agent_space_id(self) -> str:
        return self.agent_space.attr_agent_space_id

    @property
    def agent_space_arn(self) -> str:
        return self.agent_space.attr_arn

    @property
    def applications(self) -> list[str]:
        """The applications the agent is narrowed to, in the order they were associated."""
        return list(self._applications)

    def cover(self, scope: IConstruct, app_name: str) -> None:
        """The engine side of ``ApplicationBoundary.include``: the agent looks at ``app_name`` (once, however
        many scopes the application has)."""
        if app_name not in self._applications:
            self.associate_application(app_name)

    def associate_application(self, app_name: str) -> devopsagent.CfnAssociation:
        """Point the agent at one application of the boundary: its resources carry ``tag_key=app_name``.

        Adds the pair to the monitor association's ``Tags`` (the agent's topology crawl); without any
        application the agent looks at the whole account. Returns that association.
        """
        if cdk.Token.is_unresolved(app_name):
            raise ValueError("app_name must be a literal application name, got an unresolved token")
        if not isinstance(app_name, str) or not app_name:
            raise ValueError(f"app_name must be a non-empty string, got {app_name!r}")
        if app_name == "*":
            raise ValueError('app_name must name one application, got "*"')
        try:
            validate_tag_values([app_name])
        except ValueError as error:
            raise ValueError(f"app_name {app_name!r} is not a valid tag value: {error}") from None
        if len(app_name) > _KV_MAX or not _KV_PATTERN.match(app_name):
            raise ValueError(f"app_name {app_name!r} has characters an association tag value cannot hold")
        if app_name in self._applications:
            raise ValueError(f"application {app_name!r} is already associated with {self.node.path}")
        self._applications[app_name] = self.tag_key
        self.association.add_property_override(
            "Configuration.Aws.Tags", [{"Key": key, "Value": app} for app, key in self._applications.items()]
        )
        return self.association

    def _new_role(self, construct_id: str, description: str, managed_policy: str, *, actions: list[str]) -> iam.Role:
        stack = cdk.Stack.of(self)
        return service_role(
            self,
            construct_id,
            service=_SERVICE_PRINCIPAL,
            # Only agent spaces of this account, in this region, may assume it.
            source_arn=f"arn:{stack.partition}:aidevops:{stack.region}:{stack.account}:agentspace/*",
            managed_policy=managed_policy,
            description=description,
            reason=(
                f"{managed_policy} is the permission set the AWS DevOps Agent user guide attaches to this role; "
                "AWS keeps it in step with the agent's features, a hand-written copy would fall behind"
            ),
            session_tags="sts:TagSession" in actions,
        )

    def _guard_unknown_region(self) -> None:
        stack = cdk.Stack.of(self)
        if not cdk.Token.is_unresolved(stack.region):
            return
        cdk.Annotations.of(self).add_warning_v2(
            "devops-blueprints:devopsAgentRegionUnknown",
            "the stack's region is not known at synth; AWS DevOps Agent exists only in "
            f"{', '.join(sorted(DEVOPS_AGENT_REGIONS))}: a template rule refuses a deployment elsewhere",
        )
        region_rule(
            self,
            "RegionRule",
            DEVOPS_AGENT_REGIONS,
            f"AWS DevOps Agent is not available in this region; deploy to one of {', '.join(sorted(DEVOPS_AGENT_REGIONS))}",
        )

"""Service control policies and the organization's OU tree, checked before anything is attached.

* :class:`ServiceControlPolicy` — one ``AWS::Organizations::Policy`` (type SERVICE_CONTROL_POLICY)
  whose document is linted when the construct is created: an error finding fails synth with the
  finding; warnings become annotations.
* :class:`OrganizationGuardrails` — the OU tree (Security, Infrastructure, Workloads, Sandbox,
  Suspended, PolicyStaging, Exceptions) under the organization root, the catalog SCPs attached where
  the source article recommends, and a check of the per-target attachment quota (FullAWSAccess counts).

Deploy in the organization's management account (Organizations is a global service; us-east-1).
The logic lives in :mod:`devops_blueprints.guardrails`; these constructs only wire it into CDK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_organizations as organizations
from constructs import Construct, IValidation

from devops_blueprints.guardrails import catalog
from devops_blueprints.guardrails.linter import ERROR, Finding, Limits, check_attachments, lint_document, lint_text

PLACEHOLDER_ROOT_ID = "r-xxxx"
FULL_AWS_ACCESS = "FullAWSAccess"
ROOT_ID_PATTERN = re.compile(r"^r-[0-9a-z]{4,32}$")
_OU_NAME = re.compile(r"^[A-Za-z0-9][\w .-]{0,127}$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _has_tokens(value: Any) -> bool:
    if isinstance(value, str):
        return cdk.Token.is_unresolved(value)
    if isinstance(value, Mapping):
        return any(_has_tokens(k) or _has_tokens(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_tokens(v) for v in value)
    return False


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


class ServiceControlPolicy(Construct):
    """An SCP, linted at synth.

    :param document: the policy, as a dict or as JSON text.
    :param policy_name: the name in AWS Organizations. Default: a name unique to this construct's path.
    :param description: Default: none.
    :param target_ids: root, OU or account ids to attach to. Default: none (use :meth:`attach`).
    :param limits: the size quota to lint against. Default: ``Limits()`` (10,240 characters);
        ``Limits.legacy()`` for 5,120.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        document: Mapping[str, Any] | str,
        policy_name: str | None = None,
        description: str | None = None,
        target_ids: Sequence[str] = (),
        limits: Limits | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.limits = limits or Limits()
        where = self.node.path
        if isinstance(document, str):
            findings = lint_text(document, where, self.limits)
            if any(f.code == "invalid-json" for f in findings):
                raise ValueError(f"ServiceControlPolicy document: {findings[0]}")
            parsed: Any = json.loads(document)
        else:
            parsed = json.loads(json.dumps(document))  # a plain, private copy
            findings = None
        if _has_tokens(parsed):
            findings = []
            cdk.Annotations.of(self).add_warning_v2(
                "devops-blueprints:scp-not-linted",
                "the SCP document contains unresolved tokens, so it was not linted",
            )
        elif findings is None:
            findings = lint_document(parsed, where, self.limits)
        errors = [f for f in findings if f.severity == ERROR]
        if errors:
            raise ValueError(
                f"ServiceControlPolicy document fails lint ({len(errors)} error(s)): "
                + "; ".join(str(f) for f in errors)
            )
        for finding in findings:
            cdk.Annotations.of(self).add_warning_v2(f"devops-blueprints:scp-{finding.code}", str(finding))
        if policy_name is not None and not cdk.Token.is_unresolved(policy_name) and not 1 <= len(policy_name) <= 128:
            raise ValueError(f"policy_name must be 1-128 characters, got {policy_name!r}")

        self.document: Mapping[str, Any] = parsed
        self.findings: tuple[Finding, ...] = tuple(findings)
        self._targets: list[str] = []
        self.resource = organizations.CfnPolicy(
            self,
            "Resource",
            content=parsed,
            name=policy_name or cdk.Names.unique_resource_name(self, max_length=128, separator="-"),
            type="SERVICE_CONTROL_POLICY",
            description=description,
        )
        for target in target_ids:
            self.attach(target)

    @property
    def policy_id(self) -> str:
        return self.resource.attr_id

    @property
    def policy_arn(self) -> str:
        return self.resource.attr_arn

    @property
    def target_ids(self) -> tuple[str, ...]:
        return tuple(self._targets)

    def attach(self, target_id: str) -> None:
        """Attach to a root (``r-...``), an OU (``ou-...``, or an OU's ``attr_id``) or an account id."""
        if target_id in self._targets:
            raise ValueError(f"{self.node.path} is already attached to {target_id}")
        self._targets.append(target_id)
        self.resource.target_ids = list(self._targets)


class OrganizationGuardrails(Construct):
    """The OU tree under the organization root with the catalog SCPs attached.

    :param root_id: the organization root id (``r-`` then 4-32 lower-case letters or digits).
        Default: the placeholder ``r-xxxx`` (a warning reminds you to pass the real one).
    :param organizational_units: OU names to create under the root. Default: Security,
        Infrastructure, Workloads, Sandbox, Suspended, PolicyStaging, Exceptions.
    :param policies: catalog policy names to create. Default: all twelve.
    :param parameters: per-policy parameter overrides, ``{"approved-regions": {"regions": [...]}}``.
        Default: the catalog defaults.
    :param attachments: per-policy attachment targets (``"Root"`` or OU names) replacing the
        catalog's recommendation. Default: where the article recommends.
    :param name_prefix: prefix of the SCP names in Organizations. Default: ``guardrails-``.
    :param limits: size and per-target quotas. Default: ``Limits()`` (10,240 characters, 10 SCPs per
        target including FullAWSAccess); ``Limits.legacy()`` for 5,120 and 5.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        root_id: str = PLACEHOLDER_ROOT_ID,
        organizational_units: Sequence[str] = catalog.OU_NAMES,
        policies: Sequence[str] | None = None,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        attachments: Mapping[str, Sequence[str]] | None = None,
        name_prefix: str = "guardrails-",
        limits: Limits | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not cdk.Token.is_unresolved(root_id) and not ROOT_ID_PATTERN.match(root_id):
            raise ValueError(
                f"root_id must look like r-ab12 (r- then 4-32 lower-case letters or digits), got {root_id!r}"
            )
        if root_id == PLACEHOLDER_ROOT_ID:
            cdk.Annotations.of(self).add_warning_v2(
                "devops-blueprints:placeholder-root-id",
                f"root_id is the placeholder {PLACEHOLDER_ROOT_ID}; pass your organization's root id "
                "(aws organizations list-roots) before deploying",
            )
        for name in organizational_units:
            if not _OU_NAME.match(name) or name == catalog.ROOT:
                raise ValueError(f"organizational_units: {name!r} is not a usable OU name (1-128 characters, not Root)")
        if len(set(organizational_units)) != len(organizational_units):
            raise ValueError(f"organizational_units has duplicates: {list(organizational_units)}")
        names = list(policies) if policies is not None else list(catalog.CATALOG)
        for name in (*names, *(parameters or {}), *(attachments or {})):
            catalog.get(name)  # one clear error for an unknown name
        for name in (*(parameters or {}), *(attachments or {})):
            if name not in names:
                raise ValueError(f"parameters/attachments name {name!r}, which policies does not include")

        self.root_id = root_id
        self.limits = limits or Limits()
        self.organizational_units: dict[str, organizations.CfnOrganizationalUnit] = {
            name: organizations.CfnOrganizationalUnit(self, _pascal(name), name=name, parent_id=root_id)
            for name in organizational_units
        }
        self.policies: dict[str, ServiceControlPolicy] = {}
        self._attachments: dict[str, list[str]] = {catalog.ROOT: [FULL_AWS_ACCESS]}
        self._attachments.update({name: [FULL_AWS_ACCESS] for name in organizational_units})
        for name in names:
            entry = catalog.get(name)
            targets = list((attachments or {}).get(name, entry.attach_to))
            self.add_policy(
                _pascal(name),
                document=entry.render(**(parameters or {}).get(name, {})),
                targets=targets,
                policy_name=f"{name_prefix}{name}",
                description=entry.title[:512],
                label=name,
            )
        self.node.add_validation(_AttachmentLimit(self))

    def target_id(self, target: str) -> str:
        """The id for ``"Root"``, an OU name of this tree or a 12-digit account id."""
        if target == catalog.ROOT:
            return self.root_id
        if target in self.organizational_units:
            return self.organizational_units[target].attr_id
        if _ACCOUNT.match(target):
            return target
        known = ", ".join([catalog.ROOT, *self.organizational_units])
        raise ValueError(f"attachment target {target!r} is not Root, one of this tree's OUs ({known}) or an account id")

    def add_policy(
        self,
        construct_id: str,
        *,
        document: Mapping[str, Any] | str,
        targets: Sequence[str],
        policy_name: str | None = None,
        description: str | None = None,
        label: str | None = None,
    ) -> ServiceControlPolicy:
        """Create an SCP (linted) and attach it to ``targets`` (``"Root"``, OU names, account ids)."""
        ids = [self.target_id(target) for target in targets]
        policy = ServiceControlPolicy(
            self, construct_id, document=document, policy_name=policy_name, description=description, limits=self.limits
        )
        for target, target_id in zip(targets, ids, strict=True):
            policy.attach(target_id)
            self._attachments.setdefault(target, [FULL_AWS_ACCESS]).append(label or construct_id)
        self.policies[label or construct_id] = policy
        return policy

    @property
    def attachments(self) -> dict[str, list[str]]:
        """Target (Root, OU name, account id) -> attached SCP names, FullAWSAccess included."""
        return {target: list(names) for target, names in self._attachments.items()}


@jsii.implements(IValidation)
class _AttachmentLimit:
    """Validation (state changes with add_policy): no target exceeds the SCPs-per-target quota."""

    def __init__(self, guardrails: OrganizationGuardrails) -> None:
        self._guardrails = guardrails

    def validate(self) -> list[str]:
        return check_attachments(self._guardrails.attachments, self._guardrails.limits)

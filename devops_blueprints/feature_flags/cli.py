"""``devops-blueprints flags list|set|deploy --deployment ID``: one deployment's feature flags in AWS AppConfig.

The flags live in the deployment's component account and region (``TenantFeatureFlags`` in the component stack:
application ``tenant-<id>-flags``, profile ``feature-flags``, environment ``<id>``, strategy
``tenant-<id>-flags-rollout``); credentials and region come from the usual AWS environment (``AWS_PROFILE``,
``AWS_DEFAULT_REGION``, ...).

* ``list`` prints the flags of the latest hosted version (or ``--version N``).
* ``set --flag KEY [--on|--off] [--attribute NAME=VALUE ...]`` checks the change locally against the flag's
  declared attribute types and constraints (and AppConfig's schema) and only then creates a new hosted version
  (``LatestVersionNumber`` guards against a concurrent edit). Values are read by the attribute's type: a string
  as given, a number, ``true``/``false``, or a JSON array.
* ``deploy [--version N]`` starts a deployment of the latest (or given) version to the deployment's environment
  and shows its progress until it is COMPLETE (exit 0) or ROLLED_BACK (exit 1, with AppConfig's reason).

Bad input is one line on stderr and exit 2, before anything is written.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

from devops_blueprints._text import printable
from devops_blueprints.cli import CliError, add_group, call_aws
from devops_blueprints.feature_flags.model import (
    FlagDocumentError,
    validate_document,
    with_value,
)
from devops_blueprints.feature_flags.names import FlagNames

_DEPLOYMENT_ID = re.compile(r"[a-z][a-z0-9-]{0,30}")
_FLAG_KEY = re.compile(r"[a-z][a-zA-Z\d_-]{0,63}")
#: Deployment states (https://docs.aws.amazon.com/appconfig/2019-10-09/APIReference/API_GetDeployment.html).
FINAL_STATES = {"COMPLETE": 0, "ROLLED_BACK": 1, "REVERTED": 1}
MAX_ATTRIBUTES = 25


def _client() -> Any:
    """The AppConfig client (tests replace this)."""
    from devops_blueprints._aws import AwsSetupError, client

    try:
        return client("appconfig")
    except AwsSetupError as exc:
        raise CliError(str(exc)) from None


def _check_deployment(value: str) -> FlagNames:
    if not _DEPLOYMENT_ID.fullmatch(value):
        raise CliError(f"--deployment must match ^[a-z][a-z0-9-]{{0,30}}$, got {value!r}")
    return FlagNames(value)


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        kwargs = {**params, **({"NextToken": token} if token else {})}
        response = call_aws(operation, functools.partial(getattr(client, operation), **kwargs))
        yield from response.get(key, [])
        token = response.get("NextToken")
        if not token:
            return


def _find(client: Any, operation: str, name: str, what: str, **params: Any) -> str:
    for item in _pages(client, operation, "Items", **params):
        if item.get("Name") == name:
            return str(item["Id"])
    raise CliError(f"no AppConfig {what} named {name!r} (check --deployment and the AWS account and region)")


class Flags:
    """The AppConfig resources of one deployment's flags."""

    def __init__(self, client: Any, names: FlagNames) -> None:
        self.client = client
        self.names = names
        self.application_id = _find(client, "list_applications", names.application, "application")
        self.profile_id = _find(
            client,
            "list_configuration_profiles",
            names.profile,
            "configuration profile",
            ApplicationId=self.application_id,
        )

    def latest_version(self) -> int:
        versions = [
            int(item["VersionNumber"])
            for item in _pages(
                self.client,
                "list_hosted_configuration_versions",
                "Items",
                ApplicationId=self.application_id,
                ConfigurationProfileId=self.profile_id,
            )
        ]
        if not versions:
            raise CliError(f"{self.names.application}/{self.names.profile} has no hosted version yet")
        return max(versions)

    def document(self, version: int) -> dict[str, Any]:
        response = call_aws(
            "get_hosted_configuration_version",
            lambda: self.client.get_hosted_configuration_version(
                ApplicationId=self.application_id, ConfigurationProfileId=self.profile_id, VersionNumber=version
            ),
        )
        content = response["Content"].read()
        try:
            return validate_document(json.loads(content))
        except (ValueError, FlagDocumentError) as exc:
            raise CliError(
                f"version {version} of {self.names.application}/{self.names.profile} is not a flag document: {exc}"
            ) from None


def _check_version(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 2**31 - 1:
        raise CliError(f"--version must be a positive integer, got {value!r}")
    return int(value)


def list_flags(args: argparse.Namespace) -> int:
    names = _check_deployment(args.deployment)
    version = _check_version(args.version)
    flags = Flags(_client(), names)
    number = version or flags.latest_version()
    document = flags.document(number)
    print(f"{'FLAG':<24} {'ENABLED':<8} ATTRIBUTES")
    for key in document.get("flags", {}):
        value = dict(document.get("values", {}).get(key, {}))
        enabled = value.pop("enabled", False)
        shown = {k: v for k, v in value.items() if not k.startswith("_")}
        print(printable(f"{key:<24} {'on' if enabled else 'off':<8} {json.dumps(shown, sort_keys=True)}"))
    print(f"{names.application}/{names.profile} version {number}: {len(document.get('flags', {}))} flags")
    return 0


def _parse_attribute(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not _FLAG_KEY.fullmatch(name):
        raise CliError(f"--attribute must be NAME=VALUE with NAME matching [a-z][a-zA-Z0-9_-]{{0,63}}, got {text!r}")
    return name, value


def _typed(flag: str, name: str, raw: str, constraints: dict[str, Any] | None) -> Any:
    kind = (constraints or {}).get("type")
    where = f"--attribute {name} of flag {flag!r}"
    if kind is None or kind == "string":
        return raw
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise CliError(f"{where} must be true or false, got {raw!r}")
        return raw == "true"
    if kind == "number":
        try:
            number = json.loads(raw)
        except ValueError:
            number = None
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise CliError(f"{where} must be a number, got {raw!r}")
        return number
    try:
        array = json.loads(raw)
    except (ValueError, RecursionError):
        array = None
    if not isinstance(array, list):
        raise CliError(f'{where} must be a JSON array, e.g. ["a","b"], got {raw!r}')
    return array


def set_flag(args: argparse.Namespace) -> int:
    names = _check_deployment(args.deployment)
    if not _FLAG_KEY.fullmatch(args.flag):
        raise CliError(f"--flag must match [a-z][a-zA-Z0-9_-]{{0,63}}, got {args.flag!r}")
    raw_attributes = [_parse_attribute(text) for text in args.attribute or []]
    if len(raw_attributes) > MAX_ATTRIBUTES:
        raise CliError(f"at most {MAX_ATTRIBUTES} --attribute options, got {len(raw_attributes)}")
    if args.enabled is None and not raw_attributes:
        raise CliError("nothing to set: give --on, --off or --attribute NAME=VALUE")
    flags = Flags(_client(), names)
    latest = flags.latest_version()
    document = flags.document(latest)
    definition = document.get("flags", {}).get(args.flag)
    if definition is None:
        known = ", ".join(document.get("flags", {})) or "none"
        raise CliError(f"no flag {args.flag!r} in {names.application}/{names.profile} (flags: {known})")
    declared = definition.get("attributes", {})
    values = {}
    for name, raw in raw_attributes:
        if name not in declared:
            raise CliError(
                f"flag {args.flag!r} has no attribute {name!r} (attributes: {', '.join(declared) or 'none'})"
            )
        values[name] = _typed(args.flag, name, raw, declared[name].get("constraints"))
    try:
        changed = with_value(document, args.flag, enabled=args.enabled, values=values)
    except FlagDocumentError as exc:
        raise CliError(str(exc)) from None
    response = call_aws(
        "create_hosted_configuration_version",
        lambda: flags.client.create_hosted_configuration_version(
            ApplicationId=flags.application_id,
            ConfigurationProfileId=flags.profile_id,
            Content=json.dumps(changed, sort_keys=True).encode(),
            ContentType="application/json",
            LatestVersionNumber=latest,
            Description=f"devops-blueprints flags set {args.flag}",
        ),
    )
    number = response["VersionNumber"]
    state = changed["values"][args.flag]
    print(
        printable(
            f"{names.application}/{names.profile} version {number}: {args.flag} {json.dumps(state, sort_keys=True)}"
        )
    )
    print(f"not live yet: devops-blueprints flags deploy --deployment {names.deployment_id} --version {number}")
    return 0


def _seconds(option: str, text: str, low: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= 86_400:  # NaN fails too
        raise CliError(f"{option} must be a number of seconds between {low:g} and 86400, got {text!r}")
    return value


def deploy(args: argparse.Namespace) -> int:
    names = _check_deployment(args.deployment)
    version = _check_version(args.version)
    poll_interval = _seconds("--poll-interval", args.poll_interval, 0.0)
    timeout = _seconds("--timeout", args.timeout, 1.0)
    client = _client()
    flags = Flags(client, names)
    environment_id = _find(
        client, "list_environments", names.environment, "environment", ApplicationId=flags.application_id
    )
    strategy_id = _find(client, "list_deployment_strategies", names.strategy, "deployment strategy")
    number = version or flags.latest_version()
    flags.document(number)  # refuse to deploy a version that is not a valid flag document
    started = call_aws(
        "start_deployment",
        lambda: client.start_deployment(
            ApplicationId=flags.application_id,
            EnvironmentId=environment_id,
            DeploymentStrategyId=strategy_id,
            ConfigurationProfileId=flags.profile_id,
            ConfigurationVersion=str(number),
            Description=f"devops-blueprints flags deploy --version {number}",
        ),
    )
    deployment_number = started["DeploymentNumber"]
    print(
        f"deployment {deployment_number}: version {number} to {names.application}/{names.environment}", file=sys.stderr
    )
    deadline = time.monotonic() + timeout
    last: tuple[str, float] | None = None
    state = started
    while True:
        progress = (str(state.get("State")), float(state.get("PercentageComplete", 0.0)))
        if progress != last:
            print(f"  {progress[0]:<12} {progress[1]:5.1f}%", file=sys.stderr)
            last = progress
        if progress[0] in FINAL_STATES:
            break
        if time.monotonic() >= deadline:
            print(f"deployment {deployment_number} still {progress[0]} after {timeout:g} s (it goes on in AppConfig)")
            return 1
        time.sleep(poll_interval)
        state = call_aws(
            "get_deployment",
            lambda: client.get_deployment(
                ApplicationId=flags.application_id, EnvironmentId=environment_id, DeploymentNumber=deployment_number
            ),
        )
    final = progress[0]
    if final == "COMPLETE":
        print(f"deployment {deployment_number}: COMPLETE, version {number} is live in {names.environment}")
        return 0
    # Why: the ROLLBACK_STARTED event names what triggered it (an alarm, a user's StopDeployment).
    events = state.get("EventLog", [])
    reasons = [e.get("Description", "") for e in events if e.get("EventType") == "ROLLBACK_STARTED"]
    reasons += [
        e.get("Description", "") for e in events if e.get("EventType") in ("ROLLBACK_COMPLETED", "REVERT_COMPLETED")
    ]
    reason = f": {reasons[0]}" if reasons else ""
    print(printable(f"deployment {deployment_number}: {final}{reason}"))
    return FINAL_STATES[final]


def register(subparsers: Any) -> None:
    commands = add_group(subparsers, "flags", ("list", "set", "deploy"), description=__doc__)

    list_parser = commands.add_parser("list", help="the flags of the latest (or given) hosted version")
    list_parser.add_argument("--deployment", required=True, metavar="ID", help="deployment id")
    list_parser.add_argument("--version", metavar="N", help="hosted version (default: the latest)")
    list_parser.set_defaults(func=list_flags)

    set_parser = commands.add_parser("set", help="turn a flag on/off or set its attributes (a new hosted version)")
    set_parser.add_argument("--deployment", required=True, metavar="ID", help="deployment id")
    set_parser.add_argument("--flag", required=True, metavar="KEY", help="flag key")
    switch = set_parser.add_mutually_exclusive_group()
    switch.add_argument("--on", dest="enabled", action="store_const", const=True, help="turn the flag on")
    switch.add_argument("--off", dest="enabled", action="store_const", const=False, help="turn the flag off")
    set_parser.add_argument("--attribute", action="append", metavar="NAME=VALUE", help="attribute value (repeatable)")
    set_parser.set_defaults(func=set_flag, enabled=None)

    deploy_parser = commands.add_parser("deploy", help="deploy a version and follow it until COMPLETE or ROLLED_BACK")
    deploy_parser.add_argument("--deployment", required=True, metavar="ID", help="deployment id")
    deploy_parser.add_argument("--version", metavar="N", help="hosted version (default: the latest)")
    deploy_parser.add_argument("--poll-interval", default="10", metavar="S", help="seconds between checks")
    deploy_parser.add_argument("--timeout", default="3600", metavar="S", help="give up following after S s")
    deploy_parser.set_defaults(func=deploy)

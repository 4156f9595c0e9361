"""manifests.py: the samples are what the articles describe (an OOM-killed container, a healthy one, a scraped
ho11y target, KEDA scaling it on a PromQL query with AWS pod identity), every object they produce validates
against its schema, and each bad input is one clear ValueError."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devops_blueprints.constructs.observability.eks import manifests
from devops_blueprints.constructs.observability.eks.manifests import (
    HO11Y_IMAGE,
    HO11Y_PORT,
    SCALED_TARGET_QUERY,
    SCALED_TARGET_THRESHOLD,
    STRESS_IMAGE,
    healthy_sample,
    keda_scaling,
    oom_sample,
    scaled_target_sample,
)
from devops_blueprints.constructs.observability.eks.schema import validate_manifests
from devops_blueprints.constructs.observability.eks.versions import KUBERNETES_VERSION

REGION_TOKEN = "${Token[AWS.Region.9]}"
SERVER_TOKEN = f"https://aps-workspaces.{REGION_TOKEN}.amazonaws.com/workspaces/${{Token[TOKEN.42]}}"


def _scaling(**overrides: Any) -> list[dict[str, Any]]:
    arguments: dict[str, Any] = {
        "name": "ho11y",
        "namespace": "keda-sample",
        "deployment": "ho11y",
        "server_address": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0123abcd-4567-89ef-0123-456789abcdef",
        "query": SCALED_TARGET_QUERY,
        "threshold": SCALED_TARGET_THRESHOLD,
        "region": "eu-west-1",
        "min_replicas": 1,
        "max_replicas": 10,
    }
    arguments.update(overrides)
    return keda_scaling(**arguments)


def _by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [obj for obj in objs if obj["kind"] == kind]
    return found


def _container(objs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = _by_kind(objs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def _mib(quantity: str) -> int:
    return int(quantity[:-2]) * (1024 if quantity.endswith("Gi") else 1)


def _allocated_mib(container: dict[str, Any]) -> int:
    args = container["args"]
    return int(args[args.index("--vm-bytes") + 1].removesuffix("M"))


# Every manifest the module produces validates.
SAMPLES = {
    "oom_sample()": oom_sample(),
    "oom_sample(1Gi)": oom_sample(memory_limit="1Gi", allocate_mib=1500, replicas=2, name="big-hog", namespace="x"),
    "healthy_sample()": healthy_sample(),
    "scaled_target_sample()": scaled_target_sample(),
    "scaled_target_sample(port)": scaled_target_sample(port=9000, replicas=3),
    "keda_scaling()": _scaling(),
    "keda_scaling(tokens)": _scaling(server_address=SERVER_TOKEN, region=REGION_TOKEN),
    "keda_scaling(options)": _scaling(
        min_replicas=0,
        max_replicas=1,
        activation_threshold=0,
        polling_interval=1,
        cooldown_period=0,
        identity_owner="workload",
    ),
}


@pytest.mark.parametrize("label", list(SAMPLES))
def test_every_manifest_validates(label: str) -> None:
    validate_manifests(SAMPLES[label], kubernetes_version=KUBERNETES_VERSION, where=label)


def test_the_oom_sample_allocates_more_than_its_limit() -> None:
    objs = oom_sample()
    assert [obj["kind"] for obj in objs] == ["Namespace", "Deployment"]
    deployment = _by_kind(objs, "Deployment")
    assert deployment["metadata"] == {
        "name": manifests.OOM_SAMPLE_NAME,
        "namespace": manifests.OOM_SAMPLE_NAMESPACE,
        "labels": deployment["metadata"]["labels"],
    }
    assert _by_kind(objs, "Namespace")["metadata"]["name"] == manifests.OOM_SAMPLE_NAMESPACE
    container = _container(objs)
    assert container["image"] == STRESS_IMAGE
    assert container["command"] == ["stress"]
    limit = _mib(container["resources"]["limits"]["memory"])
    assert _allocated_mib(container) > limit  # the kernel OOM-kills it, the kubelet restarts it
    # Requests are set (the node-capacity check sums them) and equal the limit.
    assert container["resources"]["requests"]["memory"] == container["resources"]["limits"]["memory"]
    assert container["resources"]["requests"]["cpu"] == "10m"


def test_the_healthy_sample_stays_well_under_its_limit() -> None:
    container = _container(healthy_sample())
    assert _allocated_mib(container) * 2 <= _mib(container["resources"]["limits"]["memory"])
    assert _by_kind(healthy_sample(), "Deployment")["metadata"]["name"] == manifests.HEALTHY_SAMPLE_NAME


def test_the_samples_run_hardened_without_a_service_account_token() -> None:
    for objs in (oom_sample(), healthy_sample(), scaled_target_sample()):
        pod = _by_kind(objs, "Deployment")["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
        assert _container(objs)["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_scaled_target_is_scraped_and_served() -> None:
    objs = scaled_target_sample()
    assert [obj["kind"] for obj in objs] == ["Namespace", "Deployment", "Service"]
    deployment = _by_kind(objs, "Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(HO11Y_PORT),
        "prometheus.io/path": "/metrics",
    }
    container = _container(objs)
    assert container["image"] == HO11Y_IMAGE
    assert container["ports"] == [{"name": "http", "containerPort": HO11Y_PORT, "protocol": "TCP"}]
    service = _by_kind(objs, "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert deployment["metadata"]["namespace"] == service["metadata"]["namespace"] == manifests.SCALED_TARGET_NAMESPACE


def test_keda_scaling_uses_the_prometheus_trigger_with_aws_pod_identity() -> None:
    trigger_authentication, scaled_object = _scaling(threshold=0.25, activation_threshold=0.5)
    assert trigger_authentication["kind"] == "TriggerAuthentication"
    assert trigger_authentication["metadata"]["name"] == "ho11y-aws"
    assert trigger_authentication["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}
    spec = scaled_object["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ho11y"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 10)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["authenticationRef"] == {"kind": "TriggerAuthentication", "name": "ho11y-aws"}
    assert trigger["metadata"] == {
        "serverAddress": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0123abcd-4567-89ef-0123-456789abcdef",
        "query": SCALED_TARGET_QUERY,
        "threshold": "0.25",
        "activationThreshold": "0.5",
        "awsRegion": "eu-west-1",
        "ignoreNullValues": "false",
    }
    # Trigger metadata values are strings (the CRD's schema).
    assert all(isinstance(value, str) for value in trigger["metadata"].values())


def test_keda_scaling_accepts_cdk_tokens_for_the_endpoint_and_region() -> None:
    _, scaled_object = _scaling(server_address=SERVER_TOKEN, region=REGION_TOKEN)
    metadata = scaled_object["spec"]["triggers"][0]["metadata"]
    assert metadata["serverAddress"] == SERVER_TOKEN
    assert metadata["awsRegion"] == REGION_TOKEN


def test_whole_thresholds_are_written_without_a_decimal_point() -> None:
    _, scaled_object = _scaling(threshold=5)
    assert scaled_object["spec"]["triggers"][0]["metadata"]["threshold"] == "5"


BAD_SCALING = [
    ({"min_replicas": 5, "max_replicas": 2}, r"min_replicas \(5\) must not be greater than max_replicas \(2\)"),
    ({"min_replicas": -1}, r"min_replicas must be between 0 and 2147483647, got -1"),
    ({"max_replicas": 0}, r"max_replicas must be between 1 and 2147483647, got 0"),
    ({"max_replicas": True}, r"max_replicas must be an integer, got True"),
    ({"min_replicas": 1.5}, r"min_replicas must be an integer, got 1\.5"),
    ({"threshold": 0}, r"threshold must be greater than zero, got 0"),
    ({"threshold": -2.5}, r"threshold must be greater than zero, got -2\.5"),
    ({"threshold": float("nan")}, r"threshold must be a finite number, got nan"),
    ({"threshold": "10"}, r"threshold must be a finite number, got '10'"),
    ({"activation_threshold": -1}, r"activation_threshold must be zero or more, got -1"),
    ({"polling_interval": 0}, r"polling_interval must be between 1 and"),
    ({"cooldown_period": -5}, r"cooldown_period must be between 0 and"),
    ({"name": "Ho11y"}, r"name must be an RFC 1123 label: .*; got 'Ho11y'"),
    ({"name": "ho11y_scaler"}, r"name must be an RFC 1123 label"),
    ({"name": "-ho11y"}, r"name must be an RFC 1123 label"),
    ({"name": "a" * 60}, r"name must be at most 59 characters \(the TriggerAuthentication is <name>-aws\)"),
    ({"namespace": "keda.sample"}, r"namespace must be an RFC 1123 label"),
    ({"deployment": ""}, r"deployment must be an RFC 1123 label"),
    ({"query": "sum(rate(ho11y_total[1m])"}, r"PromQL query .*: at position 3: '\(' is never closed"),
    ({"query": "sum(rate(ho11y_total[1m]))) "}, r"PromQL query .*: at position 26: unexpected '\)'"),
    (
        {"server_address": "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/"},
        r"server_address must not end with '/'",
    ),
    ({"server_address": f"{SERVER_TOKEN}/"}, r"server_address must not end with '/'"),
    ({"server_address": "http://prometheus:9090"}, r"server_address must be an https:// URL"),
    ({"server_address": "https://host/path?x=1"}, r"server_address is not a valid URL without query string"),
    ({"server_address": ""}, r"server_address must be the AMP workspace query endpoint"),
    ({"region": "eu_west_1"}, r'region must be an AWS region name such as "us-east-1", got \'eu_west_1\''),
    ({"identity_owner": "operator"}, r'identity_owner must be "keda" or "workload", got \'operator\''),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_SCALING)
def test_each_bad_keda_input_is_one_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _scaling(**overrides)


BAD_SAMPLES = [
    (
        oom_sample,
        {"memory_limit": "128MB"},
        r'memory_limit must be a whole number of Mi or Gi, such as "128Mi" or "1Gi"; got \'128MB\'',
    ),
    (oom_sample, {"memory_limit": 128}, r"memory_limit must be a whole number of Mi or Gi"),
    (oom_sample, {"allocate_mib": 128}, r"allocate_mib must exceed memory_limit for the OOM sample to be OOM-killed"),
    (oom_sample, {"allocate_mib": 0}, r"allocate_mib must be between 1 and"),
    (oom_sample, {"replicas": 0}, r"replicas must be between 1 and"),
    (oom_sample, {"name": "Memory_Hog"}, r"name must be an RFC 1123 label"),
    (oom_sample, {"image": "polinux/stress; rm -rf /"}, r"image must be a container image reference without spaces"),
    (healthy_sample, {"allocate_mib": 65}, r"allocate_mib must be at most half of memory_limit for the healthy sample"),
    (healthy_sample, {"namespace": "x" * 64}, r"namespace must be an RFC 1123 label"),
    (
        scaled_target_sample,
        {"name": "1ho11y"},
        r"name must be an RFC 1035 label: lower-case letters, digits and '-', starting with a letter",
    ),
    (scaled_target_sample, {"port": 70000}, r"port must be a port number \(1-65535\), got 70000"),
    (scaled_target_sample, {"port": 0}, r"port must be between 1 and"),
    (scaled_target_sample, {"replicas": -1}, r"replicas must be between 1 and"),
]


@pytest.mark.parametrize(("factory", "overrides", "message"), BAD_SAMPLES)
def test_each_bad_sample_input_is_one_error(factory: Any, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory(**overrides)


def test_commands_are_argument_lists_built_from_integers() -> None:
    container = _container(oom_sample(allocate_mib=300))
    assert container["args"] == ["--vm", "1", "--vm-bytes", "300M", "--vm-hang", "0"]
    assert all(isinstance(arg, str) and " " not in arg for arg in container["args"])


_NAMES = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(
    name=_NAMES,
    namespace=_NAMES,
    limit_mib=st.integers(16, 4096),
    extra=st.integers(1, 1024),
    replicas=st.integers(1, 5),
)
def test_generated_memory_samples_validate(
    name: str, namespace: str, limit_mib: int, extra: int, replicas: int
) -> None:
    oom = oom_sample(
        name=name, namespace=namespace, memory_limit=f"{limit_mib}Mi", allocate_mib=limit_mib + extra, replicas=replicas
    )
    healthy = healthy_sample(name=name, namespace=namespace, memory_limit=f"{limit_mib}Mi", allocate_mib=limit_mib // 2)
    validate_manifests(oom + healthy, kubernetes_version=KUBERNETES_VERSION)


@settings(max_examples=40, deadline=None)
@given(
    name=_NAMES.filter(lambda name: len(name) <= 59),
    low=st.integers(0, 50),
    span=st.integers(0, 50),
    threshold=st.floats(min_value=1e-6, max_value=1e6, allow_nan=False),
)
def test_generated_keda_scaling_validates(name: str, low: int, span: int, threshold: float) -> None:
    objs = _scaling(name=name, min_replicas=low, max_replicas=max(low + span, 1), threshold=threshold)
    validate_manifests(objs, kubernetes_version=KUBERNETES_VERSION)
    assert float(objs[1]["spec"]["triggers"][0]["metadata"]["threshold"]) == pytest.approx(threshold)

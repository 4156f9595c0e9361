"""schema.py: built-in kinds validate against the bundled strict schemas of the cluster version (and agree with
kubernetes-validate's own entry point), KEDA kinds against their CRD schemas, and every failure names the object,
the JSON path and the reason."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from devops_blueprints.constructs.observability.eks.manifests import (
    healthy_sample,
    keda_scaling,
    oom_sample,
    scaled_target_sample,
)
from devops_blueprints.constructs.observability.eks.schema import (
    KEDA_VALUES_KUBE_PATHS,
    ManifestError,
    validate_helm_values,
    validate_manifest,
    validate_manifests,
)
from devops_blueprints.constructs.observability.eks.versions import KUBERNETES_VERSION

V = KUBERNETES_VERSION


def _deployment() -> dict[str, Any]:
    return copy.deepcopy(oom_sample()[1])


def _scaled_object() -> dict[str, Any]:
    return copy.deepcopy(
        keda_scaling(
            name="s",
            namespace="n",
            deployment="d",
            server_address="https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1",
            query="sum(rate(x[1m]))",
            threshold=1,
            region="us-east-1",
            min_replicas=1,
            max_replicas=3,
        )[1]
    )


def _trigger_authentication() -> dict[str, Any]:
    return copy.deepcopy(
        keda_scaling(
            name="s",
            namespace="n",
            deployment="d",
            server_address="https://h/w",
            query="x",
            threshold=1,
            region="us-east-1",
            min_replicas=1,
            max_replicas=3,
        )[0]
    )


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


Mutation = Callable[[dict[str, Any]], object]

BUILT_IN_FAILURES: list[tuple[str, Mutation, str]] = [
    (
        "unknown container field",
        lambda d: _container(d).__setitem__("imagePullPolcy", "Always"),
        r"^oom Deployment/memory-hog: \$\.spec\.template\.spec\.containers\[0\]: unknown field\(s\) 'imagePullPolcy'; allowed: .*imagePullPolicy",
    ),
    (
        "wrong type",
        lambda d: d["spec"].__setitem__("replicas", "one"),
        r"^oom Deployment/memory-hog: \$\.spec\.replicas: 'one' is not of type 'integer'",
    ),
    (
        "missing required field",
        lambda d: _container(d).pop("name"),
        r"^oom Deployment/memory-hog: \$\.spec\.template\.spec\.containers\[0\]: 'name' is a required property",
    ),
    (
        "unknown spec field",
        lambda d: d["spec"].__setitem__("replica", 2),
        r"^oom Deployment/memory-hog: \$\.spec: unknown field\(s\) 'replica'",
    ),
    (
        "bad quantity",
        lambda d: _container(d)["resources"]["limits"].__setitem__("memory", "128MB"),
        r"^oom Deployment/memory-hog: \$\.spec\.template\.spec\.containers\[0\]\.resources\.limits\.memory: '128MB' is not a Kubernetes quantity",
    ),
    (
        "bad name",
        lambda d: d["metadata"].__setitem__("name", "Memory_Hog"),
        r"^oom Deployment/Memory_Hog: \$\.metadata\.name: 'Memory_Hog' is not a valid Deployment name \(RFC 1123 label",
    ),
    (
        "bad namespace",
        lambda d: d["metadata"].__setitem__("namespace", "a.b"),
        r"^oom Deployment/memory-hog: \$\.metadata\.namespace: 'a\.b' is not a valid namespace",
    ),
    (
        "missing name",
        lambda d: d["metadata"].pop("name"),
        r"^oom Deployment/\?: \$\.metadata\.name: required",
    ),
    (
        "unknown kind",
        lambda d: d.__setitem__("kind", "Deploymnt"),
        r"^oom Deploymnt/memory-hog: \$\.kind: Kubernetes 1\.36 has no schema for kind 'Deploymnt' in apiVersion 'apps/v1'",
    ),
    (
        "removed apiVersion",
        lambda d: d.__setitem__("apiVersion", "extensions/v1beta1"),
        r"\$\.kind: Kubernetes 1\.36 has no schema for kind 'Deployment' in apiVersion 'extensions/v1beta1'",
    ),
    (
        "missing apiVersion",
        lambda d: d.pop("apiVersion"),
        r"^oom Deployment/memory-hog: \$\.apiVersion: required, a non-empty string \(got None\)",
    ),
]


@pytest.mark.parametrize(("label", "mutate", "message"), BUILT_IN_FAILURES, ids=[case[0] for case in BUILT_IN_FAILURES])
def test_a_built_in_kind_with_a_wrong_field_fails_with_path_and_reason(
    label: str, mutate: Mutation, message: str
) -> None:
    obj = _deployment()
    mutate(obj)
    with pytest.raises(ManifestError, match=message):
        validate_manifest(obj, kubernetes_version=V, where="oom")


def test_manifest_error_is_a_value_error() -> None:
    assert issubclass(ManifestError, ValueError)


def test_a_service_name_must_start_with_a_letter() -> None:
    service = copy.deepcopy(scaled_target_sample()[2])
    service["metadata"]["name"] = "1svc"
    with pytest.raises(
        ManifestError, match=r"Service/1svc: \$\.metadata\.name: '1svc' is not a valid Service name \(RFC 1035 label"
    ):
        validate_manifest(service, kubernetes_version=V)


def test_unresolved_cdk_tokens_pass_the_name_checks() -> None:
    obj = _deployment()
    obj["metadata"]["namespace"] = "${Token[TOKEN.7]}"
    validate_manifest(obj, kubernetes_version=V)


def test_other_built_in_kinds_validate() -> None:
    # The AMP managed collector's RBAC objects (prometheus.py builds them) are in the schema set too.
    validate_manifests(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "aps-collector-role"},
                "rules": [{"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "aps-collector-user-role-binding"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "aps-collector-role",
                },
                "subjects": [{"kind": "User", "name": "aps-collector-user", "apiGroup": "rbac.authorization.k8s.io"}],
            },
        ],
        kubernetes_version=V,
    )


def test_validate_manifests_names_the_index_of_the_failing_object() -> None:
    objs = oom_sample()
    objs[1]["spec"]["replicas"] = -1.5
    with pytest.raises(ManifestError, match=r"^oom_sample\(\)\[1\] Deployment/memory-hog: \$\.spec\.replicas: "):
        validate_manifests(objs, kubernetes_version=V, where="oom_sample()")


def test_a_non_mapping_and_a_non_json_value_fail() -> None:
    with pytest.raises(ManifestError, match=r"\?/\?: \$: a Kubernetes object must be a mapping, got list"):
        validate_manifest([], kubernetes_version=V)  # type: ignore[arg-type]
    obj = _deployment()
    obj["metadata"]["labels"]["x"] = object()
    with pytest.raises(ManifestError, match=r"Deployment/memory-hog: \$: not JSON-serializable"):
        validate_manifest(obj, kubernetes_version=V)


def test_a_kubernetes_version_without_schemas_fails() -> None:
    with pytest.raises(
        ManifestError, match=r"kubernetes_version '1\.99': kubernetes-validate bundles no schemas for it"
    ):
        validate_manifest(_deployment(), kubernetes_version="1.99")


@pytest.mark.parametrize(
    "obj",
    [*oom_sample(), *healthy_sample(), *scaled_target_sample()],
    ids=lambda obj: f"{obj['kind']}/{obj['metadata']['name']}",
)
def test_the_samples_agree_with_kubernetes_validates_own_entry_point(obj: dict[str, Any]) -> None:
    # Differential: the library's validate() (best error only) accepts what validate_manifest accepts ...
    validate_manifest(obj, kubernetes_version=V)
    assert kubernetes_validate.validate(obj, V, strict=True) == V


@pytest.mark.parametrize(
    ("label", "mutate", "message"), BUILT_IN_FAILURES[:4], ids=[case[0] for case in BUILT_IN_FAILURES[:4]]
)
def test_schema_failures_agree_with_kubernetes_validate(label: str, mutate: Mutation, message: str) -> None:
    # ... and rejects what its schema checks reject.
    obj = _deployment()
    mutate(obj)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, V, strict=True)


KEDA_FAILURES: list[tuple[str, Callable[[], dict[str, Any]], Mutation, str]] = [
    (
        "min over max",
        _scaled_object,
        lambda o: o["spec"].update(minReplicaCount=5, maxReplicaCount=2),
        r"^ScaledObject/s: \$\.spec\.minReplicaCount: 5 is greater than maxReplicaCount 2 \(KEDA's CRD rule",
    ),
    (
        "min over default max",
        _scaled_object,
        lambda o: (o["spec"].pop("maxReplicaCount"), o["spec"].update(minReplicaCount=101)),
        r"\$\.spec\.minReplicaCount: 101 is greater than maxReplicaCount 100",
    ),
    (
        "typo in a field",
        _scaled_object,
        lambda o: o["spec"].__setitem__("minReplicas", 1),
        r"^ScaledObject/s: \$\.spec: unknown field\(s\) 'minReplicas'; allowed: .*minReplicaCount",
    ),
    (
        "zero max",
        _scaled_object,
        lambda o: o["spec"].__setitem__("maxReplicaCount", 0),
        r"\$\.spec\.maxReplicaCount: 0 is less than the minimum of 1",
    ),
    (
        "no triggers",
        _scaled_object,
        lambda o: o["spec"].__setitem__("triggers", []),
        r"\$\.spec\.triggers: \[\] should be non-empty",
    ),
    (
        "numeric trigger metadata",
        _scaled_object,
        lambda o: o["spec"]["triggers"][0]["metadata"].__setitem__("threshold", 10),
        r"\$\.spec\.triggers\[0\]\.metadata\.threshold: 10 is not of type 'string'",
    ),
    (
        "missing scale target",
        _scaled_object,
        lambda o: o["spec"].pop("scaleTargetRef"),
        r"\$\.spec: 'scaleTargetRef' is a required property",
    ),
    (
        "bad authentication kind",
        _scaled_object,
        lambda o: o["spec"]["triggers"][0]["authenticationRef"].__setitem__("kind", "Secret"),
        r"\$\.spec\.triggers\[0\]\.authenticationRef\.kind: 'Secret' is not one of",
    ),
    (
        "typo in a prometheus parameter",
        _scaled_object,
        lambda o: o["spec"]["triggers"][0]["metadata"].__setitem__("activationThreshhold", "1"),
        r"\$\.spec\.triggers\[0\]\.metadata\.activationThreshhold: unknown prometheus trigger parameter; known: .*activationThreshold",
    ),
    (
        "prometheus trigger without its threshold",
        _scaled_object,
        lambda o: o["spec"]["triggers"][0]["metadata"].pop("threshold"),
        r"\$\.spec\.triggers\[0\]\.metadata: the prometheus trigger needs 'threshold'",
    ),
    (
        "threshold that is not a number",
        _scaled_object,
        lambda o: o["spec"]["triggers"][0]["metadata"].__setitem__("threshold", "ten"),
        r"\$\.spec\.triggers\[0\]\.metadata\.threshold: 'ten' is not a number",
    ),
    (
        "boolean that is not one",
        _scaled_object,
        lambda o: o["spec"]["triggers"][0]["metadata"].__setitem__("ignoreNullValues", "no"),
        r"\$\.spec\.triggers\[0\]\.metadata\.ignoreNullValues: 'no' is not a boolean",
    ),
    (
        "query that does not parse",
        _scaled_object,
        lambda o: o["spec"]["triggers"][0]["metadata"].__setitem__("query", "sum(rate(x[1m])"),
        r"\$\.spec\.triggers\[0\]\.metadata\.query: PromQL query 'sum\(rate\(x\[1m\]\)': at position 3: '\(' is never closed",
    ),
    (
        "bad pod identity provider",
        _trigger_authentication,
        lambda o: o["spec"]["podIdentity"].__setitem__("provider", "aws-kiam"),
        r"^TriggerAuthentication/s-aws: \$\.spec\.podIdentity\.provider: 'aws-kiam' is not one of",
    ),
    (
        "missing provider",
        _trigger_authentication,
        lambda o: o["spec"]["podIdentity"].pop("provider"),
        r"\$\.spec\.podIdentity: 'provider' is a required property",
    ),
    (
        "secret reference without its key",
        _trigger_authentication,
        lambda o: o["spec"].__setitem__("secretTargetRef", [{"parameter": "bearerToken", "name": "token"}]),
        r"\$\.spec\.secretTargetRef\[0\]: 'key' is a required property",
    ),
    (
        "unknown KEDA kind",
        _trigger_authentication,
        lambda o: o.__setitem__("kind", "ScaledJob"),
        r"\$\.kind: no schema for ScaledJob keda\.sh/v1alpha1; known KEDA kinds: ScaledObject",
    ),
    (
        "wrong KEDA version",
        _trigger_authentication,
        lambda o: o.__setitem__("apiVersion", "keda.sh/v1"),
        r"\$\.kind: no schema for TriggerAuthentication keda\.sh/v1",
    ),
]


@pytest.mark.parametrize(
    ("label", "factory", "mutate", "message"), KEDA_FAILURES, ids=[case[0] for case in KEDA_FAILURES]
)
def test_a_keda_object_with_a_wrong_field_fails_with_path_and_reason(
    label: str, factory: Callable[[], dict[str, Any]], mutate: Mutation, message: str
) -> None:
    obj = factory()
    validate_manifest(obj, kubernetes_version=V)
    mutate(obj)
    with pytest.raises(ManifestError, match=message):
        validate_manifest(obj, kubernetes_version=V)


def test_keda_metadata_is_checked_against_kubernetes_object_meta() -> None:
    obj = _scaled_object()
    obj["metadata"]["labels"] = {"a": 1}
    with pytest.raises(ManifestError, match=r"ScaledObject/s: \$\.metadata\.labels\.a: 1 is not of type 'string'"):
        validate_manifest(obj, kubernetes_version=V)


def test_helm_values_kubernetes_parts_validate() -> None:
    validate_helm_values(
        {
            "resources": {"operator": {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"memory": "1000Mi"}}},
            "podSecurityContext": {"operator": {"runAsNonRoot": True}},
            "serviceAccount": {"operator": {"name": "keda-operator"}},
            "podIdentity": {"aws": {"irsa": {"enabled": False}}},  # chart-specific: not checked
        },
        kubernetes_version=V,
    )
    assert "resources.operator" in KEDA_VALUES_KUBE_PATHS


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"resources": {"operator": {"limit": {"cpu": "1"}}}},
            r"^helm values: \$\.resources\.operator: unknown field\(s\) 'limit'",
        ),
        (
            {"resources": {"metricServer": {"limits": {"memory": "1 GB"}}}},
            r"^helm values: \$\.resources\.metricServer\.limits\.memory: '1 GB' is not a Kubernetes quantity",
        ),
        (
            {"securityContext": {"operator": {"runAsUser": "root"}}},
            r"^helm values: \$\.securityContext\.operator\.runAsUser: 'root' is not of type 'integer'",
        ),
        (
            {"serviceAccount": {"operator": {"name": "KEDA Operator"}}},
            r"^helm values: \$\.serviceAccount\.operator\.name: 'KEDA Operator' is not a valid Kubernetes name",
        ),
    ],
)
def test_bad_helm_values_fail_with_path_and_reason(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        validate_helm_values(values, kubernetes_version=V)


def test_prometheus_parameters_may_come_from_the_environment_and_tokens_pass() -> None:
    obj = _scaled_object()
    metadata = obj["spec"]["triggers"][0]["metadata"]
    metadata["thresholdFromEnv"] = metadata.pop("threshold")
    metadata["query"] = "${Token[TOKEN.3]}"
    validate_manifest(obj, kubernetes_version=V)

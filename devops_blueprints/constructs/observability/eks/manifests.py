"""The EKS sample's Kubernetes objects as Python dicts (plain Python, no CDK import).

- ``oom_sample()``: the DevOps Guru article's failing app. A Deployment whose container allocates more memory than
  its limit, so the kernel OOM-kills it and the kubelet restarts it (CrashLoopBackOff) - Container Insights
  publishes ``pod_number_of_container_restarts`` and ``pod_memory_utilization_over_pod_limit`` for it.
- ``healthy_sample()``: the same program allocating well below its limit, for contrast.
- ``scaled_target_sample()``: the KEDA article's ho11y-style target (Deployment + Service), annotated for scraping.
- ``keda_scaling()``: a KEDA TriggerAuthentication (``podIdentity: {provider: aws}``: KEDA signs its queries with
  SigV4 itself, no SigV4 proxy) and a ScaledObject with a ``prometheus`` trigger against the AMP workspace's query
  endpoint (https://keda.sh/docs/latest/scalers/prometheus/, https://keda.sh/docs/latest/authentication-providers/aws/).

Images (public registries, no build):
- ``docker.io/polinux/stress:1.0.4``: the ``stress`` tool the Kubernetes docs use to exceed a container's memory
  limit (https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/#exceed-a-container-s-memory-limit):
  ``stress --vm 1 --vm-bytes <N>M --vm-hang 0`` allocates N MiB once and then sleeps, so the only thing the sample
  does is hold memory - over the limit (OOM) or under it (healthy).
- ``public.ecr.aws/mhausenblas/ho11y:stable``: ho11y, the synthetic app of the AWS observability recipes the KEDA
  article scales; it counts requests in ``ho11y_total`` on ``:8765/metrics``.

Every command is a list of fixed arguments (no shell), built from validated integers.
"""

from __future__ import annotations

import math
import re
from typing import Any

from devops_blueprints.constructs.observability.eks.names import is_label, is_rfc1035_label, is_token
from devops_blueprints.constructs.observability.eks.promql import check_promql

STRESS_IMAGE = "docker.io/polinux/stress:1.0.4"
HO11Y_IMAGE = "public.ecr.aws/mhausenblas/ho11y:stable"
HO11Y_PORT = 8765

OOM_SAMPLE_NAME = "memory-hog"
OOM_SAMPLE_NAMESPACE = "oom-sample"
HEALTHY_SAMPLE_NAME = "memory-steady"
HEALTHY_SAMPLE_NAMESPACE = "healthy-sample"
SCALED_TARGET_NAME = "ho11y"
SCALED_TARGET_NAMESPACE = "keda-sample"

SCALED_TARGET_QUERY = "sum(rate(ho11y_total[1m]))"
"""The KEDA article's query: requests per second to the scaled target, over all its pods."""
SCALED_TARGET_THRESHOLD = 1.0
"""Requests per second per replica KEDA aims for (the ScaledObject's ``threshold``)."""

PART_OF = "devops-blueprints"

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_MEMORY = re.compile(r"^(?P<amount>[1-9][0-9]*)(?P<unit>Mi|Gi)$")


def oom_sample(
    *,
    name: str = OOM_SAMPLE_NAME,
    namespace: str = OOM_SAMPLE_NAMESPACE,
    memory_limit: str = "128Mi",
    allocate_mib: int = 256,
    replicas: int = 1,
    image: str = STRESS_IMAGE,
) -> list[dict[str, Any]]:
    """Namespace + Deployment whose container allocates ``allocate_mib`` MiB under a ``memory_limit`` (``"128Mi"``
    or ``"1Gi"``) that is smaller, so it is OOM-killed and restarts. Default: 256 MiB under 128Mi, one replica."""
    limit = _memory_mib("memory_limit", memory_limit)
    _positive("allocate_mib", allocate_mib)
    if allocate_mib <= limit:
        raise ValueError(
            f"allocate_mib must exceed memory_limit for the OOM sample to be OOM-killed, got allocate_mib="
            f"{allocate_mib} with memory_limit={memory_limit!r} ({limit} MiB)"
        )
    return _memory_sample(name, namespace, memory_limit, allocate_mib, replicas, image, role="oom")


def healthy_sample(
    *,
    name: str = HEALTHY_SAMPLE_NAME,
    namespace: str = HEALTHY_SAMPLE_NAMESPACE,
    memory_limit: str = "128Mi",
    allocate_mib: int = 32,
    replicas: int = 1,
    image: str = STRESS_IMAGE,
) -> list[dict[str, Any]]:
    """Namespace + Deployment whose container holds ``allocate_mib`` MiB, at most half its ``memory_limit``, and
    keeps running. Default: 32 MiB under 128Mi, one replica."""
    limit = _memory_mib("memory_limit", memory_limit)
    _positive("allocate_mib", allocate_mib)
    if allocate_mib * 2 > limit:
        raise ValueError(
            f"allocate_mib must be at most half of memory_limit for the healthy sample to stay healthy, got "
            f"allocate_mib={allocate_mib} with memory_limit={memory_limit!r} ({limit} MiB)"
        )
    return _memory_sample(name, namespace, memory_limit, allocate_mib, replicas, image, role="healthy")


def scaled_target_sample(
    *,
    name: str = SCALED_TARGET_NAME,
    namespace: str = SCALED_TARGET_NAMESPACE,
    replicas: int = 1,
    image: str = HO11Y_IMAGE,
    port: int = HO11Y_PORT,
) -> list[dict[str, Any]]:
    """Namespace + ho11y Deployment + ClusterIP Service (port 80 -> ``port``). The pods carry the
    ``prometheus.io/scrape|port|path`` annotations the scrape configuration keeps. Default: one replica of
    ho11y on 8765."""
    _name("name", name, service=True)
    _name("namespace", namespace)
    _positive("replicas", replicas)
    _port("port", port)
    _image(image)
    labels = _labels(name, "scaled-target")
    container = {
        "name": "ho11y",
        "image": image,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": [
            {"name": "HO11Y_PORT", "value": str(port)},
            {"name": "HO11Y_LOG_DEST", "value": "stdout"},
            {"name": "OTEL_RESOURCE_ATTRIB", "value": name},
        ],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/metrics", "port": port}, "periodSeconds": 10},
        "securityContext": _container_security(),
    }
    deployment = _deployment(
        name,
        namespace,
        labels,
        replicas,
        container,
        pod_annotations={
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        },
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    return [_namespace(namespace), deployment, service]


def keda_scaling(
    *,
    name: str,
    namespace: str,
    deployment: str,
    server_address: str,
    query: str,
    threshold: float,
    region: str,
    min_replicas: int,
    max_replicas: int,
    activation_threshold: float | None = None,
    polling_interval: int = 30,
    cooldown_period: int = 300,
    identity_owner: str = "keda",
) -> list[dict[str, Any]]:
    """TriggerAuthentication ``<name>-aws`` (EKS Pod Identity of the KEDA operator when ``identity_owner`` is
    "keda", the default; "workload": the scaled workload's) + ScaledObject ``name`` scaling ``deployment`` between
    ``min_replicas`` and ``max_replicas`` on ``query`` against ``server_address`` (the AMP workspace's query
    endpoint, ``https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>``, without a trailing ``/``: KEDA
    appends ``/api/v1/query``). ``server_address`` and ``region`` may be CDK tokens. Defaults: poll every 30 s,
    cool down 300 s, no activation threshold."""
    _name("name", name)
    if len(name) > 59:
        raise ValueError(f"name must be at most 59 characters (the TriggerAuthentication is <name>-aws), got {name!r}")
    _name("namespace", namespace)
    _name("deployment", deployment)
    _server_address(server_address)
    if not is_token(query):
        check_promql(query)
    _threshold("threshold", threshold)
    if activation_threshold is not None:
        _threshold("activation_threshold", activation_threshold, allow_zero=True)
    if not is_token(region) and not (isinstance(region, str) and _REGION.match(region)):
        raise ValueError(f'region must be an AWS region name such as "us-east-1", got {region!r}')
    _integer("min_replicas", min_replicas, minimum=0)
    _integer("max_replicas", max_replicas, minimum=1)
    if min_replicas > max_replicas:
        raise ValueError(f"min_replicas ({min_replicas}) must not be greater than max_replicas ({max_replicas})")
    _integer("polling_interval", polling_interval, minimum=1)
    _integer("cooldown_period", cooldown_period, minimum=0)
    if identity_owner not in {"keda", "workload"}:
        raise ValueError(f'identity_owner must be "keda" or "workload", got {identity_owner!r}')

    labels = _labels(name, "autoscaling")
    auth_name = f"{name}-aws"
    trigger_authentication = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": auth_name, "namespace": namespace, "labels": labels},
        "spec": {"podIdentity": {"provider": "aws", "identityOwner": identity_owner}},
    }
    metadata = {
        "serverAddress": server_address,
        "query": query,
        "threshold": _number(threshold),
        "awsRegion": region,
        # An empty result (no samples yet) is an error instead of 0, so a broken scrape is visible on the
        # ScaledObject instead of silently holding min_replicas.
        "ignoreNullValues": "false",
    }
    if activation_threshold is not None:
        metadata["activationThreshold"] = _number(activation_threshold)
    scaled_object = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
            "minReplicaCount": min_replicas,
            "maxReplicaCount": max_replicas,
            "pollingInterval": polling_interval,
            "cooldownPeriod": cooldown_period,
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": metadata,
                    "authenticationRef": {"kind": "TriggerAuthentication", "name": auth_name},
                }
            ],
        },
    }
    return [trigger_authentication, scaled_object]


def _memory_sample(
    name: str, namespace: str, memory_limit: str, allocate_mib: int, replicas: int, image: str, *, role: str
) -> list[dict[str, Any]]:
    _name("name", name)
    _name("namespace", namespace)
    _positive("replicas", replicas)
    _image(image)
    container = {
        "name": "stress",
        "image": image,
        "command": ["stress"],
        "args": ["--vm", "1", "--vm-bytes", f"{allocate_mib}M", "--vm-hang", "0"],
        # Request = limit: the scheduler reserves what the sample may use, and Container Insights' "over pod
        # limit" metric has a limit to compare with.
        "resources": {
            "requests": {"cpu": "10m", "memory": memory_limit},
            "limits": {"memory": memory_limit},
        },
        "securityContext": _container_security(),
    }
    return [_namespace(namespace), _deployment(name, namespace, _labels(name, f"{role}-sample"), replicas, container)]


def _deployment(
    name: str,
    namespace: str,
    labels: dict[str, str],
    replicas: int,
    container: dict[str, Any],
    *,
    pod_annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    pod_metadata: dict[str, Any] = {"labels": labels}
    if pod_annotations:
        pod_metadata["annotations"] = pod_annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": pod_metadata,
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                },
            },
        },
    }


def _namespace(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {"app.kubernetes.io/part-of": PART_OF}},
    }


def _labels(name: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def _container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def _name(field: str, value: object, *, service: bool = False) -> None:
    valid, rule = (
        (is_rfc1035_label, "an RFC 1035 label: lower-case letters, digits and '-', starting with a letter")
        if service
        else (is_label, "an RFC 1123 label: lower-case letters, digits and '-', starting with a letter or digit")
    )
    if not valid(value):
        raise ValueError(f"{field} must be {rule}, ending with a letter or digit, at most 63 characters; got {value!r}")


def _integer(field: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    if value < minimum or value > 2**31 - 1:
        raise ValueError(f"{field} must be between {minimum} and {2**31 - 1}, got {value}")


def _positive(field: str, value: object) -> None:
    _integer(field, value, minimum=1)


def _port(field: str, value: object) -> None:
    _integer(field, value, minimum=1)
    if isinstance(value, int) and value > 65535:
        raise ValueError(f"{field} must be a port number (1-65535), got {value}")


def _threshold(field: str, value: object, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{field} must be {'zero or more' if allow_zero else 'greater than zero'}, got {value}")


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _memory_mib(field: str, value: object) -> int:
    match = _MEMORY.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'{field} must be a whole number of Mi or Gi, such as "128Mi" or "1Gi"; got {value!r}')
    return int(match["amount"]) * (1024 if match["unit"] == "Gi" else 1)


def _image(value: object) -> None:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value) or value != value.strip():
        raise ValueError(f"image must be a container image reference without spaces, got {value!r}")


def _server_address(value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"server_address must be the AMP workspace query endpoint (a string), got {value!r}")
    if value.endswith("/"):
        raise ValueError(
            f"server_address must not end with '/': KEDA appends /api/v1/query to it, got {value!r} "
            "(use https://aps-workspaces.<region>.amazonaws.com/workspaces/<workspace id>)"
        )
    if is_token(value):
        return  # built from CDK tokens (region, workspace id): checked where it is resolved
    if not value.startswith("https://"):
        raise ValueError(f"server_address must be an https:// URL (AMP's query endpoint), got {value!r}")
    if not re.match(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*$", value):
        raise ValueError(f"server_address is not a valid URL without query string or fragment, got {value!r}")

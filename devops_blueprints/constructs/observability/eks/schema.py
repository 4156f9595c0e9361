"""Offline validation of generated Kubernetes objects (plain Python, no CDK import).

- Built-in kinds: against the strict JSON schema of their apiVersion/kind for the cluster's minor version, from
  the schemas the ``kubernetes-validate`` package bundles (generated from Kubernetes' OpenAPI definitions;
  ``kubernetes-json-schema/v<MINOR>.0-local-strict``; strict = unknown properties are refused). See
  https://github.com/willthames/kubernetes-validate.
- KEDA kinds (ScaledObject, TriggerAuthentication): against keda_schema.py (from KEDA's CRDs), plus the CRD's CEL
  rule ``minReplicaCount <= maxReplicaCount``; a ``prometheus`` trigger's metadata: known keys only, the required
  ones present, numbers and booleans that parse, and the query through check_promql.
- On top of the schemas (which leave these free): ``metadata.name`` / ``metadata.namespace`` are DNS names
  (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/), and every ``resources.requests`` /
  ``resources.limits`` value is a Kubernetes quantity
  (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).

A failure raises ``ManifestError`` naming the object (kind/name), the JSON path inside it and the reason.
CDK tokens (``${Token[...]}``) are strings to the schemas, so unresolved values pass their type checks.

Not checked: admission-time rules (defaulting, immutability, cross-object references, the API server's own
validation beyond the OpenAPI schema), and kinds the bundled schema set does not know (they raise ManifestError).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from importlib.resources import files
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from devops_blueprints.constructs.observability.eks.keda_schema import (
    DEFAULT_MAX_REPLICA_COUNT,
    KEDA_GROUP,
    KEDA_SCHEMAS,
)
from devops_blueprints.constructs.observability.eks.names import is_label, is_rfc1035_label, is_subdomain, is_token
from devops_blueprints.constructs.observability.eks.promql import check_promql
from devops_blueprints.constructs.observability.eks.versions import SCHEMA_PACKAGE, schema_versions

# Kinds whose names are DNS labels (RFC 1123, at most 63 characters: Namespace; Deployment, whose name becomes
# part of its Pods' host names, "for best compatibility"); Service names are RFC 1035 labels (start with a
# letter); other kinds' names are DNS subdomains (253).
_LABEL_NAMED_KINDS = frozenset({"Namespace", "Deployment"})
QUANTITY = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
"""A Kubernetes quantity (serialization format of resource.Quantity)."""

KEDA_VALUES_KUBE_PATHS: Mapping[str, str] = {
    # KEDA chart values (https://github.com/kedacore/charts/blob/v2.21.1/keda/values.yaml) that are Kubernetes
    # objects, -> the Kubernetes definition they are passed through to.
    "resources.operator": "io.k8s.api.core.v1.ResourceRequirements",
    "resources.metricServer": "io.k8s.api.core.v1.ResourceRequirements",
    "resources.webhooks": "io.k8s.api.core.v1.ResourceRequirements",
    "securityContext.operator": "io.k8s.api.core.v1.SecurityContext",
    "securityContext.metricServer": "io.k8s.api.core.v1.SecurityContext",
    "securityContext.webhooks": "io.k8s.api.core.v1.SecurityContext",
    "podSecurityContext.operator": "io.k8s.api.core.v1.PodSecurityContext",
    "podSecurityContext.metricServer": "io.k8s.api.core.v1.PodSecurityContext",
    "podSecurityContext.webhooks": "io.k8s.api.core.v1.PodSecurityContext",
    "affinity": "io.k8s.api.core.v1.Affinity",
}
"""Where the KEDA chart's values hold Kubernetes objects. Not covered: chart-specific keys (``podIdentity.*``,
``serviceAccount.*``: checked as names by ``validate_helm_values``' ``name_paths``), and anything the chart
templates build from values itself."""

KEDA_VALUES_NAME_PATHS: tuple[str, ...] = ("serviceAccount.operator.name", "serviceAccount.metricServer.name")


class ManifestError(ValueError):
    """A generated Kubernetes object (or Helm value) does not validate: names the object, the path and the reason."""


def validate_manifests(objs: Iterable[Mapping[str, Any]], *, kubernetes_version: str, where: str = "") -> None:
    """Validate each object (see ``validate_manifest``); the first failure raises ManifestError."""
    for index, obj in enumerate(objs):
        validate_manifest(
            obj, kubernetes_version=kubernetes_version, where=f"{where}[{index}]" if where else f"[{index}]"
        )


def validate_manifest(obj: Mapping[str, Any], *, kubernetes_version: str, where: str = "") -> None:
    """Validate one Kubernetes object against the schema of its apiVersion/kind for ``kubernetes_version``
    ("1.36"). Raises ManifestError("<where> <Kind>/<name>: <json path>: <reason>")."""
    label = _label(obj, where)
    if not isinstance(obj, Mapping):
        raise ManifestError(f"{label}: $: a Kubernetes object must be a mapping, got {type(obj).__name__}")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    for field, value in (("apiVersion", api_version), ("kind", kind)):
        if not isinstance(value, str) or not value:
            raise ManifestError(f"{label}: $.{field}: required, a non-empty string (got {value!r})")
    api_version, kind = str(api_version), str(kind)
    data = _plain(obj, label)
    if api_version.split("/", 1)[0] == KEDA_GROUP:
        schema = KEDA_SCHEMAS.get((api_version, kind))
        if schema is None:
            known = ", ".join(f"{k[1]} ({k[0]})" for k in KEDA_SCHEMAS)
            raise ManifestError(f"{label}: $.kind: no schema for {kind} {api_version}; known KEDA kinds: {known}")
    else:
        schema = _kubernetes_schema(kubernetes_version, api_version, kind, label)
    _check(schema, data, kubernetes_version, label, "$")
    _check_names(data, kind, label)
    _check_quantities(data, label, "$")
    if kind == "ScaledObject":
        _check_replica_counts(data, label)
        for index, trigger in enumerate(data["spec"]["triggers"]):
            if trigger.get("type") == "prometheus":
                _check_prometheus_trigger(trigger["metadata"], label, f"$.spec.triggers[{index}].metadata")


def validate_helm_values(
    values: Mapping[str, Any],
    *,
    kubernetes_version: str,
    kube_paths: Mapping[str, str] = KEDA_VALUES_KUBE_PATHS,
    name_paths: Iterable[str] = KEDA_VALUES_NAME_PATHS,
    where: str = "helm values",
) -> None:
    """Validate the Kubernetes parts of Helm chart values: each dotted path in ``kube_paths`` that is present
    against its Kubernetes definition (e.g. ``resources.operator`` -> ResourceRequirements), each path in
    ``name_paths`` that is present as a DNS subdomain name. Other keys are the chart's own and are not checked.
    Default: the KEDA chart's paths."""
    for path, definition in kube_paths.items():
        found, value = _lookup(values, path)
        if not found:
            continue
        schema = {"$ref": f"/api/_definitions.json#/$defs/{definition}"}
        plain = _plain(value, where)
        _check(schema, plain, kubernetes_version, where, f"$.{path}")
        _check_quantities(plain, where, f"$.{path}", resources=definition.endswith("ResourceRequirements"))
    for path in name_paths:
        found, value = _lookup(values, path)
        if found and not is_token(value) and not is_subdomain(value):
            raise ManifestError(f"{where}: $.{path}: {value!r} is not a valid Kubernetes name (RFC 1123 subdomain)")


def _label(obj: Any, where: str) -> str:
    kind = name = "?"
    if isinstance(obj, Mapping):
        kind = str(obj.get("kind") or "?")
        metadata = obj.get("metadata")
        if isinstance(metadata, Mapping):
            name = str(metadata.get("name") or "?")
    return f"{where + ' ' if where else ''}{kind}/{name}"


def _plain(value: Any, label: str) -> Any:
    """A JSON round trip: mappings -> dicts, tuples -> lists; refuses what JSON cannot hold."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ManifestError(f"{label}: $: not JSON-serializable: {error}") from None


@lru_cache(maxsize=4)
def _registry(kubernetes_version: str) -> Registry:
    definitions = _load(kubernetes_version, "_definitions.json")
    return Registry().with_resource("/api/_definitions.json", Resource.from_contents(definitions))


def _schema_dir(kubernetes_version: str) -> str:
    if kubernetes_version not in schema_versions():
        raise ManifestError(
            f"kubernetes_version {kubernetes_version!r}: {SCHEMA_PACKAGE} bundles no schemas for it "
            f"(it has {', '.join(schema_versions())})"
        )
    return f"v{kubernetes_version}.0-local-strict"


def _load(kubernetes_version: str, name: str) -> Any:
    path = files("kubernetes_validate") / "kubernetes-json-schema" / _schema_dir(kubernetes_version) / name
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=64)
def _kubernetes_schema_cached(kubernetes_version: str, api_version: str, kind: str) -> Any:
    # The file naming of the bundled set: <kind>-<group without domain>-<version>.json, <kind>-<version>.json
    # for the core group (rbac.authorization.k8s.io/v1 -> rbac-v1).
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        return _load(kubernetes_version, f"{kind.lower()}-{group_version}.json")
    except FileNotFoundError:
        return None


def _kubernetes_schema(kubernetes_version: str, api_version: str, kind: str, label: str) -> Any:
    schema = _kubernetes_schema_cached(kubernetes_version, api_version, kind)
    if schema is None:
        raise ManifestError(
            f"{label}: $.kind: Kubernetes {kubernetes_version} has no schema for kind {kind!r} in "
            f"apiVersion {api_version!r}"
        )
    return schema


def _check(schema: Any, data: Any, kubernetes_version: str, label: str, root: str) -> None:
    validator = jsonschema.Draft202012Validator(schema, registry=_registry(kubernetes_version))
    error = best_match(validator.iter_errors(data))
    if error is None:
        return
    path = root + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    raise ManifestError(f"{label}: {path}: {_reason(error)}")


def _reason(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted((error.schema.get("properties") or {}).keys())
        unexpected = sorted(set(error.instance) - set(allowed))
        hint = f"; allowed: {', '.join(allowed)}" if 0 < len(allowed) <= 40 else ""
        return f"unknown field(s) {', '.join(map(repr, unexpected))}{hint}"
    message = error.message
    return message if len(message) <= 300 else message[:297] + "..."


def _check_names(data: Mapping[str, Any], kind: str, label: str) -> None:
    metadata = data.get("metadata") or {}
    name = metadata.get("name")
    if name is None:
        raise ManifestError(f"{label}: $.metadata.name: required")
    if not is_token(name):
        if kind == "Service":
            if not is_rfc1035_label(name):
                raise ManifestError(
                    f"{label}: $.metadata.name: {name!r} is not a valid Service name (RFC 1035 label: lower-case "
                    "letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 "
                    "characters)"
                )
        elif kind in _LABEL_NAMED_KINDS:
            if not is_label(name):
                raise ManifestError(
                    f"{label}: $.metadata.name: {name!r} is not a valid {kind} name (RFC 1123 label: lower-case "
                    "letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"
                )
        elif not is_subdomain(name):
            raise ManifestError(f"{label}: $.metadata.name: {name!r} is not a valid name (RFC 1123 subdomain)")
    namespace = metadata.get("namespace")
    if namespace is not None and not is_token(namespace) and not is_label(namespace):
        raise ManifestError(f"{label}: $.metadata.namespace: {namespace!r} is not a valid namespace (RFC 1123 label)")


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}[{index}]")


def _check_quantities(data: Any, label: str, root: str, *, resources: bool = False) -> None:
    candidates = [(root, data)] if resources else [(p, v) for p, v in _walk(data, root) if p.endswith(".resources")]
    for path, value in candidates:
        if not isinstance(value, dict):
            continue
        for section in ("requests", "limits"):
            amounts = value.get(section)
            if not isinstance(amounts, dict):
                continue
            for resource, amount in amounts.items():
                if is_token(amount) or (isinstance(amount, (int, float)) and not isinstance(amount, bool)):
                    continue
                if not (isinstance(amount, str) and QUANTITY.match(amount)):
                    raise ManifestError(
                        f"{label}: {path}.{section}.{resource}: {amount!r} is not a Kubernetes quantity "
                        '(e.g. "128Mi", "0.5", "250m")'
                    )


def _check_replica_counts(data: Mapping[str, Any], label: str) -> None:
    spec = data.get("spec") or {}
    low = spec.get("minReplicaCount")
    high = spec.get("maxReplicaCount", DEFAULT_MAX_REPLICA_COUNT)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        raise ManifestError(
            f"{label}: $.spec.minReplicaCount: {low} is greater than maxReplicaCount {high} "
            "(KEDA's CRD rule: minReplicaCount must be less than or equal to maxReplicaCount)"
        )


# The prometheus scaler's trigger metadata (KEDA v2.20.2 pkg/scalers/prometheus_scaler.go, prometheusMetadata and
# the trigger-metadata keys of authentication.Config; https://keda.sh/docs/latest/scalers/prometheus/). Unknown keys
# are ignored by KEDA, so a typo ("treshold", "activationThreshhold") would silently change nothing.
PROMETHEUS_TRIGGER_REQUIRED = ("serverAddress", "query", "threshold")
PROMETHEUS_TRIGGER_KEYS = frozenset(
    {
        *PROMETHEUS_TRIGGER_REQUIRED,
        "queryParameters",
        "activationThreshold",
        "namespace",
        "customHeaders",
        "ignoreNullValues",
        "unsafeSsl",
        "awsRegion",
        "timeout",
        "identityOwner",
        "authModes",
        "authMode",
        "apiKey",
        "method",
        "keyParamName",
    }
)
_FLOAT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_BOOLEAN = frozenset({"true", "false", "t", "f", "1", "0", "True", "False", "TRUE", "FALSE"})


def _check_prometheus_trigger(metadata: Mapping[str, str], label: str, root: str) -> None:
    for key in metadata:
        base = key.removesuffix("FromEnv")
        if base not in PROMETHEUS_TRIGGER_KEYS:
            raise ManifestError(
                f"{label}: {root}.{key}: unknown prometheus trigger parameter; known: "
                f"{', '.join(sorted(PROMETHEUS_TRIGGER_KEYS))} (each also as <name>FromEnv)"
            )
    for key in PROMETHEUS_TRIGGER_REQUIRED:
        if key not in metadata and f"{key}FromEnv" not in metadata:
            raise ManifestError(f"{label}: {root}: the prometheus trigger needs {key!r}")
    for key in ("threshold", "activationThreshold"):
        value = metadata.get(key)
        if value is not None and not is_token(value) and not _FLOAT.match(value):
            raise ManifestError(f"{label}: {root}.{key}: {value!r} is not a number")
    for key in ("ignoreNullValues", "unsafeSsl"):
        value = metadata.get(key)
        if value is not None and not is_token(value) and value not in _BOOLEAN:
            raise ManifestError(f'{label}: {root}.{key}: {value!r} is not a boolean ("true" or "false")')
    query = metadata.get("query")
    if query is not None and not is_token(query):
        try:
            check_promql(query)
        except ValueError as error:
            raise ManifestError(f"{label}: {root}.query: {error}") from None


def _lookup(values: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    current: Any = values
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current

"""JSON schemas for the two KEDA custom resources the sample applies (plain Python data, no CDK import).

Written for this project from the structural OpenAPI v3 schemas of KEDA's CRDs
``scaledobjects.keda.sh`` and ``triggerauthentications.keda.sh`` (version ``v1alpha1``), as published in
https://github.com/kedacore/keda/tree/v2.20.2/config/crd/bases (versions.KEDA_CRD_VERSION; the ScaledObject and
TriggerAuthentication schemas are unchanged on KEDA's main branch of 2026-08-20, on the way to the 2.21 release the
chart in versions.py installs). Field names, types, enums, minimums and required lists follow those CRDs; the secret-store
providers of a TriggerAuthentication that this sample does not use (awsSecretManager, azureKeyVault,
gcpSecretManager, hashiCorpVault, oauth2) are checked only as objects here.

One deliberate difference: these schemas refuse properties the CRD does not declare (``additionalProperties:
false``). The API server would silently prune such a field from a structural schema, so a typo such as
``minReplicas`` (instead of ``minReplicaCount``) would deploy and do nothing; here it fails synth with its path.
The CRD's CEL rule (``minReplicaCount <= maxReplicaCount``, max defaulting to 100) is checked in schema.py.

``metadata`` refers to Kubernetes' own ObjectMeta schema from the bundled set (``_definitions.json``).
"""

from __future__ import annotations

from typing import Any

KEDA_GROUP = "keda.sh"
KEDA_API_VERSION = "keda.sh/v1alpha1"
DEFAULT_MAX_REPLICA_COUNT = 100
"""maxReplicaCount when not given (the CRD's CEL rule and KEDA's docs: "Default: 100")."""

_OBJECT_META = {"$ref": "/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
_INT32_MIN0 = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_INT32_MIN1 = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
_QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _refs(required: list[str], optional: list[str] | None = None) -> dict[str, Any]:
    """A list of references whose items have these string fields (TriggerAuthentication's secretTargetRef, env,
    configMapTargetRef, boundServiceAccountToken)."""
    fields = {name: {"type": "string"} for name in [*required, *(optional or [])]}
    return {"type": "array", "items": _closed(fields, required)}


def _scaling_rules() -> dict[str, Any]:
    policy = _closed(
        {"periodSeconds": _INT32, "type": {"type": "string"}, "value": _INT32}, ["periodSeconds", "type", "value"]
    )
    return _closed(
        {
            "policies": {"type": "array", "items": policy},
            "selectPolicy": {"type": "string"},
            "stabilizationWindowSeconds": _INT32,
            "tolerance": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": _QUANTITY_PATTERN}]},
        }
    )


SCALED_OBJECT_SCHEMA: dict[str, Any] = _closed(
    {
        "apiVersion": {"const": KEDA_API_VERSION},
        "kind": {"const": "ScaledObject"},
        "metadata": _OBJECT_META,
        "spec": _closed(
            {
                "advanced": _closed(
                    {
                        "horizontalPodAutoscalerConfig": _closed(
                            {
                                "behavior": _closed({"scaleDown": _scaling_rules(), "scaleUp": _scaling_rules()}),
                                "name": {"type": "string"},
                            }
                        ),
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "scalingModifiers": _closed(
                            {
                                "activationTarget": {"type": "string"},
                                "formula": {"type": "string"},
                                "metricType": {"type": "string", "enum": ["AverageValue", "Value"]},
                                "target": {"type": "string"},
                            }
                        ),
                    }
                ),
                "cooldownPeriod": _INT32_MIN0,
                "fallback": _closed(
                    {
                        "behavior": {
                            "type": "string",
                            "enum": [
                                "static",
                                "currentReplicas",
                                "currentReplicasIfHigher",
                                "currentReplicasIfLower",
                                "scalingModifiers",
                            ],
                        },
                        "failureThreshold": _INT32_MIN0,
                        "replicas": _INT32_MIN0,
                    },
                    ["failureThreshold", "replicas"],
                ),
                "idleReplicaCount": _INT32_MIN0,
                "initialCooldownPeriod": _INT32_MIN0,
                "maxReplicaCount": _INT32_MIN1,
                "minReplicaCount": _INT32_MIN0,
                "pollingInterval": _INT32_MIN1,
                "scaleTargetRef": _closed(
                    {
                        "apiVersion": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string", "minLength": 1},
                    },
                    ["name"],
                ),
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": _closed(
                        {
                            "authenticationRef": _closed(
                                {
                                    "kind": {
                                        "type": "string",
                                        "enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"],
                                    },
                                    "name": {"type": "string"},
                                },
                                ["name"],
                            ),
                            # Trigger metadata values are strings, numbers included ("threshold": "10").
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                            "metricType": {"type": "string"},
                            "name": {"type": "string"},
                            "type": {"type": "string", "minLength": 1},
                            "useCachedMetrics": {"type": "boolean"},
                        },
                        ["metadata", "type"],
                    ),
                },
            },
            ["scaleTargetRef", "triggers"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)

TRIGGER_AUTHENTICATION_SCHEMA: dict[str, Any] = _closed(
    {
        "apiVersion": {"const": KEDA_API_VERSION},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _OBJECT_META,
        "spec": _closed(
            {
                "podIdentity": _closed(
                    {
                        "externalID": {"type": "string"},
                        "identityAuthorityHost": {"type": "string"},
                        "identityId": {"type": "string"},
                        "identityOwner": {"type": "string", "enum": ["keda", "workload"]},
                        "identityTenantId": {"type": "string"},
                        "provider": {"type": "string", "enum": ["azure-workload", "gcp", "aws", "aws-eks", "none"]},
                        "roleArn": {"type": "string"},
                    },
                    ["provider"],
                ),
                # Secret-store providers: present in the CRD, not used by this sample, checked only by type; the
                # reference lists have their simple item shapes.
                "awsSecretManager": {"type": "object"},
                "azureKeyVault": {"type": "object"},
                "boundServiceAccountToken": _refs(["parameter", "serviceAccountName"]),
                "configMapTargetRef": _refs(["key", "name", "parameter"]),
                "env": _refs(["name", "parameter"], optional=["containerName"]),
                "filePath": {"type": "string"},
                "gcpSecretManager": {"type": "object"},
                "hashiCorpVault": {"type": "object"},
                "oauth2": {"type": "object"},
                "secretTargetRef": _refs(["key", "name", "parameter"]),
            }
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)

KEDA_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    (KEDA_API_VERSION, "ScaledObject"): SCALED_OBJECT_SCHEMA,
    (KEDA_API_VERSION, "TriggerAuthentication"): TRIGGER_AUTHENTICATION_SCHEMA,
}
"""(apiVersion, kind) -> schema, for the KEDA objects schema.py validates."""

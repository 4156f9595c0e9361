"""EKS container observability (issue 17): the cluster construct and AMP + KEDA (CDK), and the plain-Python parts
they build on — versions in one place, Kubernetes manifests of the samples, their offline schema validation, and
a PromQL syntax check."""

from __future__ import annotations

# Re-exports are added as the modules land (an import of a missing module here would break every import of
# the package, versions.py's included).

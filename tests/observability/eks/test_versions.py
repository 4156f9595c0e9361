"""versions.py: the versions in one place agree with what is installed and locked (aws-cdk-lib's KubernetesVersion,
the kubectl layer package, the bundled schema set, the KEDA chart's tested window), and check_kubernetes_version
gives one clear error for each way a version can be wrong."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from aws_cdk import aws_eks_v2

from devops_blueprints.constructs.observability.eks import versions
from devops_blueprints.constructs.observability.eks.versions import (
    ADDON_VERSIONS,
    CDK_KUBERNETES_VERSIONS,
    KEDA_CHART,
    KEDA_TESTED_KUBERNETES,
    KUBECTL_LAYER_CLASS,
    KUBECTL_LAYER_MODULE,
    KUBECTL_LAYER_PACKAGE,
    KUBERNETES_VERSION,
    check_kubernetes_version,
    kubectl_layer_module,
    kubectl_layer_package,
)

ROOT = Path(__file__).resolve().parents[3]


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_cdk_kubernetes_versions_are_exactly_the_installed_enum_members() -> None:
    # GIVEN the installed aws-cdk-lib's KubernetesVersion members V1_xx
    members = {f"1.{name[3:]}" for name in dir(aws_eks_v2.KubernetesVersion) if re.fullmatch(r"V1_[0-9]+", name)}
    # THEN versions.py's copy is the same set, and the chosen version is its newest member
    assert members == CDK_KUBERNETES_VERSIONS
    assert max(CDK_KUBERNETES_VERSIONS, key=_minor) == KUBERNETES_VERSION
    member = getattr(aws_eks_v2.KubernetesVersion, "V1_" + KUBERNETES_VERSION.split(".")[1])
    assert member.version == KUBERNETES_VERSION


def test_the_kubectl_layer_package_matches_the_cluster_version_and_is_installed() -> None:
    assert kubectl_layer_package(KUBERNETES_VERSION) == KUBECTL_LAYER_PACKAGE
    assert kubectl_layer_module(KUBERNETES_VERSION) == KUBECTL_LAYER_MODULE
    metadata = importlib.metadata.metadata(KUBECTL_LAYER_PACKAGE)
    # The package says which kubectl it carries ("A Lambda Layer that contains kubectl v1.36").
    assert metadata["Summary"].endswith(f"kubectl v{KUBERNETES_VERSION}")
    module = importlib.import_module(KUBECTL_LAYER_MODULE)
    assert hasattr(module, KUBECTL_LAYER_CLASS)
    assert versions.installed_kubectl_layers() == [KUBERNETES_VERSION]


def test_the_kubectl_layer_and_schema_packages_are_declared_and_locked() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {_normalized(re.split(r"[<>=!~ ;\[]", spec, maxsplit=1)[0]) for spec in declared}
    assert _normalized(KUBECTL_LAYER_PACKAGE) in names
    assert _normalized(versions.SCHEMA_PACKAGE) in names
    installed = importlib.metadata.version(KUBECTL_LAYER_PACKAGE)
    for lock in ("requirements.txt", "requirements-dev.txt"):
        pins = {
            _normalized(match[1]): match[2]
            for match in re.finditer(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", (ROOT / lock).read_text(), re.MULTILINE)
        }
        assert pins[_normalized(KUBECTL_LAYER_PACKAGE)] == installed, lock
        assert _normalized(versions.SCHEMA_PACKAGE) in pins, lock
        # Exactly one kubectl layer is locked: the one for the cluster version.
        layers = [name for name in pins if name.startswith("aws-cdk-lambda-layer-kubectl-v")]
        assert layers == [_normalized(KUBECTL_LAYER_PACKAGE)], lock


def test_the_schema_set_bundles_the_cluster_version() -> None:
    assert KUBERNETES_VERSION in versions.schema_versions()


def test_the_keda_chart_is_tested_against_the_cluster_version() -> None:
    low, high = KEDA_TESTED_KUBERNETES
    assert _minor(low) <= _minor(KUBERNETES_VERSION) <= _minor(high)
    assert KEDA_CHART.chart == "keda"
    assert KEDA_CHART.repository == "https://kedacore.github.io/charts"
    assert re.fullmatch(r"2\.[0-9]+\.[0-9]+", KEDA_CHART.version)
    assert KEDA_CHART.app_version == KEDA_CHART.version
    # The KEDA schemas follow the CRDs of the same major release, at most one minor version behind the chart.
    crd_major, crd_minor = (int(part) for part in versions.KEDA_CRD_VERSION.split(".")[:2])
    chart_major, chart_minor = (int(part) for part in KEDA_CHART.version.split(".")[:2])
    assert crd_major == chart_major
    assert 0 <= chart_minor - crd_minor <= 1
    assert versions.KEDA_CRD_VERSION in versions.KEDA_CRD_SOURCE
    with pytest.raises(AttributeError):
        KEDA_CHART.version = "2.0.0"  # type: ignore[misc]


def test_addon_versions_are_pinned_eks_builds() -> None:
    assert set(ADDON_VERSIONS) >= {"amazon-cloudwatch-observability", "eks-pod-identity-agent"}
    for name, version in ADDON_VERSIONS.items():
        assert re.fullmatch(r"v[0-9]+\.[0-9]+\.[0-9]+-eksbuild\.[0-9]+", version), name
    # The OpenTelemetry mode of Container Insights needs 6.2.0 or later of the add-on.
    major, minor = (int(part) for part in ADDON_VERSIONS["amazon-cloudwatch-observability"][1:].split(".")[:2])
    assert (major, minor) >= (6, 2)
    with pytest.raises(TypeError):
        ADDON_VERSIONS["x"] = "v1.0.0-eksbuild.1"  # type: ignore[index]


def test_the_cluster_version_passes_the_check() -> None:
    check_kubernetes_version(KUBERNETES_VERSION)


@pytest.mark.parametrize("bad", ["1.36.1", "v1.36", "1", "", "1.x", " 1.36", 1.36, None])
def test_a_malformed_version_is_one_error(bad: object) -> None:
    with pytest.raises(ValueError, match=r'kubernetes_version must look like "1\.36" \(MAJOR\.MINOR\), got'):
        check_kubernetes_version(bad)  # type: ignore[arg-type]


def test_a_version_cdk_does_not_know_is_one_error() -> None:
    with pytest.raises(
        ValueError, match=r"kubernetes_version 1\.24 is not a member of aws_cdk\.aws_eks_v2\.KubernetesVersion"
    ):
        check_kubernetes_version("1.24")
    with pytest.raises(ValueError, match=r"kubernetes_version 1\.37 is not a member"):
        check_kubernetes_version("1.37")


def test_a_version_whose_kubectl_layer_is_not_installed_is_one_error() -> None:
    # GIVEN 1.35, which aws-cdk-lib knows, but only the v36 layer is installed
    with pytest.raises(
        ValueError,
        match=r"kubernetes_version 1\.35 needs the kubectl layer package aws-cdk\.lambda-layer-kubectl-v35, "
        r"which is not installed \(installed: aws-cdk\.lambda-layer-kubectl-v36\)",
    ):
        check_kubernetes_version("1.35")


def test_a_version_without_schemas_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a schema package that does not bundle the cluster version
    monkeypatch.setattr(versions, "schema_versions", lambda: ["1.33", "1.34"])
    with pytest.raises(
        ValueError,
        match=r"kubernetes_version 1\.36 has no JSON schemas in the installed kubernetes-validate \(it bundles 1\.33, 1\.34\)",
    ):
        check_kubernetes_version(KUBERNETES_VERSION)

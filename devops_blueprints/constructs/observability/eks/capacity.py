"""What a managed node group can hold, and what Kubernetes objects ask of it (plain Python, no CDK import).

The check is an estimate made before anything is deployed, so that a node group too small for the samples fails
synth with one clear line instead of leaving pods ``Pending`` after a 20-minute deploy. It reads
``resources.requests`` (what the scheduler reserves,
https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#how-pods-with-resource-requests-are-scheduled)
of every pod template, times its replicas.

Per node, the scheduler can place pods in the node's allocatable capacity. The EKS-optimized AMIs reserve for the
kubelet and the system (``kube-reserved``) 255 MiB plus 11 MiB for each pod the node may run, and CPU by a sliding
scale (6 % of the first core, 1 % of the second, 0.5 % of the next two, 0.25 % above), and evict below 100 MiB
(nodeadm's kubelet defaults in https://github.com/awslabs/amazon-eks-ami);
the add-ons' DaemonSets run on every node as well (:data:`DAEMONSET_OVERHEAD`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: vCPUs and memory (MiB) of the instance types the check knows without being told
#: (https://aws.amazon.com/ec2/instance-types/, "General Purpose" and "Compute Optimized").
INSTANCE_SIZES: Mapping[str, tuple[int, int]] = {
    "t3.medium": (2, 4096),
    "t3.large": (2, 8192),
    "t3.xlarge": (4, 16384),
    "t3a.medium": (2, 4096),
    "t3a.large": (2, 8192),
    "m5.large": (2, 8192),
    "m5.xlarge": (4, 16384),
    "m6i.large": (2, 8192),
    "m6i.xlarge": (4, 16384),
    "m7i.large": (2, 8192),
    "m7i.xlarge": (4, 16384),
    "c5.large": (2, 4096),
    "c6i.large": (2, 4096),
    "c7i.large": (2, 4096),
}
#: Pods per node the kube-reserved memory is computed for (the VPC CNI's figure for a 3-ENI "large" instance is
#: 29-35; 35 is the larger, so the estimate errs on the safe side).
PODS_PER_NODE = 35
#: CPU (millicores) and memory (MiB) the cluster's DaemonSets take on every node: the CloudWatch agent
#: (200m/200Mi in the classic mode, the larger of the two modes,
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/container-insights-eks-migrate-from-classic.html),
#: Fluent Bit, the EKS Pod Identity agent, kube-proxy and the VPC CNI (their manifests' requests, rounded up).
DAEMONSET_OVERHEAD = (500, 512)

_CPU = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>m?)$")
_MEMORY = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T|)$")
_MEMORY_FACTORS = {
    "": 1 / 2**20,
    "k": 1000 / 2**20,
    "M": 10**6 / 2**20,
    "G": 10**9 / 2**20,
    "T": 10**12 / 2**20,
    "Ki": 1 / 1024,
    "Mi": 1.0,
    "Gi": 1024.0,
    "Ti": 1024.0**2,
}


@dataclasses.dataclass(frozen=True)
class Demand:
    """CPU (millicores) and memory (MiB) that ``what`` asks the scheduler for."""

    what: str
    cpu_millicores: float
    memory_mib: float

    def __add__(self, other: Demand) -> Demand:
        return Demand(
            f"{self.what}, {other.what}", self.cpu_millicores + other.cpu_millicores, self.memory_mib + other.memory_mib
        )


def parse_cpu(quantity: str | int | float, *, where: str) -> float:
    """A Kubernetes CPU quantity ("250m", "0.5", 1) in millicores."""
    text = str(quantity)
    match = _CPU.match(text)
    if isinstance(quantity, bool) or not match:
        raise ValueError(f'{where}: CPU quantity must look like "250m" or "0.5", got {quantity!r}')
    number = float(match["number"])
    return number if match["unit"] == "m" else number * 1000


def parse_memory(quantity: str | int | float, *, where: str) -> float:
    """A Kubernetes memory quantity ("64Mi", "1Gi", "128M", 1048576) in MiB."""
    text = str(quantity)
    match = _MEMORY.match(text)
    if isinstance(quantity, bool) or not match:
        raise ValueError(f'{where}: memory quantity must look like "64Mi" or "1Gi", got {quantity!r}')
    return float(match["number"]) * _MEMORY_FACTORS[match["unit"]]


def _pod_template(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], int] | None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec, 1
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        replicas = spec.get("replicas", 1)
        return (spec.get("template") or {}).get("spec") or {}, int(replicas)
    return None


def requests_of(objs: Iterable[Mapping[str, Any]], *, replicas: Mapping[str, int] | None = None) -> Demand:
    """The summed ``resources.requests`` of every pod the objects run (Pod, Deployment, StatefulSet, ReplicaSet).

    :param replicas: ``{object name: replicas}`` to count instead of ``spec.replicas`` (e.g. a KEDA target at its
        maximum). A container without requests counts as zero, which is what the scheduler reserves for it.
    """
    cpu = memory = 0.0
    names = []
    for obj in objs:
        template = _pod_template(obj)
        if template is None:
            continue
        pod_spec, count = template
        name = str((obj.get("metadata") or {}).get("name", "?"))
        count = (replicas or {}).get(name, count)
        names.append(f"{obj.get('kind')}/{name} x{count}")
        for container in pod_spec.get("containers") or ():
            requests = (container.get("resources") or {}).get("requests") or {}
            where = f"{obj.get('kind')}/{name} container {container.get('name')!r} resources.requests"
            if "cpu" in requests:
                cpu += count * parse_cpu(requests["cpu"], where=f"{where}.cpu")
            if "memory" in requests:
                memory += count * parse_memory(requests["memory"], where=f"{where}.memory")
    return Demand(", ".join(names) or "nothing", cpu, memory)


def kube_reserved(vcpus: int, memory_mib: int) -> tuple[float, float]:
    """CPU (millicores) and memory (MiB) the node keeps from pods: kube-reserved plus the eviction threshold."""
    cpu = 0.0
    for core in range(vcpus):
        cpu += 1000 * (0.06 if core == 0 else 0.01 if core == 1 else 0.005 if core < 4 else 0.0025)
    return cpu, 255 + 11 * PODS_PER_NODE + 100.0


def allocatable(vcpus: int, memory_mib: int) -> tuple[float, float]:
    """What one node leaves for workload pods after kube-reserved, eviction and the DaemonSets."""
    reserved_cpu, reserved_memory = kube_reserved(vcpus, memory_mib)
    return (
        vcpus * 1000 - reserved_cpu - DAEMONSET_OVERHEAD[0],
        memory_mib - reserved_memory - DAEMONSET_OVERHEAD[1],
    )


def check_capacity(*, instance_type: str, vcpus: int, memory_mib: int, nodes: int, demands: Iterable[Demand]) -> None:
    """One ValueError when ``nodes`` x ``instance_type`` cannot hold the summed demands (at the minimum size).

    The sum is compared with the group's total allocatable capacity; bin-packing can only make it worse, so a
    pass is necessary, not sufficient — the docs say so, and the samples leave headroom."""
    total = Demand("nothing", 0, 0)
    for demand in demands:
        total = demand if total.what == "nothing" else total + demand
    cpu, memory = allocatable(vcpus, memory_mib)
    if cpu * nodes < total.cpu_millicores or memory * nodes < total.memory_mib:
        raise ValueError(
            f"node_group: {nodes} x {instance_type} leave about {max(cpu, 0) * nodes:.0f}m CPU and "
            f"{max(memory, 0) * nodes:.0f} MiB for workloads at min_size, but the workloads request "
            f"{total.cpu_millicores:.0f}m CPU and {total.memory_mib:.0f} MiB ({total.what}); raise min_size or "
            "choose a larger instance_type"
        )

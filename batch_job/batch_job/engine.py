"""ONNX Runtime inference: provider chosen by availability, threads sized to the CPUs this process may use."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from batch_job.errors import EXIT_USAGE, JobError, printable

DEFAULT_MODEL = Path("/opt/model/resnet18.onnx")
# A model file bigger than this is refused before it is loaded (ResNet-18 is 45 MB in fp32).
MAX_MODEL_BYTES = 1024 * 1024 * 1024
# In order of preference; only those this onnxruntime build offers are used (CPU is always last).
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def default_model_path(env: Mapping[str, str] | None = None) -> Path:
    """``EMBEDDING_MODEL`` of ``env`` (default: the process environment) if set, else the model baked into
    the container image."""
    value = (os.environ if env is None else env).get("EMBEDDING_MODEL", "").strip()
    return Path(value) if value else DEFAULT_MODEL


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may run on: affinity mask, capped by a cgroup CPU quota (containers, Fargate)."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    quota = _cgroup_quota(cgroup)
    if quota is not None:
        count = min(count, max(1, int(quota)))
    return max(1, count)


def _cgroup_quota(cgroup: Path) -> float | None:
    """CPUs allowed by the cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``; None when unlimited/unknown."""
    try:
        fields = (cgroup / "cpu.max").read_text().split()
        if len(fields) >= 2 and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


class Embedder:
    """An ONNX image-embedding model: ``embed(batch)`` maps (N, 3, 224, 224) float32 to (N, D) float32."""

    def __init__(self, model_path: Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        where = f"model {printable(str(model_path))}"
        try:
            info = model_path.stat()
        except FileNotFoundError:
            raise JobError(
                f"{where}: no such file (expected an ONNX model; create one with "
                "`python -m batch_job export-model --out PATH` or set EMBEDDING_MODEL)",
                EXIT_USAGE,
            ) from None
        except OSError as exc:
            raise JobError(f"{where}: cannot be read ({exc.strerror or exc})", EXIT_USAGE) from None
        if not stat.S_ISREG(info.st_mode):
            raise JobError(f"{where}: not a regular file (expected an ONNX model file)", EXIT_USAGE)
        if info.st_size > MAX_MODEL_BYTES:
            raise JobError(
                f"{where}: file is {info.st_size} bytes, over the {MAX_MODEL_BYTES}-byte limit for a model", EXIT_USAGE
            )
        available = set(ort.get_available_providers())
        self.providers = [p for p in PREFERRED_PROVIDERS if p in available] or ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or usable_cpus()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle intra-op threads spin by default; with the decode threads sharing the same cores, spinning only
        # steals their CPU time.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(model_path), options, providers=self.providers)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise JobError(f"{where}: not a loadable ONNX model ({printable(first)})", EXIT_USAGE) from exc
        self.threads = options.intra_op_num_threads
        self.providers = list(self._session.get_providers())
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, 224, 224]:
            shapes = [i.shape for i in inputs]
            raise JobError(f"{where}: expected one input (N, 3, 224, 224), got {printable(str(shapes))}", EXIT_USAGE)
        self.input_name = inputs[0].name
        self._output = outputs[0].name
        dim = outputs[0].shape[-1]
        self.dimension = (
            int(dim) if isinstance(dim, int) else int(self.embed(np.zeros((1, 3, 224, 224), np.float32)).shape[1])
        )
        metadata = self._session.get_modelmeta().custom_metadata_map
        self.name = metadata.get("model") or model_path.stem

    def embed(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """Vectors for a batch of preprocessed images, float32, one row per image."""
        result = self._session.run([self._output], {self.input_name: batch})[0]
        return np.ascontiguousarray(result, dtype=np.float32).reshape(batch.shape[0], -1)

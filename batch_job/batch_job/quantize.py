"""``python -m batch_job quantize``: an int8 copy of an fp32 model, calibrated on sample images.

Static quantization in QDQ form (per-channel int8 weights, uint8 activations, MinMax calibration): ONNX
Runtime then runs the convolutions as int8 kernels (VNNI/AVX-512 or AVX2 on x86, dot-product on Arm),
several times faster than fp32 on CPU. The calibration images should look like the images the job will
embed; the command reports the cosine similarity of int8 to fp32 vectors on images it did not calibrate on.
Needs the ``onnx`` package (the ``export`` extra); the runtime image only runs the result.

Untrusted input: calibration images are read by the rules of ``local`` (regular files inside ``--images``
only) and decoded by the same allow-listed decoders and limits; an unusable one is skipped and counted.
A model that is not an fp32 image model (not loadable, the wrong input, already quantized) or that the
quantizer cannot handle is one error line, exit 2; so is a quantized result ONNX Runtime cannot load, which
is never renamed onto ``--out``. The quantizer's own log warnings are kept off stderr, so an error stays one
line.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from batch_job.engine import Embedder
from batch_job.errors import EXIT_SYSTEMIC, EXIT_USAGE, ImageError, JobError, SourceError, printable
from batch_job.local import Listing, file_reader, list_images
from batch_job.outputs import check_outputs, staged
from batch_job.preprocess import preprocess

# Operators of an already quantized model (QDQ or integer-operator form): quantizing it again is refused.
QUANTIZED_OPS = frozenset(
    {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"}
)


@dataclass(frozen=True)
class Quantized:
    """What ``quantize`` made: the model name, cosine to fp32 on held-out images, and the samples used."""

    name: str
    min_cosine: float
    mean_cosine: float
    calibrated: int
    held_out: int
    unusable: int


def _tensors(listing: Listing, ids: list[str]) -> NDArray[np.float32]:
    read = file_reader(listing)  # the same rules as `local`: regular files inside --images only
    tensors = []
    for image_id in ids:
        try:
            tensors.append(preprocess(read(image_id, lambda _size: None)))
        except (ImageError, SourceError):
            continue  # a bad sample is simply not used
    return np.stack(tensors) if tensors else np.empty((0, 3, 224, 224), np.float32)


def cosine_rows(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float64]:
    """Cosine similarity of corresponding rows; 0 where a row is zero or not finite (nothing to compare)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        cos = np.divide(np.sum(a64 * b64, axis=1), norms, out=np.zeros(len(a64)), where=norms > 0)
    return np.asarray(np.where(np.isfinite(cos), cos, 0.0))


def _check_not_quantized(model: Path) -> None:
    import onnx

    where = f"--model {printable(str(model))}"
    try:
        proto = onnx.load(str(model), load_external_data=False)
    except Exception as exc:
        raise JobError(f"{where}: not a loadable ONNX model ({_reason(exc)})", EXIT_USAGE) from None
    found = sorted({node.op_type for node in proto.graph.node} & QUANTIZED_OPS)
    if found:
        raise JobError(
            f"{where}: is already quantized ({', '.join(found)} operators); quantize the fp32 model", EXIT_USAGE
        )


@contextlib.contextmanager
def _quiet_library_logs() -> Iterator[None]:
    """onnxruntime.quantization logs warnings on the root logger; keep them off stderr while it runs."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _reason(exc: BaseException) -> str:
    return printable((str(exc).strip().splitlines() or [type(exc).__name__])[0])


def quantize_model(model: Path, images: Path, out: Path, *, calibration: int = 64, check: int = 32) -> Quantized:
    """Write the int8 model to ``out`` (nothing is written unless it loads); returns what was made."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    check_outputs([("--out", out)], inputs=[("--model", model)], input_dirs=[("--images", images)])
    fp32 = Embedder(model)
    _check_not_quantized(model)
    listing = list_images(images)
    wanted = listing.image_ids[: calibration + check]
    samples = _tensors(listing, wanted)
    unusable = len(wanted) - len(samples) + len(listing.refused)
    if len(samples) < 2:
        raise JobError(
            f"--images {printable(str(images))}: need at least 2 decodable images to calibrate, found {len(samples)}",
            EXIT_USAGE,
        )
    held_out = min(check, len(samples) // 2)
    calibrate, verify = samples[: len(samples) - held_out], samples[len(samples) - held_out :]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter([calibrate[i : i + 8] for i in range(0, len(calibrate), 8)])

        def get_next(self) -> dict[str, NDArray[np.float32]] | None:
            batch = next(self._batches, None)
            return None if batch is None else {fp32.input_name: batch}

    import onnx

    where = f"--model {printable(str(model))}"
    with tempfile.TemporaryDirectory(prefix="quantize-") as tmp, staged([out]) as (staged_out,):
        prepared = Path(tmp) / "prepared.onnx"
        try:
            with _quiet_library_logs():
                quant_pre_process(str(model), str(prepared), skip_symbolic_shape=True)
                quantize_static(
                    str(prepared),
                    str(staged_out),
                    Reader(),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                )
        except OSError as exc:
            raise JobError(f"cannot write the quantized model beside --out ({_reason(exc)})", EXIT_SYSTEMIC) from None
        except Exception as exc:  # the quantizer raises anything from deep inside on a model it cannot handle
            raise JobError(f"{where}: cannot be quantized ({_reason(exc)})", EXIT_USAGE) from None
        proto = onnx.load(str(staged_out))
        name = f"{fp32.name}-int8"
        del proto.metadata_props[:]
        for key, value in {"model": name, "dimension": str(fp32.dimension), "preprocessing": "imagenet-224"}.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(staged_out))
        try:
            int8 = Embedder(staged_out)
        except JobError as exc:
            message = str(exc).split(": ", 1)[-1]
            raise JobError(f"{where}: quantizing it gave a model that {message}", EXIT_USAGE) from None
        cos = cosine_rows(fp32.embed(verify), int8.embed(verify))
    return Quantized(name, float(cos.min()), float(cos.mean()), len(calibrate), len(verify), unusable)

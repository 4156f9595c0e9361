"""``python -m batch_job quantize``: an int8 copy of an fp32 model, calibrated on sample images.

Static quantization in QDQ form (per-channel int8 weights, uint8 activations, MinMax calibration): ONNX
Runtime then runs the convolutions as int8 kernels (VNNI/AVX-512 or AVX2 on x86, dot-product on Arm),
several times faster than fp32 on CPU. The calibration images should look like the images the job will
embed; the command reports the cosine similarity of int8 to fp32 vectors on images it did not calibrate on.
Needs the ``onnx`` package (the ``export`` extra); the runtime image only runs the result.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from batch_job.engine import Embedder
from batch_job.errors import EXIT_USAGE, ImageError, JobError, SourceError
from batch_job.local import Listing, file_reader, list_images
from batch_job.outputs import check_outputs, staged
from batch_job.preprocess import preprocess


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
    """Cosine similarity of corresponding rows."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return np.asarray(np.sum(a64 * b64, axis=1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)))


def quantize_model(
    model: Path, images: Path, out: Path, *, calibration: int = 64, check: int = 32
) -> tuple[str, float, float]:
    """Write the int8 model to ``out``; returns (model name, min cosine, mean cosine) on held-out images."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    check_outputs([("--out", out)], inputs=[("--model", model)], input_dirs=[("--images", images)])
    fp32 = Embedder(model)
    listing = list_images(images)
    samples = _tensors(listing, listing.image_ids[: calibration + check])
    if len(samples) < 2:
        raise JobError(
            f"--images {images}: need at least 2 decodable images to calibrate, found {len(samples)}", EXIT_USAGE
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

    with tempfile.TemporaryDirectory(prefix="quantize-") as tmp, staged([out]) as (staged_out,):
        prepared = Path(tmp) / "prepared.onnx"
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
        proto = onnx.load(str(staged_out))
        name = f"{fp32.name}-int8"
        del proto.metadata_props[:]
        for key, value in {"model": name, "dimension": str(fp32.dimension), "preprocessing": "imagenet-224"}.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(staged_out))
        cos = cosine_rows(fp32.embed(verify), Embedder(staged_out).embed(verify))
    return name, float(cos.min()), float(cos.mean())

"""A deterministic, non-random image model for fidelity checks: Gabor filters -> ReLU -> 7x7 average grid.

24 filters (3 wavelengths x 4 orientations x 2 phases, 15x15, on the luma of the normalised input) with
stride 2, rectified and averaged over a 7x7 grid: a 1,176-d vector of local texture energy by position, so
a change of fine detail or a shift of a pixel changes it, unlike a random-weight ResNet-18.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def gabor_bank(size: int = 15) -> np.ndarray:
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    filters = []
    for wavelength in (3.0, 6.0, 12.0):
        sigma = 0.56 * wavelength
        for angle in np.arange(4) * np.pi / 4:
            xr = x * np.cos(angle) + y * np.sin(angle)
            yr = -x * np.sin(angle) + y * np.cos(angle)
            envelope = np.exp(-(xr**2 + yr**2) / (2 * sigma**2))
            for phase in (0.0, np.pi / 2):
                kernel = envelope * np.cos(2 * np.pi * xr / wavelength + phase)
                kernel -= kernel.mean()
                filters.append(kernel / np.abs(kernel).sum())
    bank = np.stack(filters)[:, None].astype(np.float32)  # (24, 1, k, k)
    return np.repeat(bank, 3, axis=1) / 3  # the same filter on R, G and B: a filter of their mean


def texture_model(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(gabor_bank(), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2], pads=[7, 7, 7, 7]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("AveragePool", ["r"], ["p"], kernel_shape=[16, 16], strides=[16, 16]),
        helper.make_node("Flatten", ["p"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "texture",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 24 * 7 * 7])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = "model", "gabor-texture"
    onnx.save(model, str(path))
    return path

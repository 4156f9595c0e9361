"""Command line: ``python -m batch_job run | local | export-model | quantize``."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from batch_job.errors import EXIT_OK, EXIT_USAGE, JobError
from batch_job.outputs import check_outputs

# The reduced-precision model must stay this close to the fp32 vectors.
MIN_COSINE = 0.99


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m batch_job", description="ResNet-18 image embeddings.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="AWS Batch mode: embed this array child's slice of the manifest into DynamoDB",
        description="Configured by the environment: IMAGES_BUCKET, RESULTS_TABLE, MANIFEST_KEY, CHUNK_SIZE, "
        "AWS_BATCH_JOB_ARRAY_INDEX (default 0), EMBEDDING_MODEL (default /opt/model/resnet18.onnx; a path or "
        "s3://<bucket>/<key>, downloaded when the job starts).",
    )
    run.add_argument("--batch-size", type=_positive, default=32, help="images per inference call (32)")
    run.add_argument(
        "--workers", type=_positive, default=None, help="concurrent S3 reads (4 per usable CPU, at least 8)"
    )

    local = commands.add_parser("local", help="embed a folder of images into a Parquet file (no AWS)")
    local.add_argument("--images", type=Path, required=True, help="folder of images (searched recursively)")
    local.add_argument("--out", type=Path, required=True, help="Parquet file to write (image_id, vector)")
    local.add_argument(
        "--model",
        type=Path,
        default=None,
        help="ONNX model (default: $EMBEDDING_MODEL or /opt/model/resnet18.onnx)",
    )
    local.add_argument("--batch-size", type=_positive, default=32, help="images per inference call (32)")
    local.add_argument("--workers", type=_positive, default=2, help="concurrent file reads (2)")

    export = commands.add_parser("export-model", help="export ResNet-18 (512-d pooled features) to ONNX")
    export.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    source = export.add_mutually_exclusive_group()
    source.add_argument("--random", action="store_true", help="random weights (no download)")
    source.add_argument("--weights", type=Path, default=None, help="a torchvision ResNet-18 state_dict file")

    quantize = commands.add_parser("quantize", help="int8 copy of a model, calibrated on sample images")
    quantize.add_argument("--model", type=Path, required=True, help="fp32 ONNX model (from export-model)")
    quantize.add_argument("--images", type=Path, required=True, help="folder of images like those to embed")
    quantize.add_argument("--out", type=Path, required=True, help="int8 ONNX file to write")
    quantize.add_argument("--calibration", type=_positive, default=64, help="images to calibrate on (64)")
    return parser


def _run(args: argparse.Namespace) -> int:
    from batch_job.aws import run

    summary, _ = run(batch_size=args.batch_size, workers=args.workers)
    print(summary.line(), flush=True)
    return EXIT_OK


def _local(args: argparse.Namespace) -> int:
    from batch_job.engine import Embedder, default_model_path
    from batch_job.local import check_out, failures_path, list_images, run_local

    # Cheap checks first: a typo in a path should not wait for the model to load.
    model = args.model or default_model_path()
    check_out(args.out, args.images, model)
    listing = list_images(args.images)
    embedder = Embedder(model)
    print(
        f"local: {len(listing)} images under {args.images}, model {embedder.name} on "
        f"{'/'.join(embedder.providers)} ({embedder.threads} threads)",
        file=sys.stderr,
        flush=True,
    )
    summary, failures = run_local(
        args.images, args.out, embedder, listing=listing, batch_size=args.batch_size, workers=args.workers
    )
    print(summary.line(), flush=True)
    print(f"wrote {args.out} and {failures_path(args.out)} ({len(failures)} failures)", flush=True)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    try:
        from batch_job.resnet import export_model
    except ImportError as exc:  # pragma: no cover - the runtime image has no torch
        raise JobError(f"export-model needs PyTorch and onnx ({exc}); install batch_job[export]", EXIT_USAGE) from exc
    check_outputs([("--out", args.out)], inputs=[("--weights", args.weights)] if args.weights else [])
    name = export_model(args.out, random=args.random, weights=args.weights)
    print(f"wrote {args.out} ({name}, 512-d float32 embeddings, dynamic batch)", flush=True)
    return EXIT_OK


def _quantize(args: argparse.Namespace) -> int:
    try:
        from batch_job.quantize import quantize_model
    except ImportError as exc:  # pragma: no cover - the runtime image has no onnx
        raise JobError(f"quantize needs the onnx package ({exc}); install batch_job[export]", EXIT_USAGE) from exc
    check_outputs([("--out", args.out)], inputs=[("--model", args.model)], input_dirs=[("--images", args.images)])
    name, low, mean = quantize_model(args.model, args.images, args.out, calibration=args.calibration)
    print(f"wrote {args.out} ({name}); cosine to fp32 on held-out images: min {low:.4f}, mean {mean:.4f}")
    if low < MIN_COSINE:
        print(f"warning: min cosine {low:.4f} < {MIN_COSINE}: calibrate on images closer to yours", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from PIL import Image

    # A decompression bomb is a failed image, never just a warning.
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    args = build_parser().parse_args(argv)
    handler = {"run": _run, "local": _local, "export-model": _export, "quantize": _quantize}[args.command]
    try:
        return handler(args)
    except JobError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130

"""Command line: ``python -m batch_job run | local | export-model | quantize``."""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from batch_job.aws import MAX_OBJECT_BYTES, MAX_S3_READS
from batch_job.errors import EXIT_OK, EXIT_USAGE, JobError, printable
from batch_job.local import MAX_FILE_READS
from batch_job.outputs import check_outputs
from batch_job.pipeline import MAX_BYTES_IN_FLIGHT

# The reduced-precision model must stay this close to the fp32 vectors.
MIN_COSINE = 0.99
# Upper bounds of the count options: beyond them a typo would allocate gigabytes (a batch of N images is
# N x 602 KB before inference; calibration holds every sample) or start thousands of threads.
MAX_BATCH_SIZE = 1024
MAX_WORKERS = 256
MAX_CALIBRATION = 512
_UNITS = {"": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2}
_UNITS |= {"g": 1000**3, "gb": 1000**3, "gib": 1024**3}
MAX_SIZE_OPTION = 64 * 1024**3


def _count(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text) if re.fullmatch(r"[0-9]{1,10}", text) else 0
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"expected an integer from 1 to {limit}, got '{printable(text, 40)}'")
        return value

    return parse


def _size(text: str) -> int:
    """Bytes: an integer, optionally with a unit (KB/MB/GB = powers of 1000, KiB/MiB/GiB = powers of 1024)."""
    match = re.fullmatch(r"([0-9]{1,12})\s*([A-Za-z]{0,3})", text.strip())
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS or not 1 <= int(match.group(1)) * _UNITS[unit] <= MAX_SIZE_OPTION:
        raise argparse.ArgumentTypeError(
            f"expected a size from 1 byte to 64GiB such as 268435456, 256MiB or 300MB, got '{printable(text, 40)}'"
        )
    return int(match.group(1)) * _UNITS[unit]


class _Parser(argparse.ArgumentParser):
    """Usage errors are one ``error:`` line (the documented shape of every error), exit 2."""

    def error(self, message: str) -> NoReturn:
        raise JobError(f"{printable(message)} (see {self.prog} --help)", EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m batch_job", description="ResNet-18 image embeddings.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run",
        help="AWS Batch mode: embed this array child's slice of the manifest into DynamoDB",
        description="Configured by the environment: IMAGES_BUCKET, RESULTS_TABLE, MANIFEST_KEY, CHUNK_SIZE, "
        "AWS_BATCH_JOB_ARRAY_INDEX (default 0), EMBEDDING_MODEL (default /opt/model/resnet18.onnx; a path or "
        "s3://<bucket>/<key>, downloaded when the job starts).",
    )
    run.add_argument("--batch-size", type=_count(MAX_BATCH_SIZE), default=32, help="images per inference call (32)")
    run.add_argument(
        "--workers",
        type=_count(MAX_WORKERS),
        default=None,
        help=f"S3 reads in flight at most; how many are adapts to the latency ({MAX_S3_READS})",
    )
    run.add_argument(
        "--max-image-bytes",
        type=_size,
        default=MAX_OBJECT_BYTES,
        help="larger objects are failures, never downloaded (64MiB)",
    )
    run.add_argument(
        "--max-bytes-in-flight",
        type=_size,
        default=MAX_BYTES_IN_FLIGHT,
        help="image bytes downloaded and not yet decoded, at most, at once; >= --max-image-bytes (256MiB)",
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
    local.add_argument("--batch-size", type=_count(MAX_BATCH_SIZE), default=32, help="images per inference call (32)")
    local.add_argument(
        "--workers",
        type=_count(MAX_WORKERS),
        default=MAX_FILE_READS,
        help=f"file reads in flight at most; how many are adapts to the latency ({MAX_FILE_READS})",
    )
    local.add_argument(
        "--max-bytes-in-flight",
        type=_size,
        default=MAX_BYTES_IN_FLIGHT,
        help="image bytes read and not yet decoded, at most, at once; >= 64MiB, the file limit (256MiB)",
    )

    export = commands.add_parser("export-model", help="export ResNet-18 (512-d pooled features) to ONNX")
    export.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    source = export.add_mutually_exclusive_group()
    source.add_argument("--random", action="store_true", help="random weights (no download)")
    source.add_argument("--weights", type=Path, default=None, help="a torchvision ResNet-18 state_dict file")

    quantize = commands.add_parser("quantize", help="int8 copy of a model, calibrated on sample images")
    quantize.add_argument("--model", type=Path, required=True, help="fp32 ONNX model (from export-model)")
    quantize.add_argument("--images", type=Path, required=True, help="folder of images like those to embed")
    quantize.add_argument("--out", type=Path, required=True, help="int8 ONNX file to write")
    quantize.add_argument("--calibration", type=_count(MAX_CALIBRATION), default=64, help="images to calibrate on (64)")
    return parser


def _run(args: argparse.Namespace) -> int:
    from batch_job.aws import run

    summary, _ = run(
        batch_size=args.batch_size,
        workers=args.workers,
        max_image_bytes=args.max_image_bytes,
        max_bytes_in_flight=args.max_bytes_in_flight,
    )
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
        args.images,
        args.out,
        embedder,
        listing=listing,
        batch_size=args.batch_size,
        workers=args.workers,
        max_bytes_in_flight=args.max_bytes_in_flight,
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
    made = quantize_model(args.model, args.images, args.out, calibration=args.calibration)
    low = made.min_cosine
    print(
        f"wrote {args.out} ({made.name}); calibrated on {made.calibrated} images ({made.unusable} unusable, "
        f"skipped); cosine to fp32 on {made.held_out} held-out images: min {low:.4f}, mean {made.mean_cosine:.4f}"
    )
    if low < MIN_COSINE:
        print(f"warning: min cosine {low:.4f} < {MIN_COSINE}: calibrate on images closer to yours", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from PIL import Image

    # A decompression bomb is a failed image, never just a warning.
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        args = build_parser().parse_args(argv)
        handler = {"run": _run, "local": _local, "export-model": _export, "quantize": _quantize}[args.command]
        return handler(args)
    except JobError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130

"""Decode one image and apply the standard ResNet preprocessing.

(JPEG: DCT-scaled "draft" decode, see below) -> EXIF orientation -> RGB (CMYK, grayscale, 16-bit, float, alpha and palette images handled) -> resize so the
short side is 256 (bilinear, antialiased as PIL does it) -> centre crop 224x224 -> /255 -> ImageNet mean/std
-> CHW float32. Anything that is not a decodable image of a sane size raises :class:`ImageError` with the
reason; nothing else escapes.

Draft decoding (JPEG only): libjpeg can decode a JPEG at 1/2, 1/4 or 1/8 of its size by scaling the inverse
DCT (Pillow's ``Image.draft()``), which skips most of the decode work of a large photo: a 4032x3024 JPEG is
decoded at 504x378 (1/8) and then resized to 256 as any other image. :func:`draft_scale` picks the smallest
scale whose short side is still >= 256, so a JPEG under 512 px on its short side is always decoded in full,
and non-JPEG formats are never drafted. The crop geometry is computed on the full-resolution size (the same
boxes as a full decode, mapped into the scaled pixels, including the partial last block of a size that is
not a multiple of the scale, whichever way EXIF turns it).

Fidelity bound (documented in docs/image-embeddings.md): the drafted 224x224 tensor must be within
:data:`DRAFT_MIN_PSNR` dB (PSNR in 8-bit units) and :data:`DRAFT_MAX_MAD` (mean absolute difference of the
normalised tensor) of the full decode's. Checking every image would cost the full decode that drafting
saves, so the check is sampled: the first drafted JPEG of a process and every :data:`DRAFT_CHECK_EVERY`-th
after it are also decoded in full and compared (about 2% more decode time). The first image outside the
bound turns drafting off for the rest of the process (that image gets its full-decode tensor; one warning
line on stderr), so a corpus on which drafting is not faithful falls back to full decode after one image.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import threading
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError

from batch_job.errors import ImageError
from batch_job.formats import ALLOWED_FORMATS, MAX_FRAMES, foreign_format, tiff_limits

RESIZE = 256
CROP = 224
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# 64 megapixels (e.g. 9248x6936, a large phone or DSLR photo). Above this an image is refused before it is
# decoded: a small file that claims more pixels is a decompression bomb, and would need > 200 MB to decode.
MAX_PIXELS = 64 * 1024 * 1024

# Pillow itself warns above MAX_IMAGE_PIXELS and raises above twice that; decode() refuses everything above
# MAX_PIXELS before decoding, and treats Pillow's warning (made an error by the CLI) and error as failures.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Truncated files are failures, never silently padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# PNG text (tEXt/zTXt/iTXt) and ICC chunks: at most 1 MiB decompressed each (Pillow's default) and 4 MiB in
# all (Pillow allows 64 MiB), so a small file cannot make the decoder inflate and hold much text.
PngImagePlugin.MAX_TEXT_CHUNK = 1024 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 4 * 1024 * 1024
_ALLOWED_NAMES = "JPEG, PNG, WebP, GIF, BMP, TIFF"

# Draft decoding: JPEGs whose short side is at least this are decoded at a DCT scale (1/2, 1/4, 1/8).
DRAFT_MIN_SHORT_SIDE = 2 * RESIZE
DRAFT_SCALES = (8, 4, 2)
DRAFT_FORMATS = frozenset({"JPEG", "MPO"})  # MPO: a phone's multi-picture JPEG, first frame decoded as JPEG
# The fidelity bound of a drafted tensor against the full decode's (see the module doc).
DRAFT_MIN_PSNR = 30.0
DRAFT_MAX_MAD = 0.1
DRAFT_CHECK_EVERY = 256
_ORIENTATION = 0x0112
# EXIF orientation -> the transpose that shows the image upright (Pillow's ImageOps.exif_transpose table).
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = {
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_270,
}
# Transposes after which the upright x (y) axis runs against the stored axis it came from: there the partial
# last block of a drafted image is at the start of the axis, not at its end.
_REVERSES_X = {
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSVERSE,
}
_REVERSES_Y = {
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_90,
    Image.Transpose.TRANSVERSE,
}

_SCALE = (1.0 / (255.0 * STD)).astype(np.float32)
_OFFSET = (MEAN / STD).astype(np.float32)


@dataclass(frozen=True)
class Decoded:
    """An upright RGB image and where it came from: ``size`` is the upright size at full resolution, ``scale``
    the DCT scale it was decoded at (1: in full), ``offset`` where the full-resolution picture starts in its
    pixels (non-zero only on an axis that EXIF reversed and whose size is not a multiple of ``scale``)."""

    image: Image.Image
    size: tuple[int, int]
    scale: int = 1
    offset: tuple[float, float] = (0.0, 0.0)


def draft_scale(width: int, height: int) -> int:
    """The DCT scale to decode a ``width`` x ``height`` JPEG at: the largest of 8, 4, 2 that leaves the short
    side at least 256 full pixels (short / scale >= 256, so the resize to 256 never enlarges), or 1 (full
    decode) when the short side is under 512."""
    short = min(width, height)
    if short < DRAFT_MIN_SHORT_SIDE:
        return 1
    return next((s for s in DRAFT_SCALES if short >= RESIZE * s), 1)


def decode(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``data`` in full into an upright RGB image; raises :class:`ImageError` with the reason."""
    return decode_scaled(data, max_pixels=max_pixels, draft=False).image


def decode_scaled(data: bytes, *, max_pixels: int = MAX_PIXELS, draft: bool = True) -> Decoded:
    """Decode ``data`` into an upright RGB image, a large JPEG at a DCT scale when ``draft`` (see the module
    doc); raises :class:`ImageError` with the reason."""
    if not data:
        raise ImageError("empty file (0 bytes)")
    refused = tiff_limits(data)
    if refused:
        raise ImageError(refused)
    image: Image.Image
    try:
        # Only the allow-listed decoders: whatever the file's name, nothing else parses it.
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        # The reason never quotes the file's bytes (it may be anything, e.g. a secret named like an image).
        name = foreign_format(data)
        if name:
            raise ImageError(f"{name} is not a format the job decodes (allowed: {_ALLOWED_NAMES})") from None
        raise ImageError(f"not an image in a format the job decodes ({_ALLOWED_NAMES}; {len(data)} bytes)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"decompression bomb refused: {exc}") from None
    except Exception as exc:  # a broken header can raise anything from deep inside a plugin
        raise ImageError(f"unreadable image header: {_limit_reason(exc)}") from None
    # Only the first frame is decoded; a file declaring absurdly many is refused. (Read only where the
    # header states the count: GIF and TIFF would have to be walked; tiff_limits walked the TIFF.)
    if image.format in ("PNG", "WEBP", "MPO"):
        frames = int(getattr(image, "n_frames", 1) or 1)
        if frames > MAX_FRAMES:
            raise ImageError(f"{image.format} declares {frames} frames, over the limit of {MAX_FRAMES} (MAX_FRAMES)")
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(f"decompression bomb refused: {width}x{height} pixels exceeds the limit of {max_pixels}")
    if width < 1 or height < 1:
        raise ImageError(f"image has no pixels ({width}x{height})")
    scale = 1
    if draft and image.format in DRAFT_FORMATS:
        wanted = draft_scale(width, height)
        if wanted > 1:
            # draft() picks the largest scale s with size // s >= the requested size on both axes: asking for
            # size // wanted gives exactly `wanted`. It keeps the mode (RGB, L, CMYK) and returns None when the
            # file cannot be drafted (then it is decoded in full).
            with contextlib.suppress(Exception):
                # (mode, box): box is the full-resolution picture in the scaled pixels, (0, 0, W/s, H/s).
                drafted = image.draft(image.mode, (width // wanted, height // wanted))
                if drafted is not None:
                    scale = round(width / drafted[1][2])
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"decompression bomb refused: {exc}") from None
    except Exception as exc:  # truncated data, corrupt entropy-coded segment, bad palette...
        raise ImageError(f"corrupt {image.format or 'image'} data: {_limit_reason(exc)}") from None
    size, offset = (width, height), (0.0, 0.0)
    # A damaged EXIF block does not make the pixels unusable: keep them as stored.
    transpose = None
    with contextlib.suppress(Exception):
        transpose = _TRANSPOSES.get(int(image.getexif().get(_ORIENTATION, 1)))
    if transpose is not None:
        with contextlib.suppress(Exception):
            turned = image.transpose(transpose)
            if transpose in _SWAPS_AXES:
                size = (height, width)
            up_w, up_h = turned.size
            offset = (
                up_w - size[0] / scale if transpose in _REVERSES_X else 0.0,
                up_h - size[1] / scale if transpose in _REVERSES_Y else 0.0,
            )
            image = turned
    try:
        return Decoded(to_rgb(image), size, scale, offset)
    except Exception as exc:  # an exotic mode Pillow cannot convert
        raise ImageError(f"cannot convert {image.mode} {image.format or 'image'} to RGB: {_reason(exc)}") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparent areas are composited onto white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I") or mode == "F":
        # 16-bit ("I;16*"), 32-bit integer ("I") and float ("F") grayscale: scale to 0..255 rather than let
        # convert() clip every value above 255 to white.
        array = np.asarray(image)
        if mode == "F":
            array = np.nan_to_num(array.astype(np.float64))
            peak = 1.0 if array.size and float(array.max()) <= 1.0 else 255.0
            gray = np.clip(array * (255.0 / peak), 0, 255).astype(np.uint8)
        else:
            array = array.astype(np.int64)
            wide = mode.startswith("I;16") or (array.size > 0 and int(array.max()) > 255)
            gray = (np.clip(array, 0, 65535) // 257 if wide else np.clip(array, 0, 255)).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # CMYK, YCbCr, LAB, HSV, L, 1, P: Pillow's own conversions.
    return image.convert("RGB")


def resize_crop(image: Image.Image, decoded: Decoded | None = None) -> Image.Image:
    """Resize so the short side is 256 (bilinear), then take the centre 224x224.

    Only the region that survives the crop is resampled (``resize(box=...)``); the filter still reads the
    pixels around the box, so the result matches resize-then-crop to within one grey level (rounding),
    for about a third less work. For a drafted image (``decoded``), the geometry is that of the
    full-resolution size and the box is mapped into the scaled pixels.
    """
    width, height = decoded.size if decoded is not None else image.size
    scale, (dx, dy) = (decoded.scale, decoded.offset) if decoded is not None else (1, (0.0, 0.0))
    # torchvision's Resize(256): the short side becomes 256, the long side int(256 * long / short).
    if width <= height:
        new_w, new_h = RESIZE, RESIZE * height // width
    else:
        new_w, new_h = RESIZE * width // height, RESIZE
    # torchvision's CenterCrop(224) offsets.
    left = round((new_w - CROP) / 2.0)
    top = round((new_h - CROP) / 2.0)
    if (new_w, new_h) == (width, height) and scale == 1:
        return image.crop((left, top, left + CROP, top + CROP))
    sx, sy = width / new_w / scale, height / new_h / scale
    box = (left * sx + dx, top * sy + dy, (left + CROP) * sx + dx, (top + CROP) * sy + dy)
    return image.resize((CROP, CROP), Image.Resampling.BILINEAR, box=box)


def normalise_into(image: Image.Image, out: NDArray[np.float32]) -> None:
    """Write the ImageNet-normalised CHW float32 tensor of a 224x224 RGB image into ``out`` (3, 224, 224)."""
    hwc = np.asarray(image, dtype=np.uint8)
    chw = hwc.transpose(2, 0, 1)
    np.multiply(chw, _SCALE[:, None, None], out=out, casting="unsafe")
    out -= _OFFSET[:, None, None]


def preprocess(data: bytes, *, draft: bool | None = None) -> NDArray[np.float32]:
    """Bytes of one image file -> (3, 224, 224) float32, ready for ResNet-18.

    ``draft``: decode a large JPEG at a DCT scale (default: yes, unless the sampled fidelity check turned it
    off for this process, see the module doc); False always decodes in full.
    """
    use_draft = DRAFT_CHECK.enabled if draft is None else draft
    decoded = decode_scaled(data, draft=use_draft)
    out = _tensor(decoded)
    if decoded.scale > 1 and draft is None and DRAFT_CHECK.due():
        full = _tensor(decode_scaled(data, draft=False))
        if not DRAFT_CHECK.record(*fidelity(out, full), decoded):
            return full
    return out


def _tensor(decoded: Decoded) -> NDArray[np.float32]:
    out = np.empty((3, CROP, CROP), dtype=np.float32)
    normalise_into(resize_crop(decoded.image, decoded), out)
    return out


def fidelity(got: NDArray[np.float32], expected: NDArray[np.float32]) -> tuple[float, float]:
    """(PSNR in dB, mean absolute difference) of two normalised tensors; the PSNR is in 8-bit grey levels
    (the difference times 255 x std of its channel), infinite for equal tensors."""
    difference = got.astype(np.float64) - expected.astype(np.float64)
    levels = difference * (255.0 * STD.astype(np.float64))[:, None, None]
    mse = float(np.mean(levels**2))
    psnr = math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
    return psnr, float(np.mean(np.abs(difference)))


class DraftCheck:
    """The sampled fidelity check of draft decoding (see the module doc); thread-safe, one per process."""

    def __init__(self, every: int = DRAFT_CHECK_EVERY) -> None:
        self.every = every
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Drafting on again, counts cleared (tests; a new corpus)."""
        self.enabled = True
        self.checked = 0
        self.worst_psnr = math.inf
        self.worst_mad = 0.0
        self.reason = ""
        self._count = 0

    def due(self) -> bool:
        """True for the first drafted image and every ``every``-th after it."""
        with self._lock:
            due = self.enabled and self._count % self.every == 0
            self._count += 1
            return due

    def record(self, psnr: float, mad: float, decoded: Decoded) -> bool:
        """Note one comparison; False (and drafting off from now on) when it is outside the bound."""
        with self._lock:
            self.checked += 1
            self.worst_psnr, self.worst_mad = min(self.worst_psnr, psnr), max(self.worst_mad, mad)
            if psnr >= DRAFT_MIN_PSNR and mad <= DRAFT_MAX_MAD:
                return True
            first = self.enabled
            self.enabled = False
            self.reason = (
                f"a {decoded.size[0]}x{decoded.size[1]} JPEG decoded at 1/{decoded.scale} gave PSNR {psnr:.1f} dB, "
                f"mean abs difference {mad:.3f} (bound: >= {DRAFT_MIN_PSNR} dB, <= {DRAFT_MAX_MAD})"
            )
        if first:
            print(f"warning: draft JPEG decoding turned off, {self.reason}; decoding in full", file=sys.stderr)
        return False


DRAFT_CHECK = DraftCheck()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _limit_reason(exc: BaseException) -> str:
    text = _reason(exc)
    if "MAX_TEXT_CHUNK" in text:
        return f"a PNG text or ICC chunk inflates to more than {PngImagePlugin.MAX_TEXT_CHUNK} bytes (MAX_TEXT_CHUNK)"
    if "MAX_TEXT_MEMORY" in text:
        return f"PNG text chunks hold more than {PngImagePlugin.MAX_TEXT_MEMORY} bytes (MAX_TEXT_MEMORY)"
    return text

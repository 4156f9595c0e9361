"""Decode one image and apply the standard ResNet preprocessing.

EXIF orientation -> RGB (CMYK, grayscale, 16-bit, float, alpha and palette images handled) -> resize so the
short side is 256 (bilinear, antialiased as PIL does it) -> centre crop 224x224 -> /255 -> ImageNet mean/std
-> CHW float32. Anything that is not a decodable image of a sane size raises :class:`ImageError` with the
reason; nothing else escapes.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

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

_SCALE = (1.0 / (255.0 * STD)).astype(np.float32)
_OFFSET = (MEAN / STD).astype(np.float32)


def decode(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``data`` into an upright RGB image; raises :class:`ImageError` with the reason."""
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
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"decompression bomb refused: {exc}") from None
    except Exception as exc:  # truncated data, corrupt entropy-coded segment, bad palette...
        raise ImageError(f"corrupt {image.format or 'image'} data: {_limit_reason(exc)}") from None
    # A damaged EXIF block does not make the pixels unusable: keep them as stored.
    with contextlib.suppress(Exception):
        ImageOps.exif_transpose(image, in_place=True)  # no copy when there is nothing to turn
    try:
        return to_rgb(image)
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


def resize_crop(image: Image.Image) -> Image.Image:
    """Resize so the short side is 256 (bilinear), then take the centre 224x224.

    Only the region that survives the crop is resampled (``resize(box=...)``); the filter still reads the
    pixels around the box, so the result matches resize-then-crop to within one grey level (rounding),
    for about a third less work.
    """
    width, height = image.size
    # torchvision's Resize(256): the short side becomes 256, the long side int(256 * long / short).
    if width <= height:
        new_w, new_h = RESIZE, RESIZE * height // width
    else:
        new_w, new_h = RESIZE * width // height, RESIZE
    # torchvision's CenterCrop(224) offsets.
    left = round((new_w - CROP) / 2.0)
    top = round((new_h - CROP) / 2.0)
    if (new_w, new_h) == (width, height):
        return image.crop((left, top, left + CROP, top + CROP))
    sx, sy = width / new_w, height / new_h
    box = (left * sx, top * sy, (left + CROP) * sx, (top + CROP) * sy)
    return image.resize((CROP, CROP), Image.Resampling.BILINEAR, box=box)


def normalise_into(image: Image.Image, out: NDArray[np.float32]) -> None:
    """Write the ImageNet-normalised CHW float32 tensor of a 224x224 RGB image into ``out`` (3, 224, 224)."""
    hwc = np.asarray(image, dtype=np.uint8)
    chw = hwc.transpose(2, 0, 1)
    np.multiply(chw, _SCALE[:, None, None], out=out, casting="unsafe")
    out -= _OFFSET[:, None, None]


def preprocess(data: bytes) -> NDArray[np.float32]:
    """Bytes of one image file -> (3, 224, 224) float32, ready for ResNet-18."""
    image = resize_crop(decode(data))
    out = np.empty((3, CROP, CROP), dtype=np.float32)
    normalise_into(image, out)
    return out


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

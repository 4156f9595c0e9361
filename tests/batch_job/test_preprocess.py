"""Decoding and ResNet preprocessing: odd-but-valid images are embedded, invalid ones fail with a reason."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from batch_job.engine import Embedder
from batch_job.errors import ImageError
from batch_job.preprocess import MEAN, STD, decode, preprocess, resize_crop, to_rgb
from PIL import Image

from batch_job import formats
from tests.batch_job import images


def vector(embedder: Embedder, data: bytes) -> np.ndarray:
    return embedder.embed(preprocess(data)[None])[0]


@pytest.mark.parametrize("name", sorted(images.odd_valid_images()))
def test_odd_but_valid_images_are_embedded(embedder: Embedder, name: str) -> None:
    # GIVEN an image in an unusual mode WHEN it is preprocessed and embedded
    tensor = preprocess(images.odd_valid_images()[name])
    vec = embedder.embed(tensor[None])[0]
    # THEN it is a normalised 224x224 RGB tensor and a finite 512-d vector
    assert tensor.shape == (3, 224, 224) and tensor.dtype == np.float32
    assert vec.shape == (512,) and np.isfinite(vec).all()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bad/corrupt.jpg", r"not an image|corrupt|unreadable"),
        ("bad/truncated.jpg", r"corrupt JPEG data: image file is truncated"),
        ("bad/zero.jpg", r"empty file \(0 bytes\)"),
        ("bad/notes.jpg", r"^not an image in a format the job decodes \(JPEG, PNG, WebP, GIF, BMP, TIFF; 32 bytes\)$"),
        ("bad/bomb.png", r"decompression bomb refused: .*40000x40000|decompression bomb refused"),
    ],
)
def test_invalid_images_fail_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(ImageError, match=reason):
        preprocess(images.invalid_images()[name])


def test_bomb_is_refused_by_its_header_before_decoding() -> None:
    # A limit below Pillow's own: our check names the size and the limit.
    data = images.png(images.photo(100, 100))
    with pytest.raises(ImageError, match=r"100x100 pixels exceeds the limit of 5000"):
        decode(data, max_pixels=5000)


def test_exif_rotated_jpeg_gives_the_upright_vector(embedder: Embedder) -> None:
    # GIVEN a JPEG stored sideways with EXIF Orientation=6 and the same pixels turned upright (PNG)
    rotated, upright = images.exif_rotated_pair()
    # WHEN both are preprocessed
    got, expected = preprocess(rotated), preprocess(upright)
    # THEN the tensors are identical (same pixels after the EXIF transpose, same pipeline), so are the vectors
    assert decode(rotated).size == (64, 48)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(vector(embedder, rotated), vector(embedder, upright))
    # AND ignoring the orientation would have given a very different tensor: measured mean absolute
    # difference 1.0 to 1.2 (normalised units) for seeds 0-9, against exactly 0 when EXIF is honoured. A
    # random-weight ResNet maps any two images to nearly the same vector, so vectors cannot show this.
    with Image.open(io.BytesIO(rotated)) as raw:
        sideways = preprocess(images.png(raw.convert("RGB")))
    assert float(np.abs(sideways - got).mean()) > 0.5


def test_sixteen_bit_gray_is_scaled_not_clipped() -> None:
    gray = np.array([[0, 32896, 65535]], dtype=np.uint16)  # black, mid grey, white
    image = Image.open(io.BytesIO(images.png(Image.fromarray(gray))))
    assert image.mode.startswith("I")
    assert np.asarray(to_rgb(image))[0, :, 0].tolist() == [0, 128, 255]


def test_transparency_is_composited_onto_white() -> None:
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert np.asarray(to_rgb(clear)).min() == 255


@pytest.mark.parametrize(
    ("size", "resized", "box"),
    [
        ((640, 480), (341, 256), (58, 16, 282, 240)),
        ((480, 640), (256, 341), (16, 58, 240, 282)),
        ((100, 50), (512, 256), (144, 16, 368, 240)),
        ((256, 256), (256, 256), (16, 16, 240, 240)),
    ],
)
def test_short_side_256_then_centre_crop_224(
    size: tuple[int, int], resized: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    # torchvision's Resize(256) + CenterCrop(224) geometry, on a picture where every pixel differs: the
    # box resample equals resize-then-crop up to rounding (one grey level, on a few pixels)
    image = images.photo(*size)
    scaled = image.resize(resized, Image.Resampling.BILINEAR) if size != resized else image
    expected = np.asarray(scaled.crop(box), dtype=np.int16)
    got = np.asarray(resize_crop(image), dtype=np.int16)
    assert got.shape == (224, 224, 3)
    difference = np.abs(got - expected)
    assert difference.max() <= 1 and difference.mean() < 0.01
    # while a crop off by one pixel would differ everywhere
    shifted = np.asarray(scaled.crop((box[0] + 1, box[1], box[2] + 1, box[3])), dtype=np.int16)
    assert np.abs(got - shifted).mean() > 0.05


def test_normalisation_is_imagenet_mean_and_std() -> None:
    grey = Image.new("RGB", (300, 300), (128, 64, 255))
    tensor = preprocess(images.png(grey))
    expected = (np.array([128, 64, 255]) / 255.0 - MEAN) / STD
    np.testing.assert_allclose(tensor[:, 100, 100], expected, rtol=1e-5)
    np.testing.assert_allclose(tensor[:, 0, 0], expected, rtol=1e-5)


@pytest.mark.parametrize("warnings_are_errors", [False, True])
def test_bomb_between_pillows_warning_and_error_limits_is_refused(warnings_are_errors: bool) -> None:
    # 9000 x 9000 = 81 Mpx: above our 64 Mpx limit (Pillow warns), below twice it (Pillow would decode it)
    import warnings

    data = images.decompression_bomb(9000, 9000)
    with warnings.catch_warnings():
        warnings.simplefilter("error" if warnings_are_errors else "ignore", Image.DecompressionBombWarning)
        with pytest.raises(ImageError, match=r"decompression bomb refused: .*(9000x9000|81000000 pixels)"):
            preprocess(data)


@pytest.mark.parametrize("name", sorted(images.foreign_formats()))
def test_formats_outside_the_allow_list_are_refused_before_decoding(name: str) -> None:
    # GIVEN a file Pillow could open (EPS would run Ghostscript) named like a JPEG/PNG
    data = images.foreign_formats()[name]
    # WHEN it is preprocessed THEN it is a failure naming the allowed formats, and none of its bytes
    with pytest.raises(ImageError, match=r"is not a format the job decodes|not an image in a format") as info:
        preprocess(data)
    assert "JPEG, PNG, WebP, GIF, BMP, TIFF" in str(info.value)
    assert data[:8].decode("latin-1") not in str(info.value)


def test_eps_is_refused_without_reaching_pillows_eps_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import EpsImagePlugin

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("EPS plugin reached")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", boom)
    with pytest.raises(ImageError, match=r"^PostScript/EPS is not a format the job decodes"):
        preprocess(images.foreign_formats()["eps.jpg"])


def test_tiff_with_too_many_strips_is_refused_by_its_header() -> None:
    # 70,000 one-row strips: 0.6 MB and 70 kpx, under the size and pixel limits (the file has 4 million)
    with pytest.raises(ImageError, match=r"^TIFF declares 70000 strips, over the limit of 65536 \(MAX_TIFF_BLOCKS\)$"):
        preprocess(images.striped_tiff(70_000))


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("big", [False, True])
def test_tiff_headers_of_both_flavours_and_byte_orders_are_read_for_the_strip_limit(order: str, big: bool) -> None:
    # GIVEN a header-only TIFF or BigTIFF whose one IFD declares 70,000 StripOffsets (tag 273)
    mark = (b"II" if order == "<" else b"MM") + struct.pack(order + "H", 43 if big else 42)
    if big:  # offset size 8, reserved 0, first IFD at 16; entries: count (Q), tag/type/count (HHQ), value (Q)
        header = mark + struct.pack(order + "HHQ", 8, 0, 16)
        ifd = (
            struct.pack(order + "Q", 1) + struct.pack(order + "HHQQ", 273, 16, 70_000, 0) + struct.pack(order + "Q", 0)
        )
    else:  # first IFD at 8; entries: count (H), tag/type/count (HHI), value (I)
        header = mark + struct.pack(order + "I", 8)
        ifd = struct.pack(order + "H", 1) + struct.pack(order + "HHII", 273, 4, 70_000, 0) + struct.pack(order + "I", 0)
    # THEN the limit names the declared count, before Pillow reads anything
    assert formats.tiff_limits(header + ifd) == "TIFF declares 70000 strips, over the limit of 65536 (MAX_TIFF_BLOCKS)"
    assert formats.tiff_limits(header + ifd, max_blocks=70_000) is None
    # AND a header cut short is left for Pillow to report
    assert formats.tiff_limits(header[:6]) is None


def test_ordinary_striped_and_multipage_tiffs_are_still_embedded() -> None:
    assert preprocess(images.striped_tiff(300, width=300, rows_per_strip=16)).shape == (3, 224, 224)
    assert preprocess(images.striped_tiff(300, width=300, rows_per_strip=16, pages=3)).shape == (3, 224, 224)


def test_tiff_with_too_many_pages_is_refused() -> None:
    with pytest.raises(ImageError, match=r"^TIFF has more than 10000 pages \(limit MAX_FRAMES=10000\)$"):
        preprocess(images.striped_tiff(8, width=8, rows_per_strip=8, pages=10_001))


def test_apng_declaring_absurd_frame_count_is_refused() -> None:
    with pytest.raises(
        ImageError, match=r"^PNG declares 200000000[01] frames, over the limit of 10000 \(MAX_FRAMES\)$"
    ):
        preprocess(images.apng_header_claiming(2_000_000_000))


def test_png_text_over_the_limit_is_refused_naming_it() -> None:
    import zlib

    bomb = images.png_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"x" * (2 * 1024 * 1024)))
    with pytest.raises(ImageError, match=r"MAX_TEXT_CHUNK"):
        preprocess(images.png_with_chunks([bomb]))

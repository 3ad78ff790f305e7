"""The real face pipeline (dlib models) against hostile and awkward input: a clear refusal with
a reason, never a crash or a hang; and the awkward-but-fine inputs still work."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from attendance.adapters.faces.pipeline import FacePipeline
from attendance.adapters.faces.registry import face_pipeline
from attendance.core.domain.faces import PhotoRefused, Purpose, RefusalReason
from attendance.settings import FaceSettings
from tests.integration import images

PORTRAIT = "Guido_van_Rossum/1.jpg"  # a 1350 x 1080 portrait
LARGE = "Steve_Wozniak/1.jpg"  # 4098 x 2735, 11 MP
SHARP = "Barack_Obama/1.jpg"  # 1920 x 1080, very sharp
LFW = "Serena_Williams/1.jpg"  # a 250 px news photo
OTHER = "Queen_Rania/1.jpg"  # another 250 px news photo


def refused(engine: FacePipeline, data: bytes, purpose: Purpose = Purpose.CHECK_IN) -> PhotoRefused:
    with pytest.raises(PhotoRefused) as info:
        engine.analyse_sync(data, purpose)
    assert str(info.value), "every refusal has a sentence"
    return info.value


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("zero bytes", b"", RefusalReason.EMPTY),
        ("a text file named .jpg", b"Dear HR, this is not a selfie.\n" * 20, RefusalReason.UNSUPPORTED_TYPE),
        (
            "SVG",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9e9"/>',
            RefusalReason.UNSUPPORTED_TYPE,
        ),
        ("JPEG magic then garbage", b"\xff\xd8\xff\xe0" + b"\x13" * 4000, RefusalReason.CORRUPT),
        ("HTML login page", b"<!DOCTYPE html><html><body>Sign in</body></html>", RefusalReason.UNSUPPORTED_TYPE),
    ],
)
def test_not_a_photo(engine: FacePipeline, name: str, data: bytes, reason: RefusalReason) -> None:
    assert refused(engine, data).reason is reason, name


def test_gif_is_refused_by_content(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    gif = images.encode(images.open_rgb(photo(LFW)), "GIF")
    assert refused(engine, gif).reason is RefusalReason.UNSUPPORTED_TYPE


def test_truncated_jpeg(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    data = photo(PORTRAIT)
    assert refused(engine, data[: len(data) // 3]).reason is RefusalReason.CORRUPT


def test_png_decompression_bomb_is_refused_before_decoding(engine: FacePipeline) -> None:
    bomb = images.png_bomb(20000)
    assert len(bomb) < 2_000_000
    exc = refused(engine, bomb)
    assert exc.reason is RefusalReason.TOO_MANY_PIXELS
    assert "at most 50 megapixels" in str(exc)


def test_jpeg_header_claiming_60000_by_60000(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    liar = images.jpeg_claiming(photo(LFW), 60000, 60000)
    assert refused(engine, liar).reason is RefusalReason.TOO_MANY_PIXELS


def test_too_many_bytes(photo) -> None:  # type: ignore[no-untyped-def]
    small_cap = face_pipeline(FaceSettings(max_bytes=100_000))
    exc = refused(small_cap, photo(PORTRAIT))
    assert exc.reason is RefusalReason.TOO_MANY_BYTES


def test_exif_orientation_is_applied(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    turned = images.rotated_with_exif(photo(PORTRAIT))
    upright = engine.analyse_sync(photo(PORTRAIT), Purpose.CHECK_IN)
    analysis = engine.analyse_sync(turned, Purpose.CHECK_IN)
    assert analysis.faces_found >= 1
    # the same face, so nearly the same descriptor
    distance = sum((a - b) ** 2 for a, b in zip(analysis.embedding, upright.embedding, strict=True)) ** 0.5
    assert distance < 0.15
    # and without the EXIF tag the sideways pixels show no usable face: the tag did the work
    sideways = images.encode(images.open_rgb(turned))
    with pytest.raises(PhotoRefused):
        engine.analyse_sync(sideways, Purpose.CHECK_IN)


def test_heic_png_and_webp_are_read(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    from pillow_heif import register_heif_opener

    register_heif_opener()
    source = images.open_rgb(photo(PORTRAIT))
    source.thumbnail((1200, 1200))
    for fmt in ("HEIF", "PNG", "WEBP"):
        data = images.encode(source, fmt)
        analysis = engine.analyse_sync(data, Purpose.CHECK_IN)
        assert analysis.faces_found == 1, fmt


def test_png_with_transparency(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    rgba = images.open_rgb(photo(LFW)).convert("RGBA")
    rgba.putalpha(255)
    assert engine.analyse_sync(images.encode(rgba, "PNG"), Purpose.CHECK_IN).faces_found >= 1


def test_no_face(engine: FacePipeline) -> None:
    wall = Image.linear_gradient("L").resize((800, 600)).convert("RGB")
    assert refused(engine, images.encode(wall)).reason is RefusalReason.NO_FACE


def test_two_people(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    pair = images.side_by_side(photo(LFW), photo(OTHER))
    assert refused(engine, pair, Purpose.ENROLL).reason is RefusalReason.MULTIPLE_FACES
    assert refused(engine, pair, Purpose.CHECK_IN).reason is RefusalReason.MULTIPLE_FACES


def test_tiny_face(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    tiny = images.small_in_canvas(photo(LFW), 150, 400)  # a face about 60 px wide
    assert refused(engine, tiny, Purpose.ENROLL).reason is RefusalReason.FACE_TOO_SMALL
    assert engine.analyse_sync(tiny, Purpose.CHECK_IN).quality.face_px < 80  # fine for a check-in


def test_blurred_and_dark(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    smeared = images.blurred(photo(SHARP), 15)
    assert refused(engine, smeared, Purpose.ENROLL).reason is RefusalReason.BLURRED
    assert refused(engine, smeared, Purpose.CHECK_IN).reason is RefusalReason.BLURRED
    assert refused(engine, images.darkened(photo(PORTRAIT), 0.12)).reason is RefusalReason.TOO_DARK


def test_large_photo_is_decoded_small(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    data = photo(LARGE)
    with Image.open(io.BytesIO(data)) as im:
        assert max(im.size) > 4000
    analysis = engine.analyse_sync(data, Purpose.ENROLL)
    left, _top, right, _bottom = analysis.box
    assert abs((right - left) - analysis.quality.face_px) <= 2
    assert analysis.quality.face_px > 200  # reported in the original photo's pixels
    assert len(analysis.embedding) == 128

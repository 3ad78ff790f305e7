"""The replay fingerprint on real photos: the same photo re-sent stays close, another photo does not."""

from __future__ import annotations

from PIL import Image

from attendance.adapters.faces.decode import decode
from attendance.adapters.faces.fingerprint import hamming, phash
from attendance.core.domain.model import CheckInPolicy
from tests.integration import images

LIMIT = CheckInPolicy().replay_max_bits


def fingerprint(data: bytes) -> int:
    return phash(decode(data, max_bytes=50_000_000, max_pixels=50_000_000, work_size=640).pixels)


def variants(data: bytes) -> dict[str, bytes]:
    im = images.open_rgb(data)
    w, h = im.size
    c = round(min(w, h) * 0.01)
    return {
        "recompressed": images.encode(im, "JPEG", quality=60),
        "halved": images.encode(im.resize((w // 2, h // 2), Image.Resampling.BILINEAR)),
        "cropped 1% a side": images.encode(im.crop((c, c, w - c, h - c))),
        "png": images.encode(im, "PNG"),
    }


def test_the_same_photo_re_sent_is_recognised_and_another_is_not(photo) -> None:  # type: ignore[no-untyped-def]
    for name in ("Guido_van_Rossum/1.jpg", "Serena_Williams/2.jpg", "Barack_Obama/3.jpg"):
        original = fingerprint(photo(name))
        for how, data in variants(photo(name)).items():
            assert hamming(original, fingerprint(data)) <= LIMIT, f"{name} {how}"
    same_person_other_photo = hamming(
        fingerprint(photo("Serena_Williams/2.jpg")), fingerprint(photo("Serena_Williams/3.jpg"))
    )
    assert same_person_other_photo > LIMIT
    assert hamming(fingerprint(photo("Guido_van_Rossum/1.jpg")), fingerprint(photo("Guido_van_Rossum/2.jpg"))) > LIMIT

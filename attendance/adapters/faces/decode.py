"""Bytes to a small RGB array, refusing anything hostile before it is decoded.

Order matters: sniff the real type from the content (never the name), check the byte cap, read
only the header to check the pixel cap, then decode -- for JPEG in draft mode straight to a
reduced scale -- apply the EXIF orientation, and shrink to the working size.
"""

from __future__ import annotations

import io
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from attendance.core.domain.faces import PhotoRefused, RefusalReason

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_heif_lock = threading.Lock()
_heif_registered = False


def sniff(data: bytes) -> str:
    """The real format from the first bytes: JPEG, PNG, WEBP or HEIF; anything else is refused."""
    if not data:
        raise PhotoRefused(RefusalReason.EMPTY)
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    raise PhotoRefused(RefusalReason.UNSUPPORTED_TYPE)


def _register_heif() -> None:
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            from pillow_heif import register_heif_opener

            register_heif_opener()
            _heif_registered = True


@dataclass(frozen=True, slots=True)
class Decoded:
    pixels: npt.NDArray[np.uint8]  # H x W x 3, RGB, C-contiguous
    scale: float  # working pixels per original pixel (<= 1)
    original_size: tuple[int, int]  # width, height after EXIF orientation
    ms: float
    captured_at: str | None = None  # EXIF DateTimeOriginal, with its offset when the camera wrote one
    # the decoded pixels before the shrink to the working size (at most ``detail_size`` on the
    # longest side), for the face's landmarks and chip; None when the photo is no larger than ``pixels``
    detail: npt.NDArray[np.uint8] | None = None

    def detail_scale(self) -> float:
        """``detail`` pixels per working pixel (1 without ``detail``)."""
        return self.detail.shape[1] / self.pixels.shape[1] if self.detail is not None else 1.0


def decode(data: bytes, *, max_bytes: int, max_pixels: int, work_size: int, detail_size: int = 0) -> Decoded:
    """``detail_size`` > ``work_size``: also keep a copy of up to that size (``Decoded.detail``)."""
    started = time.perf_counter()
    kind = sniff(data)
    if len(data) > max_bytes:
        raise PhotoRefused(RefusalReason.TOO_MANY_BYTES, max_mb=max_bytes // 1_000_000)
    if kind == "HEIF":
        _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=[kind])
            width, height = image.size
            if width * height > max_pixels or width <= 0 or height <= 0:
                raise PhotoRefused(RefusalReason.TOO_MANY_PIXELS, limit_mp=max_pixels // 1_000_000)
            exif = image.getexif()
            orientation = exif.get(0x0112, 1)
            captured_at = _capture_time(exif)
            if kind == "JPEG":
                image.draft("RGB", (work_size, work_size))
            image.load()
            if orientation in (5, 6, 7, 8):
                width, height = height, width
            image = ImageOps.exif_transpose(image)
            image = _to_rgb(image)
            detail = None
            if max(image.size) > work_size:
                if detail_size > work_size:
                    if max(image.size) > detail_size:
                        image.thumbnail((detail_size, detail_size), Image.Resampling.BILINEAR, reducing_gap=2.0)
                    detail = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
                    image = image.copy()
                image.thumbnail((work_size, work_size), Image.Resampling.BILINEAR, reducing_gap=2.0)
            pixels = np.asarray(image, dtype=np.uint8)
    except PhotoRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefused(RefusalReason.TOO_MANY_PIXELS, limit_mp=max_pixels // 1_000_000) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoRefused(RefusalReason.CORRUPT) from exc
    return Decoded(
        pixels=np.ascontiguousarray(pixels),
        scale=pixels.shape[1] / width,
        original_size=(width, height),
        ms=(time.perf_counter() - started) * 1000,
        captured_at=captured_at,
        detail=detail,
    )


def _capture_time(exif: Image.Exif) -> str | None:
    sub = exif.get_ifd(0x8769)  # the Exif sub-IFD
    stamp = sub.get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, else DateTime
    if not isinstance(stamp, str) or len(stamp) < 19:
        return None
    offset = sub.get(0x9011)  # OffsetTimeOriginal, e.g. "+01:00"
    return stamp[:19] + (offset.strip() if isinstance(offset, str) else "")


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")

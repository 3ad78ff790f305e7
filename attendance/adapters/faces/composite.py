"""Two-person photos built from two one-person photos, to measure the dominant-face rule
(``attendance eval --background``, docs/recognition.md "Background faces").

``behind``: the front photo's face stays at the centre and the other face is pasted smaller,
to the side and a little higher, as a colleague behind the person. ``beside``: both faces at the
same height, either side of the centre, as two people taking a selfie together. The images
are made in memory; nothing is written to disk.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
from PIL import Image

from attendance.adapters.faces.model import FaceBox, Rgb

Layout = Literal["behind", "beside"]
MARGIN = 0.4  # of the face's width, kept around a pasted face (hair, chin)
BACKGROUND = (128, 128, 128)


def composite(
    front: tuple[Rgb, FaceBox], other: tuple[Rgb, FaceBox] | None, *, scale: float = 1.0, layout: Layout
) -> bytes:
    """A JPEG of ``front`` with ``other``'s face added at ``scale`` times the front face's width
    (``other`` None: the front photo placed alone, the baseline)."""
    pixels, face = front
    h, w = pixels.shape[:2]
    fw, fh = face.width, face.bottom - face.top
    fcx, fcy = (face.left + face.right) / 2, (face.top + face.bottom) / 2
    canvas = Image.new("RGB", (2 * w, h), BACKGROUND)
    pw = max(8, round(scale * fw))
    gap = fw / 2 + (1 + 2 * MARGIN) * pw / 2 + 0.1 * fw  # the pasted crop never covers the front face
    if layout == "behind":
        front_x = round(w - fcx)  # the front face at the canvas's centre
        other_cx, other_cy = w + gap, fcy - 0.15 * fh
    else:
        front_x = round(w - gap / 2 - fcx)  # the pair straddles the centre
        other_cx, other_cy = w + gap / 2, fcy
    canvas.paste(Image.fromarray(pixels), (front_x, 0))
    if other is not None:
        crop = _face_crop(*other, width=pw)
        canvas.paste(crop, (round(other_cx - crop.width / 2), round(other_cy - crop.height / 2)))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=95)
    return out.getvalue()


def _face_crop(pixels: Rgb, face: FaceBox, *, width: int) -> Image.Image:
    """The face with ``MARGIN`` around it, resized so that the face is ``width`` pixels wide."""
    m = MARGIN * face.width
    h, w = pixels.shape[:2]
    left, top = max(0, round(face.left - m)), max(0, round(face.top - m))
    right, bottom = min(w, round(face.right + m)), min(h, round(face.bottom + m))
    crop = Image.fromarray(np.ascontiguousarray(pixels[top:bottom, left:right]))
    ratio = width / face.width
    size = (max(1, round(crop.width * ratio)), max(1, round(crop.height * ratio)))
    return crop.resize(size, Image.Resampling.LANCZOS)

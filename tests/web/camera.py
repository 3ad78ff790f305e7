"""A fake camera for Chromium: a face photo of ../shared/faces written as a Y4M video, which
Chromium plays as the webcam (``--use-file-for-fake-video-capture``)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def y4m_from_photo(photo: bytes, path: Path, *, width: int = 640, height: int = 480, frames: int = 10) -> Path:
    """The photo, centred on grey at ``height`` pixels high, as ``frames`` identical 4:2:0 frames."""
    face = Image.open(io.BytesIO(photo)).convert("RGB")
    side = height
    face = face.resize((side * face.width // face.height, side), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (width, height), (128, 128, 128))
    canvas.paste(face, ((width - face.width) // 2, 0))
    ycbcr = np.asarray(canvas.convert("YCbCr"), dtype=np.uint8)
    y = ycbcr[:, :, 0]
    u = ycbcr[::2, ::2, 1]
    v = ycbcr[::2, ::2, 2]
    frame = b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes()
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)
    return path

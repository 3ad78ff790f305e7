"""Hostile and awkward images, made at test time (nothing is copied from the face set)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageFilter


def encode(image: Image.Image, fmt: str = "JPEG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def open_rgb(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def png_bomb(side: int = 20000) -> bytes:
    """A valid PNG of side x side grey pixels (400 MB decoded) that is a few hundred kB on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * side
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_claiming(data: bytes, width: int, height: int) -> bytes:
    """A real JPEG whose frame header (SOF) is patched to claim another size."""
    out = bytearray(data)
    i = 2
    while i < len(out):
        marker = out[i + 1]
        length = struct.unpack(">H", out[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            out[i + 5 : i + 9] = struct.pack(">HH", height, width)
            return bytes(out)
        i += 2 + length
    raise ValueError("no SOF marker")


def rotated_with_exif(data: bytes) -> bytes:
    """Pixels stored turned 90 degrees, with EXIF orientation 6 saying how to turn them back."""
    upright = open_rgb(data)
    stored = upright.rotate(90, expand=True)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # display = rotate 90 degrees clockwise
    return encode(stored, "JPEG", exif=exif, quality=92)


def side_by_side(a: bytes, b: bytes) -> bytes:
    left, right = open_rgb(a), open_rgb(b)
    h = min(left.height, right.height)
    left = left.resize((left.width * h // left.height, h))
    right = right.resize((right.width * h // right.height, h))
    canvas = Image.new("RGB", (left.width + right.width, h), (128, 128, 128))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    return encode(canvas)


def small_in_canvas(data: bytes, size: int, canvas: int) -> bytes:
    face = open_rgb(data).resize((size, size))
    out = Image.new("RGB", (canvas, canvas), (120, 120, 120))
    out.paste(face, ((canvas - size) // 2, (canvas - size) // 2))
    return encode(out)


def blurred(data: bytes, radius: float) -> bytes:
    return encode(open_rgb(data).filter(ImageFilter.GaussianBlur(radius)))


def darkened(data: bytes, factor: float) -> bytes:
    return encode(open_rgb(data).point(lambda v: int(v * factor)))

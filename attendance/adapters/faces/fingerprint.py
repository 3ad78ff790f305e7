"""A 64-bit perceptual hash (DCT pHash) of a photo, for spotting a photo used twice.

The same photo re-sent -- recompressed, resized or lightly cropped -- lands a few bits away;
two different photos land about half the bits away. The hash is not the photo: it cannot be
turned back into an image.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

_N = 32


def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    out: npt.NDArray[np.float64] = m
    return out


_DCT = _dct_matrix(_N)


def phash(pixels: npt.NDArray[np.uint8]) -> int:
    """64 bits: the signs of the 8x8 lowest DCT frequencies (but the constant) against their median."""
    gray = np.asarray(Image.fromarray(pixels).convert("L").resize((_N, _N), Image.Resampling.BOX), dtype=np.float64)
    freq = (_DCT @ gray @ _DCT.T)[:8, :8].flatten()[1:]
    freq = np.append(freq, freq[0])  # 64 values: 63 low frequencies, the first repeated to fill
    bits = freq > np.median(freq)
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def bands(h: int) -> list[int]:
    """Four 16-bit bands: two hashes within 3 bits share at least one band exactly (an index key)."""
    return [(h >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]

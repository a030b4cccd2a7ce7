"""Image arithmetic for the demo generator that gives the same bits on every x86-64 CPU.

OpenCV's float warps (``warpAffine``, ``remap``, ``resize``) and NumPy's vectorised transcendental functions
(``exp``, ``sin``, ``power``, ...) pick SIMD kernels by CPU feature at run time (AVX-512, AVX2/FMA, SSE), and
those kernels round differently in the last bits; after rounding to uint8 a few pixels flip, so the demo
dataset's bytes used to depend on the machine. Here every operation is one whose IEEE-754 result is fixed
whatever the SIMD width: element-wise ``+ − × ÷``, ``sqrt``, ``floor``, comparisons and gathers, each a
separate NumPy call in a fixed order (NumPy never fuses them into FMAs). The few transcendental values come
from Python's ``math`` (the platform libm, scalar) on 1-D vectors or scalars, never from NumPy's SIMD loops.

* :func:`sample_cubic`: bicubic sampling at arbitrary coordinates (OpenCV's kernel, A = −0.75), with
  OpenCV's ``BORDER_REFLECT`` or ``BORDER_REPLICATE`` rule;
* :func:`warp_affine`, :func:`resize`: the two uses of it the generator needs;
* :func:`power`, :func:`gaussian_1d`: ``x ** γ`` and ``exp(−(t − c)² / 2σ²)`` through ``math``.
"""
from __future__ import annotations

import math

import numpy as np

A = -0.75  # OpenCV's bicubic coefficient


def _cubic_weights(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weights of the taps at offsets −1, 0, 1, 2 for fractional positions ``t`` ∈ [0, 1) (OpenCV's
    ``interpolateCubic``)."""
    t1 = t + 1
    s = 1 - t
    w0 = ((A * t1 - 5 * A) * t1 + 8 * A) * t1 - 4 * A
    w1 = ((A + 2) * t - (A + 3)) * t * t + 1
    w2 = ((A + 2) * s - (A + 3)) * s * s + 1
    w3 = 1 - w0 - w1 - w2
    return w0, w1, w2, w3


def _border(i: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Indices outside 0..n−1 mapped back inside: ``reflect`` (…cba|abc…cba|abc…, the edge repeated, as
    OpenCV's BORDER_REFLECT) or ``replicate`` (clamped)."""
    if i.size == 0 or (int(i.min()) >= 0 and int(i.max()) < n):  # all inside (the usual case): nothing to map
        return i
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    period = 2 * n
    i = np.mod(i, period)
    return np.where(i >= n, period - 1 - i, i)


def sample_cubic(img: np.ndarray, x: np.ndarray, y: np.ndarray, border: str = "reflect") -> np.ndarray:
    """``img`` (H×W or H×W×C) sampled at float coordinates ``x`` (column), ``y`` (row), both of one shape S;
    returns S (+ C) float64. Taps are summed in a fixed order: row weights outer, column weights inner; each
    tap is one gather from the flattened image (row · W + column) into a reused buffer."""
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape[:2]
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x0, y0 = np.floor(x), np.floor(y)
    wx, wy = _cubic_weights(x - x0), _cubic_weights(y - y0)
    xi, yi = x0.astype(np.int64), y0.astype(np.int64)
    cols = [_border(xi + k, w, border) for k in (-1, 0, 1, 2)]
    row_starts = [_border(yi + k, h, border) * w for k in (-1, 0, 1, 2)]
    flat = img.reshape((h * w,) + img.shape[2:])  # (H·W, C): one index per pixel
    extra = () if img.ndim == 2 else (None,)
    out = np.zeros(x.shape + img.shape[2:], dtype=np.float64)  # (S, C)
    line, tap = np.empty_like(out), np.empty_like(out)
    for r, wr in zip(row_starts, wy):
        line[...] = 0.0
        for c, wc in zip(cols, wx):
            np.take(flat, r + c, axis=0, out=tap)  # img[row, col], (S, C)
            tap *= wc[(...,) + extra]
            line += tap
        out += wr[(...,) + extra] * line
    return out


def warp_affine(img: np.ndarray, matrix: np.ndarray, size: tuple[int, int], border: str = "reflect") -> np.ndarray:
    """Like ``cv2.warpAffine(img, matrix, size, INTER_CUBIC)``: ``matrix`` (2×3) maps source to destination
    pixels; ``size`` is (width, height). The 2×2 inverse is written out (no LAPACK)."""
    (a, b, tx), (c, d, ty) = [[float(v) for v in row] for row in matrix]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    itx, ity = -(ia * tx + ib * ty), -(ic * tx + id_ * ty)
    gx, gy = grid(size[0], size[1])
    return sample_cubic(img, ia * gx + ib * gy + itx, ic * gx + id_ * gy + ity, border)


def resize(img: np.ndarray, size: tuple[int, int], region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Bicubic resize to ``size`` (width, height), pixel centres aligned (OpenCV's convention), edges
    replicated; ``region`` (x0, y0, x1, y1) computes only that part of the resized image."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = region or (0, 0, *size)
    gx, gy = grid(x1 - x0, y1 - y0)
    gx, gy = gx + x0, gy + y0
    return sample_cubic(img, (gx + 0.5) * (w / size[0]) - 0.5, (gy + 0.5) * (h / size[1]) - 0.5, "replicate")


def grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y), each height×width float64."""
    return np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))


def power(x: np.ndarray, exponent: float) -> np.ndarray:
    """``x ** exponent`` element-wise through ``math.pow`` (x ≥ 0)."""
    flat = np.asarray(x, dtype=np.float64).ravel()
    return np.fromiter((math.pow(v, exponent) for v in flat.tolist()), dtype=np.float64,
                       count=flat.size).reshape(np.shape(x))


def gaussian_1d(n: int, centre: float, sigma: float) -> np.ndarray:
    """``exp(−(t − centre)² / 2σ²)`` for t = 0..n−1, through ``math.exp``."""
    return np.array([math.exp(-((t - centre) ** 2) / (2 * sigma * sigma)) for t in range(n)])

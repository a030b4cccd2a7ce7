"""Per-frame spotting features on the aligned face, computed in one pass over the tracked stream.

**LBP feature difference** (Moilanen, Zhao and Pietikäinen, "Spotting rapid facial movements from videos
using appearance-based feature difference analysis", ICPR 2014; the MEGC spotting baseline): the aligned
grey face is cut into ``blocks × blocks`` blocks and each block described by its uniform LBP(8, 1) histogram
(59 bins). For frame i (the *current frame*) and k, the χ² distance of each block's histogram from the mean of
frames i − k and i + k (the *average feature frame*), and F_i = the mean of the ``top_fraction`` largest block
distances. A movement as long as 2k rises and falls inside that window and peaks at F_i; the contrast
C_i = F_i − (F_{i−k} + F_{i+k}) / 2 (:mod:`mfdan.spotting.peaks`) removes slow change. With ``mask_eyes`` the
blocks holding an eye landmark (36–47) are left out, so a blink adds nothing.

**SOFTNet's input** (Liong et al., ICIP 2021): optical flow from frame i to frame i + k (TV-L1, the paper's,
or Farnebäck) on the aligned face at ``flow_size`` (the paper's 128²), the frame's median flow vector
(residual head motion; the paper subtracts the nose region's mean) subtracted, optical strain (Eq. 3 of
MFDAN, :func:`mfdan.preprocess.optical_strain.optical_strain`), the eyes zeroed as SOFTNet masks them, and
its two regions, eyebrows and mouth, each resized to ``input_size × input_size/2`` and stacked.

**Head motion**: the mean displacement of the rigid landmarks between frames i − k and i + k, as a fraction
of the aligned side (the head-motion gate of :mod:`mfdan.spotting.peaks`).

Values are NaN (flow inputs: not ``valid``) where the window does not fit inside one alignment stretch: near
the ends of a stretch, and wherever there is no face.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

import cv2
import numpy as np

from mfdan.preprocess.optical_flow import FlowConfig, tvl1
from mfdan.preprocess.optical_strain import optical_strain
from mfdan.spotting.config import KINDS, SoftNetConfig, SpotConfig
from mfdan.spotting.faces import FaceFrame

EYES = slice(36, 48)
LBP_BINS = 59


@cache
def _uniform_table() -> np.ndarray:
    """Byte → uniform-LBP bin: the 58 patterns with at most two 0/1 transitions get bins 0..57, the rest 58."""
    table = np.full(256, 58, np.int64)
    b = 0
    for code in range(256):
        bits = [(code >> j) & 1 for j in range(8)]
        if sum(bits[j] != bits[(j + 1) % 8] for j in range(8)) <= 2:
            table[code] = b
            b += 1
    return table


def lbp_histograms(grey: np.ndarray, blocks: int) -> np.ndarray:
    """Uniform LBP(8, 1) histograms of ``blocks × blocks`` blocks of ``grey`` (H×W uint8), each summing to 1:
    (blocks², 59) float64. The one-pixel border has no code and is left out."""
    g = grey.astype(np.int16)
    c = g[1:-1, 1:-1]
    h, w = c.shape
    code = np.zeros((h, w), np.int64)
    for j, (dy, dx) in enumerate(((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))):
        nb = g[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
        code |= (nb >= c).astype(np.int64) << j
    bins = _uniform_table()[code]                                   # (h, w) bin per pixel
    by = np.minimum(np.arange(h) * blocks // h, blocks - 1)         # block row of each pixel row
    bx = np.minimum(np.arange(w) * blocks // w, blocks - 1)
    block = by[:, None] * blocks + bx[None, :]                      # (h, w) block per pixel
    hist = np.bincount((block * LBP_BINS + bins).ravel(), minlength=blocks * blocks * LBP_BINS)
    hist = hist.reshape(blocks * blocks, LBP_BINS).astype(np.float64)
    return hist / hist.sum(axis=1, keepdims=True)


def chi_square(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """χ² distance per row of two (n, bins) histogram arrays."""
    s = a + b
    d = (a - b) ** 2
    return np.where(s > 0, d / np.where(s > 0, s, 1.0), 0.0).sum(axis=1)


def eye_blocks(points_aligned: np.ndarray, side: int, blocks: int) -> np.ndarray:
    """Bool (blocks²,): the blocks holding an eye landmark (aligned px)."""
    mask = np.zeros(blocks * blocks, bool)
    for x, y in points_aligned[EYES]:
        bx = min(blocks - 1, max(0, int(x * blocks // side)))
        by = min(blocks - 1, max(0, int(y * blocks // side)))
        mask[by * blocks + bx] = True
    return mask


def _box(points: np.ndarray, grow: float, n: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``: the box of ``points`` grown by ``grow`` × its width on each side, in 0..n."""
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    g = grow * (x1 - x0)
    return (max(0, int(x0 - g)), max(0, int(y0 - g)), min(n, int(np.ceil(x1 + g)) + 1), min(n, int(np.ceil(y1 + g)) + 1))


def softnet_flow(a: np.ndarray, b: np.ndarray, points: np.ndarray, net: SoftNetConfig) -> np.ndarray:
    """SOFTNet's input from grey face ``a`` to ``b`` (flow_size², uint8; ``points``: their 68 landmarks at
    that size): flow, minus its median vector; strain; the eyes zeroed; the eyebrow region (brows to lower
    lids) over the mouth region, each ``input_size × input_size/2``: 3×input_size² float32."""
    if net.flow == "tvl1":
        flow = tvl1(FlowConfig()).calc(a, b, None)
    else:
        flow = cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                            poly_n=5, poly_sigma=1.2, flags=0)
    flow = flow - np.median(flow.reshape(-1, 2), axis=0)             # (H, W, 2) minus the residual head motion
    u, v = flow[..., 0], flow[..., 1]
    maps = np.stack([u, v, optical_strain(u, v)]).astype(np.float32)  # (3, H, W)
    n = a.shape[0]
    for eye in (points[36:42], points[42:48]):                        # SOFTNet's eye masks
        x0, y0, x1, y1 = _box(eye, 0.25, n)
        maps[:, y0:y1, x0:x1] = 0
    s, half = net.input_size, net.input_size // 2
    parts = []
    for region in (np.concatenate([points[17:27], points[36:48]]), points[48:68]):  # brows + eyes, mouth
        x0, y0, x1, y1 = _box(region, 0.15, n)
        crop = maps[:, y0:y1, x0:x1]
        part = np.stack([cv2.resize(c, (s, half), interpolation=cv2.INTER_AREA) for c in crop])  # (3, half, s)
        part[0] *= s / max(1, x1 - x0)                                 # displacements scale with the grid
        part[1] *= half / max(1, y1 - y0)
        parts.append(part)
    return np.concatenate(parts, axis=1)                              # (3, s, s)


@dataclass
class VideoFeatures:
    """One recording's per-frame features (length = its frame count)."""

    n: int
    fps: float
    ks: dict[str, int]                                   #: k per kind, frames
    face: np.ndarray = field(init=False)                 #: bool (n,)
    stretch: np.ndarray = field(init=False)              #: int (n,), −1 without a face
    fd: dict[str, np.ndarray] = field(init=False)        #: F_i per kind, NaN where the window does not fit
    head: dict[str, np.ndarray] = field(init=False)      #: rigid-landmark motion over the window, per kind
    flow: dict[str, np.ndarray] | None = None            #: SOFTNet inputs per kind, (n, 3, s, s) float16
    valid: dict[str, np.ndarray] | None = None           #: where the flow input exists, bool (n,)

    def __post_init__(self) -> None:
        self.face = np.zeros(self.n, bool)
        self.stretch = np.full(self.n, -1, np.int32)
        self.fd = {k: np.full(self.n, np.nan) for k in self.ks}
        self.head = {k: np.full(self.n, np.nan) for k in self.ks}


def compute_features(frames: Iterable[FaceFrame], n: int | None, fps: float, cfg: SpotConfig,
                     net: SoftNetConfig | None = None,
                     on_flow: Callable[[str, int, np.ndarray], None] | None = None, lbp: bool = True) -> VideoFeatures:
    """The features of a tracked recording (``frames`` in order: :func:`mfdan.spotting.faces.track`) of ``n``
    frames (None: as many as the stream has; given, the stream must have that many). With ``net``, SOFTNet's
    inputs too: kept in ``flow`` (the ``features@`` stage stores them), or, given ``on_flow``, each handed to
    ``on_flow(kind, frame, input)`` as soon as it is computed and not kept (``mfdan predict`` scores them as the
    video streams: :class:`mfdan.spotting.softnet.StreamScorer`); ``valid`` says where they exist either way.
    ``lbp=False`` leaves the feature difference out (``fd`` all NaN): what SOFTNet alone needs, a third faster."""
    ks = {kind: cfg.frames(getattr(cfg, f"k_{kind}"), fps) for kind in KINDS}
    side, reach = cfg.face_size, max(ks.values())
    buf: deque = deque(maxlen=2 * reach + 1)   # (index, histograms, rigid, flow-size grey) of the current stretch
    stretch, mask, points_small = None, None, None
    face: dict[int, int] = {}                  # frame -> stretch, the frames with a face
    fd: dict[str, dict[int, float]] = {k: {} for k in KINDS}
    head: dict[str, dict[int, float]] = {k: {} for k in KINDS}
    flow: dict[str, dict[int, np.ndarray]] = {k: {} for k in KINDS}
    valid_at: dict[str, list[int]] = {k: [] for k in KINDS}   # with on_flow: where an input was handed over
    seen = 0
    for f in frames:
        seen += 1
        if not f.has_face:
            buf.clear()
            stretch = None
            continue
        face[f.index] = f.stretch
        m = f.alignment.matrix
        if f.stretch != stretch:  # a new alignment: windows restart, the eye blocks are the new stretch's
            buf.clear()
            stretch = f.stretch
            aligned = f.points @ m[:, :2].T + m[:, 2]
            mask = eye_blocks(aligned, side, cfg.blocks) if cfg.mask_eyes else np.zeros(cfg.blocks ** 2, bool)
            if net is not None:
                points_small = aligned * (net.flow_size / side)
        grey = f.aligned_grey(side)
        small = cv2.resize(grey, (net.flow_size, net.flow_size), interpolation=cv2.INTER_AREA) if net else None
        buf.append((f.index, lbp_histograms(grey, cfg.blocks)[~mask] if lbp else None, f.rigid, small))
        j = f.index
        pos = {e[0]: e for e in buf}
        for kind, k in ks.items():
            i = j - k  # the current frame whose window [i − k, i + k] may now be complete
            if i - k in pos:
                cf, first, last = pos[i], pos[i - k], pos[i + k]
                if lbp:
                    d = chi_square(cf[1], 0.5 * (first[1] + last[1]))
                    top = max(1, int(round(cfg.top_fraction * d.size)))
                    fd[kind][i] = float(np.sort(d)[-top:].mean())
                head[kind][i] = float(np.linalg.norm(last[2] - first[2], axis=1).mean()) / side
            if net is not None and i in pos:  # flow from i to i + k = j
                x = softnet_flow(pos[i][3], small, points_small, net).astype(np.float16)
                if on_flow is None:
                    flow[kind][i] = x
                else:
                    on_flow(kind, i, x)
                    valid_at[kind].append(i)
    if n is not None and seen != n:
        raise ValueError(f"the stream had {seen} frames, the recording {n}")
    out = VideoFeatures(n=seen, fps=fps, ks=ks)
    for i, s_ in face.items():
        out.face[i], out.stretch[i] = True, s_
    for kind in KINDS:
        for i, v in fd[kind].items():
            out.fd[kind][i] = v
        for i, v in head[kind].items():
            out.head[kind][i] = v
    if net is not None and on_flow is not None:
        out.valid = {k: np.zeros(seen, bool) for k in KINDS}
        for kind in KINDS:
            out.valid[kind][valid_at[kind]] = True
    elif net is not None:
        s = net.input_size
        out.flow = {k: np.zeros((seen, 3, s, s), np.float16) for k in KINDS}
        out.valid = {k: np.zeros(seen, bool) for k in KINDS}
        for kind in KINDS:
            for i, v in flow[kind].items():
                out.flow[kind][i], out.valid[kind][i] = v, True
    return out

"""A score curve to micro- and macro-expression intervals, and the rules that keep other movements out.

Both spotters end here. A curve (one value per frame, NaN where there is no score) becomes proposals so:

1. threshold T = mean + p (max − mean) of the video's own finite scores (Moilanen et al. 2014, and SOFTNet's
   p = 0.55), so a calm and a restless recording each set their own level;
2. peaks of at least T, at least k frames apart (``scipy.signal.find_peaks``); a peak gives the interval
   [peak − k, peak + k], apex = the peak, clipped to the frames of its alignment stretch.

What must not be reported as a micro-expression, and how it is kept out (docs/long.md measures each):

* **head motion** — alignment stretches end where the head moves (:mod:`mfdan.spotting.faces`), no window
  spans two, and a peak whose window moves the rigid landmarks by more than ``head_motion`` of the face is
  dropped (``gate_head``);
* **blinks** — the eye blocks (feature difference) and eye regions (SOFTNet) are left out of the features;
* **macro-expressions** (longer than ``max_micro`` s) — the macro channel (k = ``k_macro``) is spotted first;
  its intervals are taken out of the micro curve before the micro threshold is set (``mask_macro``: else the
  strongest movement of a recording, a macro-expression, sets the micro level), a micro proposal that
  overlaps a macro proposal is dropped (``drop_in_macro``), and a micro peak wider than ``max_micro`` s at
  half its height over the curve's median (its FWHM) is dropped as a long movement.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.signal import find_peaks

from mfdan.data.long_records import Interval

if TYPE_CHECKING:
    from mfdan.spotting.config import SpotConfig
    from mfdan.spotting.features import VideoFeatures


def threshold(curve: np.ndarray, p: float) -> float:
    """T = mean + p (max − mean) over the finite values of ``curve`` (inf when there are none)."""
    v = curve[np.isfinite(curve)]
    if v.size == 0:
        return float("inf")
    return float(v.mean() + p * (v.max() - v.mean()))


def masked(curve: np.ndarray, exclude: list[Interval]) -> np.ndarray:
    """``curve`` with the frames of ``exclude`` set to NaN (a copy)."""
    curve = curve.copy()
    for iv in exclude:
        curve[iv.onset:iv.offset + 1] = np.nan
    return curve


def contrast(fd: np.ndarray, k: int) -> np.ndarray:
    """C_i = F_i − (F_{i−k} + F_{i+k}) / 2, negatives set to 0 (Moilanen et al. 2014); NaN where a term is."""
    c = np.full_like(fd, np.nan)
    if fd.size > 2 * k:
        c[k:-k] = fd[k:-k] - 0.5 * (fd[:-2 * k] + fd[2 * k:])
    return np.where(np.isnan(c), np.nan, np.maximum(c, 0.0))


def smooth(score: np.ndarray, k: int) -> np.ndarray:
    """SOFTNet's smoothing: the centred mean over 2k + 1 frames, over the frames that have a score."""
    finite = np.isfinite(score)
    vals = np.where(finite, score, 0.0)
    w = np.ones(2 * k + 1)
    num = np.convolve(vals, w, mode="same")
    den = np.convolve(finite.astype(float), w, mode="same")
    out = np.where(den > 0, num / np.maximum(den, 1), np.nan)
    return np.where(finite, out, np.nan)


def propose(curve: np.ndarray, stretch: np.ndarray, k: int, p: float, *, kind: str,
            head: np.ndarray | None = None, head_limit: float = float("inf"), max_len: int | None = None,
            exclude: list[Interval] = (), counts: dict | None = None) -> list[Interval]:
    """Intervals from one score ``curve`` (NaN: no score); ``stretch``: each frame's alignment stretch (−1: no
    face); ``exclude``: intervals (the macro proposals) whose frames are taken out of the curve before the
    threshold is set. ``counts`` (when given) gains how many peaks each rule dropped."""
    if exclude:
        curve = masked(curve, exclude)
    t = threshold(curve, p)
    if not np.isfinite(t):
        return []
    filled = np.where(np.isfinite(curve), curve, -np.inf)
    base = float(np.median(curve[np.isfinite(curve)]))
    peaks, _ = find_peaks(filled, height=t, distance=max(1, k))
    out: list[Interval] = []
    n = curve.size
    for peak in peaks:
        s = stretch[peak]
        if s < 0:
            continue
        if head is not None and np.isfinite(head[peak]) and head[peak] > head_limit:
            if counts is not None:
                counts["head_motion"] = counts.get("head_motion", 0) + 1
            continue
        if max_len is not None:  # the peak's width at half its height over the curve's median (FWHM)
            half = base + 0.5 * (filled[peak] - base)
            lo = peak
            while lo > 0 and filled[lo - 1] >= half:
                lo -= 1
            hi = peak
            while hi < n - 1 and filled[hi + 1] >= half:
                hi += 1
            if hi - lo + 1 > max_len:
                if counts is not None:
                    counts["too_long"] = counts.get("too_long", 0) + 1
                continue
        same = np.flatnonzero(stretch == s)  # the frames of its stretch (consecutive)
        onset, offset = max(int(same[0]), int(peak) - k), min(int(same[-1]), int(peak) + k)
        out.append(Interval(onset=onset, apex=int(peak), offset=offset, kind=kind, score=float(curve[peak])))
    return out


def overlaps(a: Interval, b: Interval) -> bool:
    return a.onset <= b.offset and b.onset <= a.offset


def drop_overlapping(micro: list[Interval], macro: list[Interval], counts: dict | None = None) -> list[Interval]:
    """The micro proposals that overlap no macro proposal."""
    kept = [m for m in micro if not any(overlaps(m, big) for big in macro)]
    if counts is not None:
        counts["in_macro"] = counts.get("in_macro", 0) + len(micro) - len(kept)
    return kept


def spot_kinds(curves: dict[str, np.ndarray], feat: VideoFeatures, cfg: SpotConfig, *, p_micro: float,
               p_macro: float, counts: dict | None = None) -> list[Interval]:
    """Both spotters' last step, from one score curve per kind: the macro proposals first, then the micro ones
    (head gate, ``max_micro``, the macro intervals masked out when ``cfg.mask_macro``), those overlapping a
    macro proposal dropped when ``cfg.drop_in_macro``; all in onset order."""
    macro = propose(curves["macro"], feat.stretch, feat.ks["macro"], p_macro, kind="macro")
    micro = propose(curves["micro"], feat.stretch, feat.ks["micro"], p_micro, kind="micro", head=feat.head["micro"],
                    head_limit=cfg.head_motion, max_len=cfg.frames(cfg.max_micro, feat.fps),
                    exclude=macro if cfg.mask_macro else [], counts=counts)
    if cfg.drop_in_macro:
        micro = drop_overlapping(micro, macro, counts)
    return sorted(micro + macro, key=lambda iv: (iv.onset, iv.kind))

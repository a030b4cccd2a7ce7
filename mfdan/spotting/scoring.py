"""MEGC's evaluation of spotting and of spot-then-recognise.

**Spotting** (MEGC 2019–2025): a proposal is a true positive when its IoU with a ground-truth interval of
the same kind is at least 0.5, IoU on inclusive frame sets, |A ∩ B| / |A ∪ B|. Matching is per video, each
ground truth and each proposal matched at most once (ground truths in onset order, each taking the
unmatched proposal of highest IoU); unmatched proposals are false positives, unmatched ground truths false
negatives. TP, FP and FN are summed over all videos of a dataset (and over datasets for ``overall``) before
precision, recall and F1. Micro- and macro-expressions are scored separately.

**STRS**, the spot-then-recognise score (Liong, See and Chan, "Spot-then-recognize: A micro-expression
analysis network for seamless evaluation of long videos", Signal Processing: Image Communication 110,
116875, 2023; the MEGC 2023–2025 STR metric, reference code genbing99/STRS-Metric):
STRS = spotting F1 × analysis F1. The analysis part is computed on the true-positive pairs only: for each
class c occurring among those pairs (true or recognised), one-vs-rest precision P_c and recall R_c; analysis
F1 = 2 P R / (P + R) with P and R the means of P_c and R_c over the classes (not the mean of per-class F1s);
a class never recognised has P_c = 0. With no true positive, STRS = 0. Where the reference code lets
one proposal count for several ground truths, we match one-to-one (the difference needs two ground truths
that one interval overlaps by IoU ≥ 0.5 each, which non-overlapping annotations cannot give).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from mfdan.spotting.peaks import Interval

HIT_IOU = 0.5


def iou(a: Interval, b: Interval) -> float:
    """IoU of two inclusive frame intervals."""
    inter = min(a.offset, b.offset) - max(a.onset, b.onset) + 1
    if inter <= 0:
        return 0.0
    union = (a.offset - a.onset + 1) + (b.offset - b.onset + 1) - inter
    return inter / union


def match(truth: Sequence[Interval], proposed: Sequence[Interval]) -> list[tuple[int, int]]:
    """``(truth index, proposal index)`` pairs with IoU ≥ 0.5, one-to-one (see the module docstring)."""
    used: set[int] = set()
    pairs = []
    for ti in sorted(range(len(truth)), key=lambda i: truth[i].onset):
        best, best_iou = None, HIT_IOU
        for pi, p in enumerate(proposed):
            if pi in used:
                continue
            v = iou(truth[ti], p)
            if v >= best_iou and (best is None or v > best_iou):
                best, best_iou = pi, v
        if best is not None:
            used.add(best)
            pairs.append((ti, best))
    return pairs


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0}


def analysis_f1(pairs: Iterable[tuple[str, str]], classes: Sequence[str] | None = None) -> dict[str, float]:
    """STRS's analysis part over ``(true class, recognised class)`` pairs of the true positives: mean
    one-vs-rest precision P and recall R over the classes that occur in the pairs (true or recognised; those of
    ``classes`` only, when given), F1 = 2PR/(P+R); also UF1 (mean per-class F1)."""
    pairs = list(pairs)
    if not pairs:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "uf1": 0.0, "n": 0}
    classes = sorted({c for pair in pairs for c in pair if classes is None or c in classes})
    ps, rs, f1s = [], [], []
    for c in classes:
        tp = sum(1 for t, r in pairs if t == c and r == c)
        fp = sum(1 for t, r in pairs if t != c and r == c)
        fn = sum(1 for t, r in pairs if t == c and r != c)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        ps.append(p)
        rs.append(r)
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    p, r = float(np.mean(ps)), float(np.mean(rs))
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "uf1": float(np.mean(f1s)), "n": len(pairs)}


def evaluate(videos: Iterable[tuple[Sequence[Interval], Sequence[Interval]]], *,
             classes: Sequence[str] | None = None) -> dict:
    """Per kind, spotting P/R/F1 over ``(truth, proposals)`` per video; for micro, the analysis part over the
    hits whose truth has a class in ``classes`` (all labelled ones when None) and STRS."""
    videos = list(videos)
    out: dict = {}
    for kind in ("micro", "macro"):
        tp = fp = fn = 0
        labelled: list[tuple[str, str]] = []
        for truth, proposed in videos:
            t = [iv for iv in truth if iv.kind == kind]
            p = [iv for iv in proposed if iv.kind == kind]
            pairs = match(t, p)
            tp, fp, fn = tp + len(pairs), fp + len(p) - len(pairs), fn + len(t) - len(pairs)
            for ti, pi in pairs:
                true, got = t[ti].label, p[pi].label
                if true is not None and got is not None and (classes is None or true in classes):
                    labelled.append((true, got))
        out[kind] = prf(tp, fp, fn)
        if kind == "micro":
            a = analysis_f1(labelled, classes)
            out[kind]["analysis"] = a
            out[kind]["strs"] = out[kind]["f1"] * a["f1"]
    return out


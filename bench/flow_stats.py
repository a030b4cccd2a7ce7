"""What the model's flow input looks like, per set: where each sample's scale comes from and how much class
signal a pixel carries.

    python bench/flow_stats.py data/cache.h5 bench/out/realface/cache.h5 [--margin 12]

For each cache (the ``pack`` stage's file, or one the ablation harness built for a flow arm) it prints:

* where the largest |(u, v)| lies: the share of samples whose maximum is within 8 px of the border
  (the pixels that set ``flow.normalise: maxabs``'s scale);
* the face's own motion after normalisation: the 99th percentile of |(u, v)| inside a ``--margin`` px border,
  10th / 50th / 90th percentile over samples (1 everywhere would mean a consistent scale);
* the class signal per input feature: the Fisher ratio (between-class over within-class variance of each
  (channel, pixel)), mean and top 1 %, after average pooling to 128 … 8 px; one number per set, no training.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfdan.core.rows import open_rows  # noqa: E402


def fisher_ratio(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per column of ``x`` (N×D): between-class variance / within-class variance (population, 1e-12 floor)."""
    mean = x.mean(0)
    between = np.zeros(x.shape[1])
    within = np.zeros(x.shape[1])
    for c in np.unique(labels):
        xc = x[labels == c]
        between += len(xc) * (xc.mean(0) - mean) ** 2
        within += ((xc - xc.mean(0)) ** 2).sum(0)
    return between / np.maximum(within, 1e-12)


def describe(cache: Path, margin: int) -> list[str]:
    with open_rows(cache, ("flow", "label")) as c:
        flow, labels = c["flow"][()], c["label"][()]
    n, _, size, _ = flow.shape  # (N, 3, S, S)
    mag = np.hypot(flow[:, 0], flow[:, 1])  # (N, S, S)
    at = mag.reshape(n, -1).argmax(1)
    row, col = at // size, at % size
    edge = ((row < 8) | (row >= size - 8) | (col < 8) | (col >= size - 8)).mean()
    inner = mag[:, margin:size - margin, margin:size - margin].reshape(n, -1)
    face = np.percentile(np.percentile(inner, 99, axis=1), [10, 50, 90])
    lines = [f"{cache}: {n} samples, {size} px",
             f"  max |(u, v)| within 8 px of the border: {edge:.0%} of samples",
             f"  face motion (p99 of |(u, v)| inside {margin} px), 10/50/90 % over samples: "
             + " / ".join(f"{v:.3f}" for v in face),
             f"  mean |(u, v)| {mag.mean():.3f}"]
    for side in (size, 64, 32, 16, 8):
        if size % side:
            continue
        k = size // side
        pooled = flow.reshape(n, 3, side, k, side, k).mean((3, 5)).reshape(n, -1)  # (N, 3·side²)
        fr = np.sort(fisher_ratio(pooled, labels))
        lines.append(f"  Fisher ratio at {side:3d} px: mean {fr.mean():.3f}, top 1 % {fr[-max(1, len(fr) // 100):].mean():.3f}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("caches", nargs="+", type=Path)
    ap.add_argument("--margin", type=int, default=12)
    args = ap.parse_args()
    for cache in args.caches:
        print("\n".join(describe(cache, args.margin)))


if __name__ == "__main__":
    main()

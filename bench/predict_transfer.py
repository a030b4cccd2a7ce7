"""Does the demo-trained final model transfer to a face it never saw? And how long does one prediction take?

    python bench/predict_transfer.py [--model models/final] [--apex given|spotted]

Runs ``mfdan predict``'s code path (:func:`mfdan.predict.predictor.predict_clip`, one model load) on every
clip of the real-face set (``bench/ablation.py``'s ``realface``: matplotlib's Grace Hopper photo, built there
with ``python bench/ablation.py --set realface ...``, or here if missing), with the two-frame form at the
annotated apex (``--apex given``) or the clip-folder form with the apex spotted (``--apex spotted``). Prints
UF1 / UAR against the clips' labels (3 classes, chance ≈ 0.33), per dataset, and the median seconds per part
(read, align, spot, flow, magnify, model), measured in this one run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ablation import OUT, build_realface  # noqa: E402
from mfdan.core.rows import open_rows  # noqa: E402
from mfdan.evaluate.metrics import uf1_uar  # noqa: E402
from mfdan.predict import inputs  # noqa: E402
from mfdan.predict.model_card import load_final  # noqa: E402
from mfdan.predict.predictor import predict_clip  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "models/final")
    ap.add_argument("--apex", choices=("given", "spotted"), default="given")
    args = ap.parse_args()
    root = OUT / "realface"
    files = build_realface(root, yaml.safe_load((REPO / "params.yaml").read_text()))
    rows = json.loads((root / "index.json").read_text())["samples"]
    with open_rows(files["aligned"], ("apex_index",)) as a:
        apex = a["apex_index"][()]
    t = time.perf_counter()
    fm = load_final(args.model)
    load_s = time.perf_counter() - t
    classes = fm.classes
    y, pred, ds, seconds = [], [], [], []
    for i, r in enumerate(rows):
        t = time.perf_counter()
        if args.apex == "given":
            clip = inputs.two_frames(r["frames"][r["onset"]], r["frames"][int(apex[i])])
        else:
            clip = inputs.clip_folder(Path(r["frames"][0]).parent, onset=r["onset"])
        read = time.perf_counter() - t
        p = predict_clip(fm, clip, align_as=r["dataset"])
        y.append(r["label_index"])
        pred.append(classes.index(p.label))
        ds.append(r["dataset"])
        seconds.append({"read": read, **p.seconds})
    y, pred = np.array(y), np.array(pred)
    uf1, uar = uf1_uar(y, pred, len(classes))
    print(f"model {args.model} ({fm.card['trained_on']['samples']} demo samples; its LOSO reference UF1 "
          f"{fm.card['loso_reference']['uf1']:.3f}) on {len(rows)} real-face clips (apex {args.apex}):")
    print(f"  UF1 {uf1:.3f}  UAR {uar:.3f}  accuracy {float((y == pred).mean()):.3f}")
    for d in sorted(set(ds)):
        sel = np.array(ds) == d
        f, r_ = uf1_uar(y[sel], pred[sel], len(classes))
        print(f"  {d}: UF1 {f:.3f} UAR {r_:.3f} ({int(sel.sum())} clips)")
    counts = np.bincount(pred, minlength=len(classes))
    print("  predicted classes: " + ", ".join(f"{c} {n}" for c, n in zip(classes, counts)))
    print(f"model load {load_s:.2f} s; median seconds per clip and part:")
    for d in sorted(set(ds)):
        part = [s for s, dd in zip(seconds, ds) if dd == d]
        keys = [k for k in ("read", "align", "spot", "flow", "magnify", "model") if k in part[0]]
        print(f"  {d}: " + ", ".join(f"{k} {statistics.median(s[k] for s in part):.3f}" for k in keys))


if __name__ == "__main__":
    main()

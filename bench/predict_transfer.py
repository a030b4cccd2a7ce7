"""Does the demo-trained final model transfer to a face it never saw? And how long does one prediction take?

    python bench/predict_transfer.py [--model models/final] [--apex given|spotted]

Runs ``mfdan predict``'s code path (:func:`mfdan.predict.predictor.predict_clip`, one model load) on every
clip of the real-face set (``mfdan sweep --set realface``'s: matplotlib's Grace Hopper photo, built by the
pipeline's DVC stages in ``<store>/sets/``, here if missing), with the two-frame form at the
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfdan.core.rows import open_rows  # noqa: E402
from mfdan.evaluate.metrics import uf1_uar  # noqa: E402
from mfdan.predict import inputs  # noqa: E402
from mfdan.predict.model_card import load_final  # noqa: E402
from mfdan.predict.predictor import predict_clip  # noqa: E402
from mfdan.sweep.sets import build_caches, load_set  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "models/final")
    ap.add_argument("--apex", choices=("given", "spotted"), default="given")
    ap.add_argument("--store", type=Path, default=REPO / "sweeps", help="mfdan sweep's store (the set's workspace)")
    args = ap.parse_args()
    source = load_set("realface", repo=REPO)
    ws = build_caches(source.values, source, repo=REPO, store=args.store.resolve()).workspace
    rows = json.loads((ws / "data/index.json").read_text())["samples"]
    for r in rows:  # frame paths as the workspace's index stage wrote them: relative to the workspace
        r["frames"] = [str(ws / f) if not Path(f).is_absolute() else f for f in r["frames"]]
    with open_rows(ws / "data/aligned.h5", ("apex_index",)) as a:
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

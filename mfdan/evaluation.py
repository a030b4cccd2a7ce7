"""The ``evaluate`` stage: metrics over all folds' predictions concatenated (MEGC2019 convention)."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from mfdan.errors import DatasetError
from mfdan.metrics import confusion as confusion_matrix
from mfdan.metrics import uf1_uar


def read_predictions(folds: list[str], folds_dir: Path) -> tuple[list[dict], list[str], list[dict]]:
    """All folds' prediction rows, the class names (from the probability columns) and each fold's meta."""
    rows, metas, classes = [], [], None
    for fold in folds:
        path = folds_dir / fold / "predictions.csv"
        if not path.is_file():
            raise DatasetError(path, f"predictions of fold {fold} not found; run `dvc repro train@{fold}`")
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            cls = [c.removeprefix("prob_") for c in reader.fieldnames or [] if c.startswith("prob_")]
            if classes is not None and cls != classes:
                raise DatasetError(path, f"class columns {cls} differ from the other folds' {classes}")
            classes = cls
            rows += list(reader)
        metas.append(json.loads((folds_dir / fold / "meta.json").read_text()))
    return rows, classes or [], metas


def evaluate(folds: list[str], folds_dir: Path, metrics: Path, confusion: Path, curves: Path) -> dict:
    rows, classes, metas = read_predictions(folds, folds_dir)
    idx = {c: i for i, c in enumerate(classes)}
    y = [idx[r["label"]] for r in rows]
    p = [idx[r["pred"]] for r in rows]
    n = len(classes)
    uf1, uar = uf1_uar(y, p, n)
    report = {"protocol_rule": "UF1/UAR over all folds' predictions concatenated (MEGC2019)",
              "epoch_selection": sorted({m["selection"] for m in metas}),
              "uf1": round(uf1, 6), "uar": round(uar, 6),
              "accuracy": round(sum(a == b for a, b in zip(y, p)) / max(len(y), 1), 6),
              "samples": len(rows), "folds": len(folds),
              "class_counts": {c: int(v) for c, v in zip(classes, confusion_matrix(y, p, n).sum(1))},
              "per_dataset": {}, "per_fold": {},
              "device": sorted({m["device"] for m in metas})}
    for ds in sorted({r["dataset"] for r in rows}):
        sel = [i for i, r in enumerate(rows) if r["dataset"] == ds]
        f, a = uf1_uar([y[i] for i in sel], [p[i] for i in sel], n)
        report["per_dataset"][ds] = {"uf1": round(f, 6), "uar": round(a, 6), "samples": len(sel)}
    for fold in folds:
        sel = [i for i, r in enumerate(rows) if r["fold"] == fold]
        report["per_fold"][fold] = {"accuracy": round(sum(y[i] == p[i] for i in sel) / max(len(sel), 1), 6),
                                    "samples": len(sel)}
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps(report, indent=1) + "\n")
    with confusion.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["actual", "predicted"])
        for r in rows:
            w.writerow([r["label"], r["pred"]])
    if curves.exists():
        shutil.rmtree(curves)
    curves.mkdir(parents=True)
    for fold in folds:
        shutil.copyfile(folds_dir / fold / "curve.csv", curves / f"{fold}.csv")
    return report

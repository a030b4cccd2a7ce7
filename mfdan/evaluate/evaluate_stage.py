"""DVC stage ``evaluate``: UF1 / UAR over all folds' predictions concatenated (MEGC2019 convention), per
dataset and per fold; the confusion matrices (Fig. 5: all samples and each dataset) and training curves for
``dvc plots``.

The fold list (params.yaml ``folds``) is checked against the cache under ``data.evaluation``: subjects
(``loso``) or datasets (``hde``, the holdout-database evaluation); a fold that names neither is an error, and so is
a list of the other kind. Folds left out (a quick run on a subset) are listed in the report as ``folds_missing``
and ``complete: false``, and a warning is printed. Under ``hde`` each fold is a held-out dataset, so
``per_dataset`` is the per-held-out-dataset result and ``uf1``/``uar`` the overall one."""
from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

from mfdan.core.errors import DatasetError, check_finite
from mfdan.core.params import Params
from mfdan.data.config import DataConfig
from mfdan.data.folds import cache_folds, folds_fix
from mfdan.data.protocols import DATASETS
from mfdan.evaluate.metrics import confusion as confusion_matrix
from mfdan.evaluate.metrics import uf1_uar


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


def check_folds(folds: list[str], cache: Path, source: str, evaluation: str = "loso") -> list[str]:
    """Folds of the cache that ``folds`` leaves out under ``evaluation``; a fold naming no subject (``loso``) or
    dataset (``hde``) of the cache is an error."""
    have = cache_folds(cache, evaluation)
    unknown = sorted(set(folds) - set(have))
    what = "datasets" if evaluation == "hde" else "subjects"
    if evaluation == "hde" and len(have) < 2:
        raise ValueError(f"{source}: data.evaluation hde holds out one dataset per fold and needs two or more; "
                         f"{cache} holds {have}")
    if unknown:
        raise ValueError(f"{source}: `folds` names {what} that are not in {cache} (data.evaluation: {evaluation}): "
                         f"{unknown}. Set it to the output of `mfdan folds --cache {cache} --evaluation "
                         f"{evaluation}`:\n{folds_fix(have)}")
    if not folds:
        raise ValueError(f"{source}: `folds` is empty; set it to:\n{folds_fix(have)}")
    return sorted(set(have) - set(folds))


def write_confusions(rows: list[dict], folder: Path) -> None:
    """Fig. 5: ``folder/all.csv`` (every sample) and ``folder/<dataset>.csv`` for each dataset we read (DATASETS),
    as (actual, predicted) rows for DVC's confusion template; a dataset without samples gets the header only."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in ("all", *DATASETS):
        with (folder / f"{name}.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["actual", "predicted"])
            for r in rows:
                if name == "all" or r["dataset"] == name:
                    w.writerow([r["label"], r["pred"]])


def evaluate(folds: list[str], folds_dir: Path, metrics: Path, confusion: Path, curves: Path,
             missing: list[str] | None = None, evaluation: str = "loso") -> dict:
    rows, classes, metas = read_predictions(folds, folds_dir)
    idx = {c: i for i, c in enumerate(classes)}
    y = [idx[r["label"]] for r in rows]
    p = [idx[r["pred"]] for r in rows]
    n = len(classes)
    uf1, uar = uf1_uar(y, p, n)
    check_finite({"uf1": uf1, "uar": uar}, f"{evaluation.upper()} metrics")
    report = {"evaluation": evaluation,
              "protocol_rule": "UF1/UAR over all folds' predictions concatenated (MEGC2019)",
              "arch": sorted({m.get("arch", "mfdan") for m in metas}),
              "epoch_selection": sorted({m["selection"] for m in metas}),
              "uf1": round(uf1, 6), "uar": round(uar, 6),
              "accuracy": round(sum(a == b for a, b in zip(y, p)) / max(len(y), 1), 6),
              "samples": len(rows), "folds": len(folds), "complete": not missing,
              "folds_missing": list(missing or []),
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
    write_confusions(rows, confusion)
    if curves.exists():
        shutil.rmtree(curves)
    curves.mkdir(parents=True)
    for fold in folds:
        shutil.copyfile(folds_dir / fold / "curve.csv", curves / f"{fold}.csv")
    return report


def run(*, params: Params, cache: Path, folds_dir: Path, metrics: Path, confusion: Path, curves: Path) -> str:
    folds = params.folds
    evaluation = params.section("data", DataConfig).evaluation
    missing = check_folds(folds, cache, params.source, evaluation)
    rep = evaluate(folds, folds_dir, metrics, confusion, curves, missing, evaluation)
    if missing:
        print(f"warning: metrics cover {len(folds)} of {len(folds) + len(missing)} folds; not evaluated: "
              f"{', '.join(missing)}", file=sys.stderr)
    return f"evaluate ({evaluation}, {', '.join(rep['arch'])}): UF1 {rep['uf1']:.4f}  UAR {rep['uar']:.4f} over {rep['samples']} samples, {rep['folds']} folds"

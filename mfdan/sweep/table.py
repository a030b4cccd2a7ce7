"""A sweep's scores and tables: each (arm, seed) scored like ``evaluate`` (UF1 / UAR over the concatenated
held-out predictions of its folds, and per dataset), then mean ± sd over seeds, the per-seed values, and the
paired per-seed difference against the first arm. One run is noise on ~100 samples; read the means, the
spread and the paired differences."""
from __future__ import annotations

import csv
import io
import statistics
from typing import Any

import numpy as np

from mfdan.evaluate.metrics import uf1_uar


def read_predictions(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def score(rows: list[dict[str, str]]) -> dict[str, Any]:
    """UF1 / UAR of concatenated ``predictions.csv`` rows, composite and per dataset."""
    classes = [k[len("prob_"):] for k in rows[0] if k.startswith("prob_")]
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[r["label"]] for r in rows])
    pred = np.array([index[r["pred"]] for r in rows])
    datasets = np.array([r["dataset"] for r in rows])
    uf1, uar = uf1_uar(y, pred, len(classes))
    per = {d: dict(zip(("uf1", "uar"), uf1_uar(y[datasets == d], pred[datasets == d], len(classes))))
           for d in sorted(set(datasets))}
    return {"uf1": float(uf1), "uar": float(uar), "samples": len(rows), "per_dataset": per}


def mean_sd(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f} (1 seed)"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def paired(a: dict[int, float], ref: dict[int, float]) -> str:
    """Paired difference over the seeds both have: mean ± sd, the mean in sd units, the seeds above."""
    common = [s for s in a if s in ref]
    d = [a[s] - ref[s] for s in common]
    if not d:
        return "—"
    if len(d) == 1:
        return f"{d[0]:+.3f} (seed {common[0]} only)"
    mean, sd = statistics.fmean(d), statistics.stdev(d)
    ratio = f", {mean / sd:+.1f} sd" if sd > 0 else ""
    return f"{mean:+.3f} ± {sd:.3f}{ratio} ({sum(x > 0 for x in d)}/{len(d)} seeds above)"


def markdown(result: dict[str, Any]) -> str:
    """The tables of a sweep's ``sweep.json`` (:func:`mfdan.sweep.engine.summarise`)."""
    arms = result["arms"]
    scores = result["results"]
    complete = {a: {int(s): r for s, r in scores[a].items()} for a in arms}
    # paired against the first arm (with results) evaluated the same way: LOSO arms against the first LOSO arm
    def samples(a: str) -> tuple:  # what an arm was scored on: its evaluation and its datasets
        return (result["evaluation"][a], tuple(sorted({d for r in complete[a].values() for d in r["per_dataset"]})))

    refs = {a: next((b for b in arms if complete[b] and samples(b) == samples(a)), None) for a in arms}
    first = sorted({r for r in refs.values() if r}, key=arms.index)
    head = (f"### {result['set']}: {len(result['seeds'])} seeds ({', '.join(map(str, result['seeds']))}); "
            + "; ".join(sorted({f"{len(f)} {result['evaluation'][a].upper()} folds" for a, f in result['folds'].items()})))
    if result.get("partial"):
        head += " (a subset of the folds: --folds)"
    lines = [head, "", f"| arm | overrides | UF1 mean ± sd | UF1 per seed | UAR mean ± sd | UF1 − {' / '.join(first) or 'the first arm'} (paired) | "
             "parameters | s per fold |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for a in arms:
        per = complete[a]
        if not per:
            lines.append(f"| {a} | {result['overrides'][a]} | (no complete seed) | | | | | |")
            continue
        uf1 = {s: r["uf1"] for s, r in per.items()}
        cost = result["cost"].get(a, {})
        secs = cost.get("seconds_per_fold_median")
        lines.append(
            f"| {a} | {result['overrides'][a]} | {mean_sd(list(uf1.values()))} | "
            f"{' / '.join(f'{v:.3f}' for v in uf1.values())} | {mean_sd([r['uar'] for r in per.values()])} | "
            f"{'—' if a == refs[a] else paired(uf1, {s: r['uf1'] for s, r in complete[refs[a]].items()})} | "
            f"{', '.join(f'{n:,}' for n in cost.get('parameters', [])) or '?'} | "
            f"{'?' if secs is None else f'{secs:.1f}'} |")
    datasets = sorted({d for a in arms for r in complete[a].values() for d in r["per_dataset"]})
    if len(datasets) > 1:
        lines += ["", "| arm | " + " | ".join(f"{d} UF1 | {d} UAR" for d in datasets) + " |",
                  "| --- |" + " --- | --- |" * len(datasets)]
        for a in arms:
            if complete[a]:
                cells = [mean_sd([r["per_dataset"][d][m] for r in complete[a].values() if d in r["per_dataset"]])
                         for d in datasets for m in ("uf1", "uar")]
                lines.append(f"| {a} | " + " | ".join(cells) + " |")
    missing = result.get("missing") or {}
    if missing:
        lines += ["", "Not scored (a fold failed or did not finish): "
                  + "; ".join(f"{a} seed {s}" for a, seeds in missing.items() for s in seeds)]
    return "\n".join(lines)

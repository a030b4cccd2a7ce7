"""How much fold-batching can buy on this machine, per architecture: the per-fold engine, the fold-batched engine
and a bound on any batched engine, trained on the same K folds for the same steps, in one run.

    python bench/batched_bound.py                     # demo caches (dvc repro), K = 12 folds, 20 epochs
    python bench/batched_bound.py --arch ststnet --epochs 50 --threads 1

Three timings per architecture (its paper's recipe, ``profiles/baseline-<arch>.yaml``; MFDAN params.yaml's), all
on the demo's cached samples (``data/cache.h5``, ``data/magnified.h5``), one process, ``--threads`` intra-op
threads:

* **per-fold**: :func:`mfdan.train.loop.train_fold` on each of the K folds, one after the other;
* **batched**: :func:`mfdan.train.batched.train_group` on the K folds as one group;
* **dense bound**: one model of the architecture trained on the K folds' training samples together, the batch K
  times the recipe's (so the same number of steps, each over K folds' samples): every kernel call does the work
  of K folds' calls with one set of weights. A grouped kernel over K weight sets does the same arithmetic with
  more weights to read, so this is as cheap as a step over K folds can be expected to be: ``per-fold / dense``
  bounds what batching the K folds can gain. Near 1×, the per-fold step is already bound by its arithmetic
  (the kernels), not by launches or Python.

Each is wall time: building the model(s), training, predicting the held-out samples, after an untimed
one-epoch warm-up of all three. Prints a table and writes ``bench/results/batched_bound_<set>.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from batched import DEFAULT as ARCHS  # noqa: E402  (bench/batched.py's architectures, in its order)
from sweep_workers import cpu_name  # noqa: E402

from mfdan.core.params import load_variant  # noqa: E402
from mfdan.data.folds import fold_name, held_out  # noqa: E402
from mfdan.model.registry import build, model_config, parameter_count  # noqa: E402
from mfdan.train.batched import GroupTask, train_group  # noqa: E402
from mfdan.train.fold_data import FoldData, load_data  # noqa: E402
from mfdan.train.loop import TrainConfig, train_fold  # noqa: E402


def tiled(data: FoldData, folds: list[str]) -> FoldData:
    """The K folds' training samples side by side (fold j's subjects renamed ``<subject>~j``), then the first
    fold's held-out samples under their own names: holding out ``folds[0]`` trains on exactly the samples the K
    folds train on, in one set."""
    parts = [np.flatnonzero(~held_out(f, data.datasets, data.subjects)) for f in folds]
    test = np.flatnonzero(held_out(folds[0], data.datasets, data.subjects))
    out = data.subset(np.concatenate([*parts, test]))
    copy = np.concatenate([np.full(len(p), j) for j, p in enumerate(parts)] + [np.full(len(test), -1)])
    out.subjects = [s if j < 0 else f"{s}~{j}" for s, j in zip(out.subjects, copy)]
    out.folds = [fold_name(d, s) for d, s in zip(out.datasets, out.subjects)]
    return out


def configs(arch: str, classes: int, epochs: int, threads: int) -> tuple[object, TrainConfig]:
    recipe = REPO / ("params.yaml" if arch == "mfdan" else f"profiles/baseline-{arch}.yaml")
    params = load_variant(recipe, REPO / "params.yaml")
    train = params.section("train")
    return model_config(params, classes), replace(train, epochs=min(epochs, train.epochs), threads=threads,
                                                  device="cpu", val_subjects=0, budget="recipe")


def wall(run):
    """``run()``'s result and the seconds it took (model building, training and prediction, as a sweep's worker
    spends them)."""
    t0 = time.perf_counter()
    got = run()
    return got, time.perf_counter() - t0


def shown(v: object) -> object:
    """An argument as the results file records it: the repository's paths relative (no machine's path committed)."""
    if not isinstance(v, Path):
        return v
    return str(v.resolve().relative_to(REPO) if v.resolve().is_relative_to(REPO) else v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", action="append", default=[], help=f"default: {', '.join(ARCHS)}")
    ap.add_argument("--folds", type=int, default=12, help="K, the group's size")
    ap.add_argument("--epochs", type=int, default=20, help="at most this many epochs per recipe")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=REPO / "data" / "cache.h5")
    ap.add_argument("--magnified", type=Path, default=REPO / "data" / "magnified.h5")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "batched_bound_demo.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = load_data(args.cache, args.magnified)
    folds = sorted(set(data.folds))[:args.folds]
    k = len(folds)
    big = tiled(data, folds)
    rows = {}
    for arch in args.arch or ARCHS:
        model_cfg, cfg = configs(arch, len(data.classes), args.epochs, args.threads)
        one = replace(cfg, epochs=1)  # warm-up, untimed: first calls (kernel selection, allocator) of every path
        train_fold(folds[0], data, model_cfg, one, progress=False)
        train_group([GroupTask(f, cfg.seed) for f in folds[:2]], data, model_cfg, one, progress=False)
        train_fold(folds[0], big, model_cfg, replace(one, batch=cfg.batch * k), progress=False)
        _, per_fold = wall(lambda: [train_fold(f, data, model_cfg, cfg, progress=False) for f in folds])
        out, batched = wall(lambda: train_group([GroupTask(f, cfg.seed) for f in folds], data, model_cfg, cfg,
                                                progress=False))
        bad = [r for r in out if isinstance(r, Exception)]
        if bad:
            sys.exit(f"{arch}: {bad[0]}")
        _, dense = wall(lambda: train_fold(folds[0], big, model_cfg, replace(cfg, batch=cfg.batch * k), progress=False))
        rows[arch] = {"parameters": parameter_count(build(model_cfg)), "batch": cfg.batch, "epochs": cfg.epochs,
                      "per_fold_s": per_fold, "batched_s": batched, "dense_s": dense,
                      "engine_ratio": per_fold / batched, "bound_ratio": per_fold / dense}
        print(f"{arch}: per-fold {per_fold:.1f} s, batched {batched:.1f} s ({per_fold / batched:.2f}×), "
              f"dense bound {dense:.1f} s ({per_fold / dense:.2f}×)", file=sys.stderr, flush=True)
    lines = ["# What fold-batching can buy (demo set)", "",
             f"`python bench/batched_bound.py {' '.join(sys.argv[1:])}`".replace(" `", "`"), "",
             f"{time.strftime('%Y-%m-%d')}, {cpu_name()}, torch {torch.__version__}, {args.threads} thread(s), "
             f"K = {k} folds ({', '.join(folds)}), at most {args.epochs} epochs of each recipe. Seconds of training "
             "for all K folds; ratios are per-fold seconds over the other column's (above 1×: faster than "
             "the per-fold engine).", "",
             "| architecture | parameters | batch | epochs | per-fold (s) | batched engine (s) | dense bound (s) | "
             "batched / per-fold speed | bound on any batching |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for arch, r in rows.items():
        lines.append(f"| {arch} | {r['parameters']:,} | {r['batch']} | {r['epochs']} | {r['per_fold_s']:.1f} | "
                     f"{r['batched_s']:.1f} | {r['dense_s']:.1f} | **{r['engine_ratio']:.2f}×** | "
                     f"**{r['bound_ratio']:.2f}×** |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps({"args": {k_: shown(v) for k_, v in vars(args).items()},
                                                         "folds": folds, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()

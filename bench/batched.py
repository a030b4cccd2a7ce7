"""Folds per second of the fold-batched engine over the per-fold engine, same tasks, same workers, in one run;
and whether the two give the same UF1 over seeds.

    python bench/batched.py                                  # the small baselines and MFDAN, demo set, 2 workers
    python bench/batched.py --arch ststnet --arch htnet --seeds 0-4 --epochs 200

For each architecture, ``mfdan sweep`` runs twice from empty stores — ``--engine per-fold`` and ``--engine
batched`` — on the same set, arms (the architecture with its paper's recipe, ``profiles/baseline-<arch>.yaml``;
MFDAN with params.yaml's), seeds, folds and workers (``--workers``, one thread each), as a user runs it. Two
rates are printed per engine: folds over the sweep's wall time (start-up included: the set restored from DVC's
run cache, the Dask cluster started), and folds over the training time (what the workers spent on jobs, from
each task's stored ``seconds`` / group's ``group_seconds``, divided by the workers) — the second is the
engines' own ratio. ``--epochs`` shortens every recipe (the 800-epoch baselines' would take hours on two cores);
the ratio is per step, so it holds for the full recipe as long as training, not start-up, dominates. UF1 per
seed of both engines (their random draws inside the network differ; with dropout/DropKey off they agree to
float tolerance, tests/test_batched.py) is printed as mean ± sd with the per-seed values. Writes
``bench/results/batched_<set>.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MFDAN = Path(sys.executable).parent / "mfdan"
sys.path.insert(0, str(REPO / "bench"))
from sweep_workers import cpu_name  # noqa: E402

SMALL = ["ststnet", "off_apexnet", "dual_inception", "htnet"]
DEFAULT = [*SMALL, "sssnet", "mfdan"]


def arm_of(arch: str, epochs: int | None) -> str:
    """The architecture's arm: its paper's recipe (MFDAN: params.yaml's), at most ``epochs`` epochs."""
    from mfdan.core.params import load_variant

    recipe = REPO / "profiles" / f"baseline-{arch}.yaml"
    own = load_variant(recipe if arch != "mfdan" else REPO / "params.yaml", REPO / "params.yaml").values["train"]["epochs"]
    extra = f"train.epochs={min(epochs, own)}" if epochs else ""
    if arch == "mfdan":
        return f"mfdan:{extra}"
    return f"{arch}:@profiles/baseline-{arch}.yaml" + (f",{extra}" if extra else "")


def sweep(store: Path, arch: str, engine: str, args: argparse.Namespace) -> dict:
    cmd = [str(MFDAN), "sweep", "--set", args.set, "--seeds", args.seeds, "--workers", str(args.workers),
           "--threads", "1", "--store", str(store), "--json", "--engine", engine, "--arm",
           arm_of(arch, args.epochs)]
    if args.group_size:
        cmd += ["--group-size", str(args.group_size)]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    result = json.loads(res.stdout)
    infos = [json.loads((Path(f) / "task.json").read_text()) for f in result["tasks"].values()]
    if engine == "per-fold":
        busy = sum(i["seconds"] for i in infos)
    else:  # one group's wall time, once per group
        busy = sum({tuple(i["engine"]["group"]): i["engine"]["group_seconds"] for i in infos}.values())
    arm = next(iter(result["results"]))
    uf1 = {s: r["uf1"] for s, r in result["results"][arm].items()}
    return {"wall_s": wall, "train_s": busy / args.workers, "folds": len(infos), "uf1": uf1,
            "groups": sorted({len(i["engine"]["group"]) for i in infos}) if engine != "per-fold" else []}


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f} ({', '.join(f'{v:.3f}' for v in values)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="demo")
    ap.add_argument("--arch", action="append", default=[], help=f"default: {', '.join(DEFAULT)}")
    ap.add_argument("--seeds", default="0-1")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=100, help="at most this many epochs per recipe (0: the recipes' own)")
    ap.add_argument("--group-size", type=int, default=0, help="--engine batched's (0: automatic)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    archs = args.arch or DEFAULT
    rows = {}
    with tempfile.TemporaryDirectory(prefix="batched-bench-") as tmp:
        store = Path(tmp) / "store"
        # the set's caches built (or restored from DVC's run cache) once, untimed: --export trains nothing
        subprocess.run([str(MFDAN), "sweep", "--set", args.set, "--store", str(store), "--engine", "per-fold",
                        "--arm", "warm-up:", "--export", str(Path(tmp) / "warm-up")], cwd=REPO, capture_output=True, check=True)
        for arch in archs:
            got = {}
            for engine in ("per-fold", "batched"):  # one store: the engines' keys differ, the set is shared
                got[engine] = sweep(store, arch, engine, args)
                print(f"{arch} {engine}: {got[engine]['folds']} folds, wall {got[engine]['wall_s']:.1f} s, "
                      f"training {got[engine]['train_s']:.1f} s", file=sys.stderr, flush=True)
            p, b = got["per-fold"], got["batched"]
            rows[arch] = {**got, "ratio_train": p["train_s"] / b["train_s"], "ratio_wall": p["wall_s"] / b["wall_s"]}
    lines = [f"# Fold-batched engine vs per-fold engine ({args.set} set)", "",
             f"`python bench/batched.py {' '.join(sys.argv[1:])}`".replace("  ", " "), "",
             f"{time.strftime('%Y-%m-%d')}, {cpu_name()}, {args.workers} workers × 1 thread, seeds {args.seeds}, "
             f"epochs {args.epochs or 'as the recipes'}. Folds per second over the training time (the engines' "
             "own ratio) and over the sweep's wall time (start-up included).", "",
             "| architecture | folds | per-fold: folds/s (train, wall) | batched: folds/s (train, wall) | groups | "
             "ratio (train) | ratio (wall) | UF1 per-fold | UF1 batched |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for arch, r in rows.items():
        p, b = r["per-fold"], r["batched"]
        lines.append(f"| {arch} | {p['folds']} | {p['folds'] / p['train_s']:.2f}, {p['folds'] / p['wall_s']:.2f} | "
                     f"{b['folds'] / b['train_s']:.2f}, {b['folds'] / b['wall_s']:.2f} | {b['groups']} | "
                     f"**{r['ratio_train']:.2f}×** | {r['ratio_wall']:.2f}× | {mean_sd(list(p['uf1'].values()))} | "
                     f"{mean_sd(list(b['uf1'].values()))} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = args.out or REPO / "bench" / "results" / f"batched_{args.set}.md"
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"args": vars(args) | {"out": str(out)}, "rows": rows},
                                                   indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()

"""MFDAN against its baselines, as tables shaped like Tables III–IV and a figure: every architecture × protocol
(LOSO with its per-dataset breakdown, as Table III; and HDE) × training seeds, on one set.

    python bench/compare.py --set demo --seeds 0-4
    python bench/compare.py --set realface --seeds 0-4 --protocols loso
    python bench/compare.py --set demo --seeds 0-4 --seeds-for off_apexnet=0 --seeds-for dual_inception=0
    python bench/compare.py --set demo --seeds 0-4 --scheduler tcp://HOST:8786      # on a running Dask cluster

The training is ``mfdan sweep --compare`` (:mod:`mfdan.sweep`): each architecture with its paper's recipe
(``profiles/baseline-<arch>.yaml``; MFDAN with ``params.yaml`` at 112 px, ``profiles/arm-mfdan_112.yaml``), under
one budget rule for all (``--budget``: the recipes' own epochs; ``steps``, the same number of optimizer steps;
``inner``, epochs chosen per fold by inner folds of its training subjects), the held-out subject or dataset read
once, every fold stored under ``--store`` (default
``sweeps/``) by its key, so an interrupted comparison resumes and a rerun trains nothing. This script adds the
presentation: ``bench/out/<set>/compare.md`` (UF1 / UAR mean ± sd and per seed, composite and per dataset; the
paired UF1 difference against MFDAN in its own standard deviations; parameters; seconds per fold; the published
figure and whether it was picked on the test subject), ``compare.json``, ``compare.png`` (per architecture
and protocol: the per-seed points and mean ± sd) and ``compare_<protocol>.csv`` (one row per method and seed:
the data of the DVC plots ``dvc plots show`` draws from ``bench/results/compare_<set>_<protocol>.csv``).

    python bench/compare.py --set hard --seeds 0-4 --record   # the hard set (blinks, head drift and roll, ...),
                                                              # tables and plots copied into bench/results/
    python bench/compare.py --set hard --extra MFDAN-800-steps:train.epochs=50   # MFDAN at the baselines' budget
    python bench/compare.py --set demo --budget inner --ladder   # inner selection; MFDAN before/after each fix

On a machine without DVC or Dask (a borrowed GPU machine: ``bench/gpu_compare.sh``), ``--export DIR`` writes
the comparison's tasks and caches to a bundle (:mod:`mfdan.sweep.bundle`) and trains nothing; after the bundle
ran there and its results were merged into the store, ``--env STORE/envs.json`` makes the tables from them
(files named ``compare_<set>_<device>``).

``--extra NAME:key=value,...`` adds a row of its own: an arm of ``mfdan sweep`` (dotted overrides of the set's
params file, on MFDAN's seeds), run under every protocol (``data.evaluation=hde`` appended under HDE) and paired
against MFDAN like an architecture: MFDAN with another recipe, say, to separate the recipe from the network.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfdan.sweep.arms import COMPARE_BUDGETS, NAME, budget_profile, comparison_arms  # noqa: E402
from mfdan.sweep.engine import SweepConfig, run_sweep  # noqa: E402
from mfdan.sweep.sets import load_set  # noqa: E402

OUT = REPO / "bench" / "out"
RESULTS = REPO / "bench" / "results"   #: --record: what README, docs and the DVC plots read
ARCHS = ["mfdan", "ststnet", "off_apexnet", "dual_inception", "sssnet", "htnet", "bi_woof"]  #: --archs narrows it
TITLES = {"mfdan": "MFDAN", "ststnet": "STSTNet", "off_apexnet": "OFF-ApexNet", "dual_inception": "Dual-Inception",
          "sssnet": "SSSNet", "htnet": "HTNet", "bi_woof": "Bi-WOOF"}
#: published MEGC2019 composite UF1 / UAR, and whether the epoch was picked on the test subject (docs/baselines.md)
PUBLISHED = {"mfdan": ("0.8453 / 0.8688", "not stated"), "ststnet": ("0.7353 / 0.7605", "no (last epoch)"),
             "off_apexnet": ("0.7196 / 0.7096", "not known"), "dual_inception": ("0.7322 / 0.7278", "not known"),
             "sssnet": ("— (meb's SSSNet: 0.7618 UF1)", "no (meb: last epoch)"),
             "htnet": ("0.8603 / 0.8475", "yes (best test epoch)"), "bi_woof": ("0.6296 / 0.6227", "no (SVM)")}


ROWS: list[str] = []  #: the table's rows: ARCHS, then the --extra arms' names (main sets it)
BUDGET = ["recipe"]   #: --budget (main sets it)
#: --ladder: MFDAN before issue 48's fixes and after each one, one fix per rung, on the same seeds: the old MagNet,
#: fusion and 10-epoch recipe; the shipped MagNet; the flow-feature LayerNorm; the 30-epoch recipe (the params
#: file, 64 px); the comparison's own MFDAN row is the last rung (112 px). Under ``--budget steps|inner`` the rule
#: sets the epochs, so the recipe rung (mfdan_fusion beside mfdan_64) is left out: :data:`LADDER_RECIPE_ONLY`.
LADDER = ["mfdan_old:@profiles/arm-mfdan_old.yaml", "mfdan_magnet:model.flow_feature_norm=false,train.epochs=10",
          "mfdan_fusion:train.epochs=10", "mfdan_64:"]
LADDER_RECIPE_ONLY = {"mfdan_fusion"}


def ladder_rows(budget: str) -> list[str]:
    """The --ladder rows under ``budget`` (:data:`LADDER`, less :data:`LADDER_RECIPE_ONLY` unless the recipe)."""
    return [r for r in LADDER if budget == "recipe" or r.partition(":")[0] not in LADDER_RECIPE_ONLY]


def set_label(spec: str) -> str:
    """The set's own label, as ``mfdan sweep`` names it (the output files' stem): ``hard@0.5`` -> ``hard-d0.5``,
    a params file -> its stem; a set that does not exist raises ValueError."""
    return load_set(spec, repo=REPO).label


def with_budget(spec: str) -> str:
    """An --extra (an MFDAN variant) under --budget: MFDAN's budget profile appended to its overrides."""
    name, _, body = spec.partition(":")
    return f"{name}:{','.join(p for p in (body, *budget_profile(BUDGET[0], 'mfdan', REPO / 'profiles')) if p)}"


def row_title(row: str) -> str:
    return TITLES.get(row, row)


def arm_name(arch: str, protocol: str) -> str:
    """The arm's name in the sweep (:func:`mfdan.sweep.arms.comparison_arms`): ``_hde`` appended under HDE."""
    return arch if protocol == "loso" else f"{arch}_hde"


def extra_spec(spec: str, protocol: str) -> str:
    """``--extra NAME:overrides`` as the sweep arm of ``protocol``: ``NAME_hde:overrides,data.evaluation=hde``
    under HDE."""
    name, _, body = spec.partition(":")
    if protocol == "loso":
        return spec
    return f"{arm_name(name, protocol)}:{','.join(p for p in (body, 'data.evaluation=hde') if p)}"


def run_protocol(set_name: str, protocol: str, seeds: str, seeds_for: dict[str, str], sweep: dict,
                 extras: tuple[str, ...] | list[str] = (), label: str | None = None) -> dict:
    """One sweep per group of architectures that share their seeds (the ``--extra`` arms with MFDAN's), results
    merged: ``results`` and ``cost`` per arm, ``seeds`` per arm (with ``sweep["export"]``: ``new_tasks``, the
    tasks added to the bundle). ``label``: the output folder's name (default: the set's)."""
    label = label or Path(set_name).stem
    groups: dict[str, list[str]] = {}
    for a in ARCHS:
        groups.setdefault(seeds_for.get(a, seeds), []).append(a)
    merged: dict = {"results": {}, "cost": {}, "seeds": {}, "folds": {}}
    for group_seeds, archs in groups.items():
        specs = [s for s in comparison_arms([protocol], archs, BUDGET[0], REPO / "profiles") if s.split(":")[0] in
                 {arm_name(a, protocol) for a in archs}]
        if "mfdan" in archs:
            specs += [extra_spec(with_budget(e), protocol) for e in extras]
        res = run_sweep(SweepConfig(set=set_name, arms=specs, seeds=group_seeds, repo=REPO,
                                    name=f"compare-{label}-{protocol}", **sweep))
        if "new_tasks" in res:
            merged["new_tasks"] = merged.get("new_tasks", 0) + res["new_tasks"]
            continue
        if res["missing"]:
            sys.exit(f"incomplete: {res['missing']} (failed: {res['failed']}); rerun to resume")
        for arm in res["results"]:
            merged["results"][arm] = res["results"][arm]
            merged["cost"][arm] = res["cost"][arm]
            merged["seeds"][arm] = list(res["results"][arm])
            merged["folds"][arm] = res["folds"][arm]
    if "new_tasks" in merged:
        return merged
    (OUT / label).mkdir(parents=True, exist_ok=True)
    (OUT / label / f"compare_{protocol}.json").write_text(json.dumps(merged, indent=1) + "\n")
    return merged


def ms(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def ms_or_one(values: list[float]) -> str:
    return ms(values) if len(values) > 1 else f"{values[0]:.3f} (1 seed)"


def paired(a: dict[str, float], ref: dict[str, float]) -> str:
    """The paired UF1 difference over the seeds both ran: mean ± sd, the mean in sd units, the seeds above."""
    common = [s for s in a if s in ref]
    d = [a[s] - ref[s] for s in common]
    if len(d) == 1:
        return f"{d[0]:+.3f} (seed {common[0]} only)"
    mean = statistics.fmean(d)
    sd = statistics.stdev(d)
    ratio = f", {mean / sd:+.1f} sd" if sd > 0 else ""
    return f"{mean:+.3f} ± {sd:.3f}{ratio} ({sum(x > 0 for x in d)}/{len(d)} seeds above)"


def tables(set_name: str, protocol: str, res: dict) -> list[str]:
    r = res["results"]
    seeds_of = res["seeds"]
    datasets = sorted({d for a in r for s in seeds_of[a] for d in r[a][s]["per_dataset"]})
    mf = arm_name("mfdan", protocol)
    n = r[mf][seeds_of[mf][0]]["samples"]
    folds = len(res["folds"][mf])
    title = "leave one subject out (Table III)" if protocol == "loso" else "leave one dataset out (HDE)"
    lines = [f"### {set_name}, {title}: {folds} folds, {n} samples; seeds per method in the table", "",
             "| method | parameters | s per fold | seeds | UF1 | UF1 per seed | UAR | UF1 − MFDAN (paired) | "
             "published composite UF1 / UAR | published epoch picked on the test subject? |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    ref = {s: r[mf][s]["uf1"] for s in seeds_of[mf]}
    for a in ROWS:
        arm = arm_name(a, protocol)
        seeds = seeds_of[arm]
        uf1 = [r[arm][s]["uf1"] for s in seeds]
        uar = [r[arm][s]["uar"] for s in seeds]
        cost = res.get("cost", {}).get(arm, {})
        params = ", ".join(f"{p:,}" for p in cost.get("parameters", [])) or "?"
        secs = f"{cost['seconds_per_fold_median']:.1f}" if "seconds_per_fold_median" in cost else "?"
        pub, picked = (PUBLISHED.get(a, ("— (our recipe)", "—")) if protocol == "loso"
                       else ("— (published: LOSO only)", "—"))
        lines.append(f"| {row_title(a)} | {params} | {secs} | {', '.join(seeds)} | {ms_or_one(uf1)} | "
                     f"{' / '.join(f'{v:.3f}' for v in uf1)} | {ms_or_one(uar)} | "
                     f"{'—' if a == 'mfdan' else paired(dict(zip(seeds, uf1)), ref)} | {pub} | {picked} |")
    lines += ["", "| method | " + " | ".join(f"{d} UF1 | {d} UAR" for d in datasets) + " |",
              "| --- |" + " --- | --- |" * len(datasets)]
    for a in ROWS:
        cells = []
        arm = arm_name(a, protocol)
        for d in datasets:
            cells.append(ms_or_one([r[arm][s]["per_dataset"][d]["uf1"] for s in seeds_of[arm]]))
            cells.append(ms_or_one([r[arm][s]["per_dataset"][d]["uar"] for s in seeds_of[arm]]))
        lines.append(f"| {row_title(a)} | " + " | ".join(cells) + " |")
    return lines


def compact(set_name: str, results: dict[str, dict]) -> list[str]:
    """One row per method: LOSO composite and per-dataset UF1, HDE UF1, each paired against MFDAN (README)."""
    protocols = [p for p in ("loso", "hde") if p in results]
    head = ["method", "parameters", "seeds"]
    for p in protocols:
        head += [f"{p.upper()} UF1", f"{p.upper()} UF1 − MFDAN"]
        if p == "loso":
            head += [f"LOSO {d} UF1" for d in ("casme2", "samm", "smic")]
    lines = [f"{set_name}: UF1 mean ± sd over seeds; paired difference against MFDAN over the same seeds "
             "(mean ± sd, the mean in sd units, seeds above)", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for a in ROWS:
        row = [row_title(a)]
        first = results[protocols[0]]
        arm0 = arm_name(a, protocols[0])
        row += [", ".join(f"{p:,}" for p in first["cost"][arm0]["parameters"]), ", ".join(first["seeds"][arm0])]
        for p in protocols:
            res, arm, mf = results[p], arm_name(a, p), arm_name("mfdan", p)
            seeds = res["seeds"][arm]
            uf1 = {s: res["results"][arm][s]["uf1"] for s in seeds}
            ref = {s: res["results"][mf][s]["uf1"] for s in res["seeds"][mf]}
            row += [ms_or_one(list(uf1.values())), "—" if a == "mfdan" else paired(uf1, ref)]
            if p == "loso":
                row += [ms_or_one([res["results"][arm][s]["per_dataset"][d]["uf1"] for s in seeds])
                        for d in ("casme2", "samm", "smic")]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def paired_against(ref_row: str, results: dict[str, dict]) -> list[str]:
    """Every other row's UF1 paired against ``ref_row`` (an ``--extra`` arm: MFDAN with another recipe), per
    protocol: who wins, ties or loses against that recipe."""
    protocols = [p for p in ("loso", "hde") if p in results]
    lines = [f"Paired against {row_title(ref_row)} (UF1 difference over the same seeds: mean ± sd, the mean in sd "
             "units, seeds above)", "", "| method | " + " | ".join(f"{p.upper()} UF1 − {row_title(ref_row)}"
                                                                 for p in protocols) + " |",
             "|" + " --- |" * (len(protocols) + 1)]
    for a in ROWS:
        if a == ref_row:
            continue
        cells = []
        for p in protocols:
            res, arm, ref = results[p], arm_name(a, p), arm_name(ref_row, p)
            uf1 = {s: res["results"][arm][s]["uf1"] for s in res["seeds"][arm]}
            cells.append(paired(uf1, {s: res["results"][ref][s]["uf1"] for s in res["seeds"][ref]}))
        lines.append(f"| {row_title(a)} | " + " | ".join(cells) + " |")
    return lines


def points(protocol: str, res: dict) -> str:
    """One CSV row per method and seed (method, seed, uf1, uar): the per-seed points of the figure."""
    rows = ["method,seed,uf1,uar"]
    for a in ROWS:
        arm = arm_name(a, protocol)
        for s in res["seeds"][arm]:
            r = res["results"][arm][s]
            rows.append(f"{row_title(a)},{s},{r['uf1']:.4f},{r['uar']:.4f}")
    return "\n".join(rows) + "\n"


def picture(path: Path, set_name: str, results: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4), squeeze=False)
    for ax, (protocol, res) in zip(axes[0], results.items()):
        for k, a in enumerate(ROWS):
            arm = arm_name(a, protocol)
            vals = [res["results"][arm][s]["uf1"] for s in res["seeds"][arm]]
            ax.scatter([k] * len(vals), vals, s=14, color="tab:blue", alpha=0.6)
            mean = statistics.fmean(vals)
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            ax.errorbar([k + 0.2], [mean], yerr=[sd], fmt="o", color="tab:red", capsize=3)
        ax.set_xticks(range(len(ROWS)), [row_title(a) for a in ROWS], rotation=30, ha="right")
        ax.set_ylabel("UF1")
        ax.set_ylim(0, 1)
        ax.axhline(1 / 3, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{set_name}, {protocol.upper()}: per seed (blue), mean ± sd (red); chance: dashed")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="demo", help="demo, realface, hard, hard@D (difficulty D in [0, 1]) or a params "
                                                  "file (mfdan sweep --set)")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--protocols", default="loso,hde")
    ap.add_argument("--workers", type=int, default=None, help="embedded cluster's workers (mfdan sweep --workers)")
    ap.add_argument("--engine", default="auto", choices=("auto", "per-fold", "batched"),
                    help="mfdan sweep --engine (the committed tables: per-fold)")
    ap.add_argument("--group-size", type=int, default=0, help="mfdan sweep --group-size")
    ap.add_argument("--scheduler", default=None, help="a running Dask scheduler (mfdan sweep --scheduler)")
    ap.add_argument("--store", type=Path, default=REPO / "sweeps")
    ap.add_argument("--archs", default="ststnet,off_apexnet,dual_inception,sssnet,htnet,bi_woof", help="comma-separated subset (MFDAN always included)")
    ap.add_argument("--record", action="store_true",
                    help="also copy the tables, figure and per-seed CSVs into bench/results/ as compare_<set>.md, "
                         ".png and compare_<set>_<protocol>.csv (the files README, docs and `dvc plots show` read)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME:key=value,...",
                    help="an arm of its own row, on MFDAN's seeds, under every protocol (MFDAN with another "
                         "recipe: --extra MFDAN-800-steps:train.epochs=50)")
    ap.add_argument("--budget", default="recipe", choices=COMPARE_BUDGETS,
                    help="how long each method trains (mfdan sweep --compare --budget): its paper's recipe, the same "
                         "train.steps for all, or epochs chosen by inner selection; files compare_<set>_<budget>")
    ap.add_argument("--ladder", action="store_true",
                    help="add MFDAN's rungs before and after each fix as rows: " + ", ".join(LADDER))
    ap.add_argument("--seeds-for", action="append", default=[], metavar="ARCH=SEEDS",
                    help="other seeds for one architecture (a costly one: --seeds-for off_apexnet=0)")
    ap.add_argument("--export", type=Path, default=None, metavar="DIR",
                    help="train nothing: add the tasks and caches to a bundle for a machine without DVC or Dask "
                         "(mfdan sweep --export; bench/gpu_compare.sh)")
    ap.add_argument("--env", type=Path, default=None, metavar="ENVS_JSON",
                    help="a bundle run's envs.json: the tables from the results it trained (merged into --store)")
    args = ap.parse_args()
    if args.export and args.env:
        ap.error("--export and --env exclude each other")
    keep = tuple(a for a in ARCHS if a == "mfdan" or a in args.archs.split(","))
    ARCHS[:] = keep
    BUDGET[0] = args.budget
    args.extra += ladder_rows(args.budget) if args.ladder else []
    names = [e.partition(":")[0] for e in args.extra]
    taken = set(TITLES) | {arm_name(a, "hde") for a in TITLES}
    bad = [e for e, n in zip(args.extra, names) if ":" not in e or not NAME.fullmatch(n) or n in taken
           or names.count(n) > 1 or n.endswith("_hde")]
    if bad:
        ap.error(f"--extra {bad}: expected NAME:key=value,... with a name of its own (letters, digits, '_.+-'; "
                 "not an architecture's, not ending in _hde, each once)")
    ROWS[:] = [*ARCHS, *names]
    seeds_for = dict(x.split("=", 1) for x in args.seeds_for)
    unknown = set(seeds_for) - set(ARCHS)
    if unknown:
        ap.error(f"--seeds-for: unknown architectures {sorted(unknown)}")
    sweep = {"workers": args.workers, "scheduler": args.scheduler, "store": args.store, "export": args.export,
             "engine": args.engine, "group_size": args.group_size,
             "env": args.env}
    try:
        stem = title = set_label(args.set)
    except ValueError as exc:
        ap.error(str(exc))
    if args.budget != "recipe":
        stem, title = f"{stem}_{args.budget}", f"{title}, budget {args.budget}"
    if args.env:  # trained elsewhere: the device in the files' names and the tables' titles
        envs = json.loads(args.env.read_text()) if args.env.is_file() else {}
        env = next(iter(envs.values()), {}) if isinstance(envs, dict) else {}
        stem = f"{stem}_{env.get('device', 'other')}"
        title = f"{title} ({env.get('gpu') or env.get('device', 'another machine')})"
    try:
        results = {p: run_protocol(args.set, p, args.seeds, seeds_for, sweep, args.extra, label=stem)
                   for p in args.protocols.split(",")}
    except ValueError as exc:  # a bad set or arm; with --env, tasks that machine has not trained yet
        sys.exit(f"error: {exc}")
    if args.export:
        print(f"{sum(r['new_tasks'] for r in results.values())} new task(s) in {args.export}/bundle.json")
        return
    lines = compact(title, results) + [""]
    for name in names:
        lines += paired_against(name, results) + [""]
    for protocol, res in results.items():
        lines += tables(title, protocol, res) + [""]
    text = "\n".join(lines)
    print(text)
    out = OUT / stem
    (out / "compare.md").write_text(text)
    (out / "compare.json").write_text(json.dumps(results, indent=1) + "\n")
    for protocol, res in results.items():
        (out / f"compare_{protocol}.csv").write_text(points(protocol, res))
    picture(out / "compare.png", title, results)
    print(f"wrote {out / 'compare.md'}, compare.json, compare.png")
    if args.record:
        name = stem
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"compare_{name}.md").write_text(text)
        (RESULTS / f"compare_{name}.png").write_bytes((out / "compare.png").read_bytes())
        for protocol, res in results.items():
            (RESULTS / f"compare_{name}_{protocol}.csv").write_text(points(protocol, res))
        print(f"recorded in {RESULTS}/compare_{name}.*")


if __name__ == "__main__":
    main()

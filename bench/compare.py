"""MFDAN against its baselines, one command: every architecture × protocol (LOSO with its per-dataset
breakdown, as Table III; and HDE) × training seeds, on one set, shaped like Tables III–IV.

    python bench/compare.py --set demo --seeds 0-4
    python bench/compare.py --set realface --seeds 0-4 --protocols loso

Each architecture trains with its paper's recipe (``profiles/baseline-<arch>.yaml``; MFDAN with ``params.yaml``)
through :mod:`bench.ablation` — the pipeline's fold recipe (fixed epochs, the last one kept, the held-out
subject or dataset read once), every fold result stored under ``bench/out/<set>/runs/`` so an interrupted
comparison resumes. Writes ``bench/out/<set>/compare.md`` (the tables: UF1 / UAR mean ± sd and per seed,
composite and per dataset; the paired UF1 difference against MFDAN in its own standard deviations; parameters;
seconds per fold; the published figure and whether it was picked on the test subject), ``compare.json`` and
``compare.png`` (per architecture and protocol: the per-seed points and mean ± sd).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
ARCHS = ("mfdan", "ststnet", "off_apexnet", "dual_inception", "sssnet", "htnet", "bi_woof")
TITLES = {"mfdan": "MFDAN", "ststnet": "STSTNet", "off_apexnet": "OFF-ApexNet", "dual_inception": "Dual-Inception",
          "sssnet": "SSSNet", "htnet": "HTNet", "bi_woof": "Bi-WOOF"}
#: published MEGC2019 composite UF1 / UAR, and whether the epoch was picked on the test subject (docs/baselines.md)
PUBLISHED = {"mfdan": ("0.8453 / 0.8688", "not stated"), "ststnet": ("0.7353 / 0.7605", "no (last epoch)"),
             "off_apexnet": ("0.7196 / 0.7096", "not known"), "dual_inception": ("0.7322 / 0.7278", "not known"),
             "sssnet": ("— (meb's SSSNet: 0.7618 UF1)", "no (meb: last epoch)"),
             "htnet": ("0.8603 / 0.8475", "yes (best test epoch)"), "bi_woof": ("0.6296 / 0.6227", "no (SVM)")}


def arm_specs(protocol: str) -> list[str]:
    """``--arm`` arguments of bench/ablation.py: MFDAN (params.yaml) and each baseline with its recipe."""
    extra = ",data.evaluation=hde" if protocol == "hde" else ""
    specs = [f"{arm_name('mfdan', protocol)}:{extra.lstrip(',')}"]
    specs += [f"{arm_name(a, protocol)}:@profiles/baseline-{a}.yaml{extra}" for a in ARCHS[1:]]
    return [x for s in specs for x in ("--arm", s)]


def arm_name(arch: str, protocol: str) -> str:
    """The arm's name in bench/ablation.py's store: the architecture, ``_hde`` appended under HDE."""
    return arch if protocol == "loso" else f"{arch}_hde"


def run_protocol(set_name: str, protocol: str, seeds: str, workers: int, params: Path) -> dict:
    cmd = [sys.executable, str(REPO / "bench" / "ablation.py"), "--set", set_name, "--arms", "", *arm_specs(protocol),
           "--seeds", seeds, "--workers", str(workers), "--params", str(params)]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    src = OUT / set_name / "ablation.json"
    dst = OUT / set_name / f"compare_{protocol}.json"
    shutil.copyfile(src, dst)
    return json.loads(dst.read_text())


def ms(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def paired(a: list[float], ref: list[float]) -> str:
    d = [x - y for x, y in zip(a, ref)]
    mean = statistics.fmean(d)
    sd = statistics.stdev(d) if len(d) > 1 else 0.0
    ratio = f", {mean / sd:+.1f} sd" if sd > 0 else ""
    wins = sum(x > 0 for x in d)
    return f"{mean:+.3f} ± {sd:.3f}{ratio} ({wins}/{len(d)} seeds above)"


def tables(set_name: str, protocol: str, res: dict) -> list[str]:
    seeds = [str(s) for s in res["seeds"]]
    r = res["results"]
    datasets = sorted({d for a in r for s in seeds for d in r[a][s]["per_dataset"]})
    n = r[arm_name("mfdan", protocol)][seeds[0]]["samples"]
    folds = len(next(iter(res["folds"].values())))
    title = "leave one subject out (Table III)" if protocol == "loso" else "leave one dataset out (HDE)"
    lines = [f"### {set_name}, {title}: {len(seeds)} seeds ({', '.join(seeds)}), {folds} folds, {n} samples", "",
             "| method | parameters | s per fold | UF1 | UF1 per seed | UAR | UF1 − MFDAN (paired) | "
             "published composite UF1 / UAR | published epoch picked on the test subject? |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    ref = [r[arm_name("mfdan", protocol)][s]["uf1"] for s in seeds]
    for a in ARCHS:
        arm = arm_name(a, protocol)
        uf1 = [r[arm][s]["uf1"] for s in seeds]
        uar = [r[arm][s]["uar"] for s in seeds]
        cost = res.get("cost", {}).get(arm, {})
        params = ", ".join(f"{p:,}" for p in cost.get("parameters", [])) or "?"
        secs = f"{cost['seconds_per_fold_median']:.1f}" if "seconds_per_fold_median" in cost else "?"
        pub, picked = PUBLISHED[a]
        lines.append(f"| {TITLES[a]} | {params} | {secs} | {ms(uf1)} | {' / '.join(f'{v:.3f}' for v in uf1)} | "
                     f"{ms(uar)} | {'—' if a == 'mfdan' else paired(uf1, ref)} | {pub} | {picked} |")
    lines += ["", "| method | " + " | ".join(f"{d} UF1 | {d} UAR" for d in datasets) + " |",
              "| --- |" + " --- | --- |" * len(datasets)]
    for a in ARCHS:
        cells = []
        for d in datasets:
            cells.append(ms([r[arm_name(a, protocol)][s]["per_dataset"][d]["uf1"] for s in seeds]))
            cells.append(ms([r[arm_name(a, protocol)][s]["per_dataset"][d]["uar"] for s in seeds]))
        lines.append(f"| {TITLES[a]} | " + " | ".join(cells) + " |")
    return lines


def picture(path: Path, set_name: str, results: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4), squeeze=False)
    for ax, (protocol, res) in zip(axes[0], results.items()):
        seeds = [str(s) for s in res["seeds"]]
        for k, a in enumerate(ARCHS):
            vals = [res["results"][arm_name(a, protocol)][s]["uf1"] for s in seeds]
            ax.scatter([k] * len(vals), vals, s=14, color="tab:blue", alpha=0.6)
            mean = statistics.fmean(vals)
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            ax.errorbar([k + 0.2], [mean], yerr=[sd], fmt="o", color="tab:red", capsize=3)
        ax.set_xticks(range(len(ARCHS)), [TITLES[a] for a in ARCHS], rotation=30, ha="right")
        ax.set_ylabel("UF1")
        ax.set_ylim(0, 1)
        ax.axhline(1 / 3, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{set_name}, {protocol.upper()}: per seed (blue), mean ± sd (red); chance: dashed")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="demo", choices=("demo", "realface"))
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--protocols", default="loso,hde")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--params", type=Path, default=REPO / "params.yaml")
    args = ap.parse_args()
    results = {p: run_protocol(args.set, p, args.seeds, args.workers, args.params) for p in args.protocols.split(",")}
    lines = []
    for protocol, res in results.items():
        lines += tables(args.set, protocol, res) + [""]
    text = "\n".join(lines)
    print(text)
    out = OUT / args.set
    (out / "compare.md").write_text(text)
    (out / "compare.json").write_text(json.dumps(results, indent=1) + "\n")
    picture(out / "compare.png", args.set, results)
    print(f"wrote {out / 'compare.md'}, compare.json, compare.png")


if __name__ == "__main__":
    main()

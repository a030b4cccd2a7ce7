"""Multi-seed LOSO ablation: arms × training seeds, mean ± sd and the per-seed UF1 / UAR.

    python bench/ablation.py --set demo --arms flow_driven,self_only --seeds 0-4
    python bench/ablation.py --set realface --arms flow_driven,self_only --seeds 0-4 --diagnose

Each (arm, seed) is the pipeline's whole LOSO protocol — every fold of ``params.yaml``'s ``folds``, each trained
by :func:`mfdan.train.loop.train_fold` (fixed epochs, last epoch, the held-out subject read once) with
``train.seed`` = seed — scored like ``evaluate`` (UF1 / UAR over the concatenated folds, and per dataset).
One run is noise on ~70 samples; the table is about means over seeds and the paired per-seed differences.

Sets (the data the arms train on):

* ``demo``: the pipeline's caches (``data/cache.h5``, ``data/magnified.h5``; run ``dvc repro`` first);
* ``realface``: built once into ``bench/out/realface/`` by the pipeline's own stage functions, from
  ``params.yaml`` with ``synth.faces: [grace_hopper]`` and ``synth.seed: 1`` — a real face the demo was never
  generated from or tuned on (matplotlib's sample photo), in the three native layouts, read by our readers.
  It never enters the demo or ``dvc repro``.

Arms are dotted overrides of ``params.yaml`` (:data:`ARMS`; add your own with ``--arm NAME:key=value,...``, or
``--arm NAME:@profiles/baseline-ststnet.yaml`` for a recipe file). An arm may set ``model.arch`` (a baseline,
trained by :func:`mfdan.train.loop.fit_fold`) and ``data.evaluation: hde`` (one fold per dataset of the set);
``bench/compare.py`` runs every architecture this way.
Arms that change ``magnify`` get their own magnified frames (the ``magnify`` stage's function, same weights);
arms that change ``flow`` their own flow maps and cache (the ``flow`` and ``pack`` stages' functions).
Folds run in ``--workers`` processes with one torch thread each; every fold's result is stored under
``bench/out/<set>/runs/`` keyed by a hash of its params and data, so an interrupted sweep resumes and a changed
setting never reuses a stale result. ``--diagnose`` records, per fold, τ per head after every epoch, the
entropy of the self and flow attention on the held-out samples, and gradient norms per parameter group.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfdan.core.files import sha256  # noqa: E402
from mfdan.core.params import Params, apply_overrides, load_overrides  # noqa: E402
from mfdan.data.folds import cache_folds  # noqa: E402
from mfdan.core.progress import Progress  # noqa: E402
from mfdan.evaluate.metrics import uf1_uar  # noqa: E402

OUT = REPO / "bench" / "out"
#: arm -> dotted params overrides (on params.yaml)
ARMS: dict[str, dict] = {
    "flow_driven": {},                                  # params.yaml: Eqs. 9-15 as the paper writes them
    "self_only": {"model.flow_driven": False},          # Table V, M1
    "dropkey_0": {"dropkey": 0.0},                      # Table VII's d = 0 (the demo's 0.3 is the paper's)
    "magnify_linear": {"magnify.method": "linear"},
    "magnify_none": {"magnify.method": "none"},
    "flow_p99": {"flow.normalise": "p99"},              # flow maps scaled by a robust per-sample percentile
    "self_only_p99": {"model.flow_driven": False, "flow.normalise": "p99"},
}
#: the real-face set: params.yaml with these overrides
REALFACE = {"synth.faces": ["grace_hopper"], "synth.seed": 1}


# --- params ---------------------------------------------------------------------------------------------
def override(values: dict, dotted: dict) -> dict:
    """A deep copy of ``values`` with ``{"a.b": v}`` set (:func:`mfdan.core.params.apply_overrides`)."""
    return apply_overrides(values, dotted)


def digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --- data sets ------------------------------------------------------------------------------------------
def set_files(name: str, base: dict, values: dict) -> dict[str, Path]:
    """Cache, aligned frames and magnified frames of set ``name`` for an arm's params ``values``, built if
    missing: an arm that changes ``magnify.method`` gets its own magnified frames, one that changes ``flow``
    its own flow maps and cache."""
    from mfdan.magnify import magnify_stage

    method = values["magnify"]["method"]
    if name == "demo":
        root = REPO / "data"
        files = {"cache": root / "cache.h5", "aligned": root / "aligned.h5", "index": root / "index.json"}
        for p in files.values():
            if not p.is_file():
                sys.exit(f"{p}: missing; run `dvc repro` first (the demo set is the pipeline's own caches)")
        default_method = base["magnify"]["method"]
        files["magnified"] = REPO / "data/magnified.h5" if method == default_method else OUT / "demo" / f"magnified_{method}.h5"
    else:
        root = OUT / name
        files = build_realface(root, base)
        files["magnified"] = root / f"magnified_{method}.h5"
    if not files["magnified"].is_file():
        params = Params(override(base, {"magnify.method": method}), source=f"{name} (magnify.method={method})")
        files["magnified"].parent.mkdir(parents=True, exist_ok=True)
        print(magnify_stage.run(params=params, aligned=files["aligned"], weights=REPO / "models/magnet/magnet.pth",
                                out=files["magnified"]), flush=True)
    if values["flow"] != base["flow"]:
        # keyed by the flow settings and the aligned frames they are computed on: never stale
        files["cache"] = flow_cache(OUT / name / f"flow_{digest(values['flow'], sha256(files['aligned']))}", values, files)
    return files


def flow_cache(root: Path, values: dict, files: dict[str, Path]) -> Path:
    """The set's cache with flow maps computed under ``values['flow']`` (the flow and pack stages' functions on
    the set's aligned frames), built once into ``root``."""
    from mfdan.preprocess import flow_stage, pack_stage

    cache = root / "cache.h5"
    if not cache.is_file():
        root.mkdir(parents=True, exist_ok=True)
        params = Params(values, source=f"{root.name} ({values['flow']})")
        print(flow_stage.run(params=params, aligned=files["aligned"], out=root / "flow.h5"), flush=True)
        print(pack_stage.run(index=files["index"], aligned=files["aligned"], flow=root / "flow.h5", out=cache), flush=True)
    return cache


def build_realface(root: Path, base: dict) -> dict[str, Path]:
    """The real-face set through the pipeline's stage functions (synth → index → align → flow → pack)."""
    from mfdan.data import index_stage
    from mfdan.preprocess import align_stage, flow_stage, pack_stage
    from mfdan.synth import synth_stage

    values = override(base, REALFACE | {f"data.roots.{d}": str(root / "raw" / d) for d in ("casme2", "samm", "smic")})
    key = digest({k: values[k] for k in ("synth", "data", "align", "flow")})
    files = {"cache": root / "cache.h5", "aligned": root / "aligned.h5", "index": root / "index.json"}
    stamp = root / "built.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("key") == key and all(p.is_file() for p in files.values()):
        return files
    root.mkdir(parents=True, exist_ok=True)
    params = Params(values, source="realface")
    print(synth_stage.run(params=params, out=root / "raw"), flush=True)
    print(index_stage.run(params=params, out=files["index"], metrics=root / "dataset.json"), flush=True)
    print(align_stage.run(params=params, index=root / "index.json", out=files["aligned"], report=root / "align.json"),
          flush=True)
    print(flow_stage.run(params=params, aligned=files["aligned"], out=root / "flow.h5"), flush=True)
    print(pack_stage.run(index=files["index"], aligned=files["aligned"], flow=root / "flow.h5", out=files["cache"]),
          flush=True)
    for old in root.glob("magnified_*.h5"):
        old.unlink()
    stamp.write_text(json.dumps({"key": key, "params": {k: values[k] for k in ("synth", "data")}}, indent=1) + "\n")
    return files


# --- one fold (a worker task) -----------------------------------------------------------------------------
def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


_DATA: dict = {}


def run_fold(job: dict) -> dict:
    """Train one fold as ``train@`` does and return its held-out predictions (+ diagnostics)."""
    from dataclasses import replace

    import torch

    from mfdan.model.registry import arch_of, model_config, parameter_count
    from mfdan.train.fold_data import load_data
    from mfdan.train.loop import TrainConfig, fit_fold, train_fold

    key = (job["cache"], job["magnified"])
    if key not in _DATA:
        _DATA[key] = load_data(Path(job["cache"]), Path(job["magnified"]))
    data = _DATA[key]
    params = Params(job["params"], source=job["arm"])
    model_cfg = model_config(params, num_classes=len(data.classes))  # model.arch: MFDAN or a baseline
    cfg = replace(params.section("train", TrainConfig), seed=job["seed"], device="cpu")
    taus: list[list[list[float]]] = []
    callback = None
    is_mfdan = arch_of(model_cfg).name == "mfdan"
    if job["diagnose"] and is_mfdan and model_cfg.flow_driven:
        def callback(epoch: int, model) -> None:
            taus.append([m.tau.detach().tolist() for m in attention_modules(model)])
    t0 = time.perf_counter()
    if is_mfdan:
        result = train_fold(job["fold"], data, model_cfg, cfg, progress=False, on_epoch=callback)
    else:
        result = fit_fold(job["fold"], data, model_cfg, cfg, progress=False)
    out = {"fold": job["fold"], "test": result.split.test.tolist(), "probs": result.probs.tolist(),
           "seconds": time.perf_counter() - t0, "arch": arch_of(model_cfg).name,
           "parameters": parameter_count(result.model)}
    if job["diagnose"] and is_mfdan:
        out["diagnostics"] = diagnose(result.model, data, result.split, cfg) | {"tau_per_epoch": taus}
    return out


def attention_modules(model) -> list:
    from mfdan.model.flow_driven_attention import FlowDrivenWindowAttention

    return [m for m in model.modules() if isinstance(m, FlowDrivenWindowAttention)]


def diagnose(model, data, split, cfg) -> dict:
    """Entropy of each attention layer's self and flow maps on the held-out samples (as a fraction of ln N,
    1 = uniform), and the gradient norm of each parameter group on one training batch, after training."""
    import torch

    from mfdan.core.frames import to_unit
    from mfdan.train.losses import build_loss

    mods = attention_modules(model)
    captured: dict[int, list] = {i: [] for i in range(len(mods))}
    hooks = [m.register_forward_pre_hook(lambda mod, args, kw, i=i: captured[i].append((args, kw)), with_kwargs=True)
             for i, m in enumerate(mods)]
    test = split.test
    model.eval()
    with torch.no_grad():
        model(to_unit(data.eval_images[test]), torch.from_numpy(data.flow[test]))
    for h in hooks:
        h.remove()
    entropy = []
    with torch.no_grad():
        for i, m in enumerate(mods):
            (args, kw), = captured[i]
            x = args[0]
            flow = args[1] if len(args) > 1 else kw.get("flow")
            maps = m.attention_maps(x, flow, mask=kw.get("mask"))
            n = maps["self"].shape[-1]
            row = {}
            for name, p in maps.items():
                h = -(p * torch.log(p.clamp_min(1e-12))).sum(-1)  # (B·nW, heads, N)
                row[name] = (h.mean(dim=(0, 2)) / math.log(n)).tolist()  # per head
            entropy.append(row)
    # gradient norms per group on the first training batch (eval-mode dropout/DropKey off: a clean signal)
    train = np.sort(split.train[: cfg.batch])
    model.zero_grad(set_to_none=True)
    loss = build_loss(cfg.loss, num_classes=len(data.classes), gamma=cfg.gamma)(
        model(to_unit(data.eval_images[train]), torch.from_numpy(data.flow[train])), torch.from_numpy(data.labels[train]))
    loss.backward()
    groups: dict[str, float] = {}
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        g = ("tau" if name.endswith("tau_raw") else "flow_tokens" if name.startswith(("flow_embed", "flow_merge"))
             else "flow_encoder" if name.startswith("flow_encoder") else "head" if name.startswith("head")
             else "image_path")
        groups[g] = groups.get(g, 0.0) + float(p.grad.pow(2).sum())
    return {"entropy": entropy, "tau": [m.tau.tolist() for m in mods] if model.config.flow_driven else [],
            "grad_norm": {k: math.sqrt(v) for k, v in sorted(groups.items())}}


# --- sweep ----------------------------------------------------------------------------------------------
def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def score(rows: list[dict], data_labels: np.ndarray, datasets: list[str], classes: list[str]) -> dict:
    idx = np.concatenate([r["test"] for r in rows])
    probs = np.concatenate([np.asarray(r["probs"]) for r in rows])
    pred = probs.argmax(1)
    y = data_labels[idx]
    uf1, uar = uf1_uar(y, pred, len(classes))
    per = {}
    for d in sorted(set(datasets)):
        sel = np.array([datasets[i] == d for i in idx])
        if sel.any():
            per[d] = dict(zip(("uf1", "uar"), uf1_uar(y[sel], pred[sel], len(classes))))
    return {"uf1": uf1, "uar": uar, "samples": len(idx), "per_dataset": per}


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="demo", choices=("demo", "realface"))
    ap.add_argument("--arms", default="flow_driven,self_only", help=f"comma-separated, from {sorted(ARMS)}")
    ap.add_argument("--arm", action="append", default=[],
                    help="extra arm NAME:key=value[,key=value] (YAML values), or NAME:@FILE, a recipe file of "
                         "dotted overrides (profiles/baseline-<arch>.yaml), optionally followed by ,key=value")
    ap.add_argument("--seeds", default="0-4", help="training seeds, e.g. 0-4 or 0,2,5")
    ap.add_argument("--params", type=Path, default=REPO / "params.yaml")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--diagnose", action="store_true")
    args = ap.parse_args()

    arms = {a: ARMS[a] for a in args.arms.split(",") if a}
    for spec in args.arm:
        name, _, body = spec.partition(":")
        arms[name] = {}
        for kv in (x for x in body.split(",") if x):
            if kv.startswith("@"):
                arms[name].update(load_overrides(REPO / kv[1:] if not Path(kv[1:]).is_absolute() else kv[1:]))
            else:
                k, v = kv.split("=", 1)
                arms[name][k] = yaml.safe_load(v)
    seeds = parse_seeds(args.seeds)
    base = yaml.safe_load(args.params.read_text())
    out_dir = OUT / args.set
    jobs, stored = [], {}
    arm_folds: dict[str, list[str]] = {}
    for arm, ov in arms.items():
        values = override(base, ov)
        files = set_files(args.set, base, values)
        data_key = digest(sha256(files["cache"]), sha256(files["magnified"]))
        # HDE (data.evaluation: hde): one fold per dataset of the set; LOSO: every subject of the set
        evaluation = (values.get("data") or {}).get("evaluation", "loso")
        arm_folds[arm] = folds = cache_folds(files["cache"], evaluation)
        for seed in seeds:
            for fold in folds:
                # --diagnose only reads the trained model (and τ after each epoch): not part of the key
                key = digest({k: values.get(k) for k in ("dropkey", "model", "baselines", "train")}, seed, fold,
                             data_key)
                path = out_dir / "runs" / arm / f"seed{seed}" / f"{fold}.{key}.json"
                job = {"arm": arm, "seed": seed, "fold": fold, "params": values, "diagnose": args.diagnose,
                       "cache": str(files["cache"]), "magnified": str(files["magnified"]), "path": str(path)}
                old = json.loads(path.read_text()) if path.is_file() else None
                if old is not None and (not args.diagnose or "diagnostics" in old):
                    stored[(arm, seed, fold)] = old
                else:
                    jobs.append(job)
    # seed-major: at any point of a long sweep, the finished seeds are complete for every arm
    order = {a: i for i, a in enumerate(arms)}
    jobs.sort(key=lambda j: (j["seed"], order[j["arm"]]))
    print(f"{args.set}: {len(arms)} arms x {len(seeds)} seeds x {sorted({len(f) for f in arm_folds.values()})} folds; "
          f"{len(stored)} stored, "
          f"{len(jobs)} to train on {args.workers} workers", flush=True)
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    with Progress(len(jobs), desc=f"ablation {args.set}", unit="fold", every=1) as bar, \
            ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker) as pool:
        futures = {pool.submit(run_fold, j): j for j in jobs}
        for fut in as_completed(futures):
            j = futures[fut]
            res = fut.result()
            Path(j["path"]).parent.mkdir(parents=True, exist_ok=True)
            Path(j["path"]).write_text(json.dumps(res) + "\n")
            stored[(j["arm"], j["seed"], j["fold"])] = res
            bar.update(1, arm=j["arm"], seed=j["seed"], s=res["seconds"])

    from mfdan.core.rows import open_rows, read_strings

    files = set_files(args.set, base, base)
    with open_rows(files["cache"], ("label", "dataset")) as c:
        labels, datasets, classes = c["label"][()], read_strings(c["dataset"]), json.loads(c.attrs["classes"])
    results = {arm: {seed: score([stored[(arm, seed, f)] for f in arm_folds[arm]], labels, datasets, classes)
                     for seed in seeds} for arm in arms}
    ref = next(iter(arms))
    evaluations = {a: (override(base, arms[a]).get("data") or {}).get("evaluation", "loso") for a in arms}
    nfolds = ", ".join(sorted({f"{len(arm_folds[a])} {evaluations[a].upper()}" for a in arms}))
    lines = [f"### {args.set}: {len(seeds)} seeds ({args.seeds}), {nfolds} folds, "
             f"{results[ref][seeds[0]]['samples']} samples",
             "", "| arm | overrides | UF1 mean ± sd | UF1 per seed | UAR mean ± sd | "
             f"UF1 − {ref} (paired, mean ± sd) | parameters | s per fold |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for arm in arms:
        uf1 = [results[arm][s]["uf1"] for s in seeds]
        uar = [results[arm][s]["uar"] for s in seeds]
        diff = [results[arm][s]["uf1"] - results[ref][s]["uf1"] for s in seeds]
        ov = ", ".join(f"{k}={v}" for k, v in arms[arm].items()) or "params.yaml"
        runs = [stored[(arm, s, f)] for s in seeds for f in arm_folds[arm]]
        params_n = sorted({r.get("parameters") for r in runs if r.get("parameters") is not None})
        secs = statistics.median(r["seconds"] for r in runs)
        lines.append(f"| {arm} | {ov} | {mean_sd(uf1)} | {' / '.join(f'{v:.3f}' for v in uf1)} | {mean_sd(uar)} | "
                     f"{'—' if arm == ref else mean_sd(diff)} | {', '.join(f'{n:,}' for n in params_n) or '?'} | "
                     f"{secs:.1f} |")
    per_ds = sorted({d for a in arms for s in seeds for d in results[a][s]["per_dataset"]})
    lines += ["", "| arm | " + " | ".join(f"{d} UF1 | {d} UAR" for d in per_ds) + " |",
              "| --- |" + " --- | --- |" * len(per_ds)]
    for arm in arms:
        lines.append(f"| {arm} | " + " | ".join(
            f"{mean_sd([results[arm][s]['per_dataset'][d]['uf1'] for s in seeds])} | "
            f"{mean_sd([results[arm][s]['per_dataset'][d]['uar'] for s in seeds])}" for d in per_ds) + " |")
    if args.diagnose:
        lines += ["", diagnostics_table(stored, arms, seeds, arm_folds[ref])]
    table = "\n".join(lines)
    print(table)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ablation.md").write_text(table + "\n")
    cost = {}
    for arm in arms:
        runs = [stored[(arm, s, f)] for s in seeds for f in arm_folds[arm]]
        cost[arm] = {"parameters": sorted({r.get("parameters") for r in runs if r.get("parameters") is not None}),
                     "seconds_per_fold_median": statistics.median(r["seconds"] for r in runs)}
    (out_dir / "ablation.json").write_text(json.dumps(
        {"set": args.set, "seeds": seeds, "folds": arm_folds, "arms": arms, "cost": cost,
         "results": {a: {str(s): r for s, r in v.items()} for a, v in results.items()}}, indent=1) + "\n")


def diagnostics_table(stored: dict, arms: dict, seeds: list[int], folds: list[str]) -> str:
    """Means over seeds and folds: τ per attention layer (first epoch → last), entropy of self / flow maps
    (fraction of ln N), gradient norm per group."""
    lines = ["| arm | layer | τ epoch 1 → last (mean over heads) | H(self) / ln N | H(flow) / ln N |",
             "| --- | --- | --- | --- | --- |"]
    grads = ["", "| arm | " + " | ".join(("image_path", "flow_tokens", "tau", "flow_encoder", "head")) + " |",
             "| --- |" + " --- |" * 5]
    for arm in arms:
        diags = [stored[(arm, s, f)]["diagnostics"] for s in seeds for f in folds if "diagnostics" in stored[(arm, s, f)]]
        if not diags:
            continue
        for layer in range(len(diags[0]["entropy"])):
            hs = [statistics.mean(d["entropy"][layer]["self"]) for d in diags]
            hf = [statistics.mean(d["entropy"][layer]["flow"]) for d in diags if "flow" in d["entropy"][layer]]
            t1 = [statistics.mean(d["tau_per_epoch"][0][layer]) for d in diags if d["tau_per_epoch"]]
            tl = [statistics.mean(d["tau_per_epoch"][-1][layer]) for d in diags if d["tau_per_epoch"]]
            tau = f"{statistics.mean(t1):.3f} → {statistics.mean(tl):.3f}" if t1 else "—"
            lines.append(f"| {arm} | {layer} | {tau} | {statistics.mean(hs):.3f} | "
                         f"{statistics.mean(hf):.3f} |" if hf else f"| {arm} | {layer} | {tau} | "
                         f"{statistics.mean(hs):.3f} | — |")
        keys = ("image_path", "flow_tokens", "tau", "flow_encoder", "head")
        grads.append(f"| {arm} | " + " | ".join(
            f"{statistics.mean([d['grad_norm'].get(k, 0.0) for d in diags]):.4f}" for k in keys) + " |")
    return "\n".join(lines + grads)


if __name__ == "__main__":
    main()

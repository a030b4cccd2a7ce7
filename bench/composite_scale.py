"""The users' scale, measured on this machine (issue 45, item 5): the MEGC2019 composite's shape at the paper's
224 px, preprocessed stage by stage, then a paper-profile MFDAN fold on the CPU.

    nice -n 10 python bench/composite_scale.py            # the whole set: 442 clips, 68 subjects
    nice -n 10 python bench/composite_scale.py --quick    # 1 subject per dataset (the richest: 80 clips), 1 epoch
    python bench/composite_scale.py --subjects 2 --epochs 2 --fold samm_014 --keep --workdir /tmp/cs

What it does:

1. **The set** (``--set``, default ``composite-scale``: ``profiles/set-composite-scale.yaml``, generated clips with
   the CDE list's subjects and rows, release frame geometry, the paper's settings) is made into a DVC workspace
   the way ``mfdan sweep`` makes one (:mod:`mfdan.sweep.sets`: the project's ``dvc.yaml``, ``pipeline/``,
   ``mfdan/`` and ``models/checkpoints`` copied, the set's params written as its ``params.yaml``), except that the
   workspace keeps its own DVC cache, so every stage really runs and nothing lands in the project's cache.
   ``--subjects N`` caps the subjects per dataset (``synth.subjects``; the richest first).
2. **Each stage** of ``dvc repro pack magnify`` (synth, read@<dataset>, index, align, flow, pack, train_magnet,
   magnify) runs as its own ``dvc repro -s <stage>``, upstream first (the order is read from ``dvc.yaml``'s deps
   and outs), measured (:func:`measured`): wall seconds (DVC's own bookkeeping and output hashing included); CPU
   seconds of every process of the stage; the peak resident set of the largest stage process (the stage script
   or a worker; VmHWM) and of DVC's own; the peak summed resident set of the whole tree (sampled every 0.25 s
   from ``/proc``); the size of what it wrote; and the CPU seconds the rest of the machine used meanwhile (on a
   shared machine another user's work slows every stage: the results say how much there was).
3. **A fold** of the set's training recipe (the paper's MFDAN, batch 16, lr 1e-4; ``--fold``, default the
   fold holding out the smallest subject, so the largest training set) trains for ``--epochs`` (default 2)
   instead of ``train.epochs`` (60), in its own process on the workspace's copy of the code, with the train
   stage's own function (:func:`mfdan.train.loop.train_fold`, an epoch hook timing each epoch). The
   paper-profile cost is **extrapolated**, not measured: seconds per training sample of the last timed epoch ×
   training samples × ``train.epochs``, for this fold and for all 68 LOSO folds of the full composite (each
   fold's training set from the CDE list), plus prediction.

With a subset (``--subjects``/``--quick``) the full set's preprocessing is **estimated** from the run: each
stage's seconds per clip × 442 (read@<dataset>: per clip of that dataset × its CDE count; train_magnet does not
grow with the clips and is taken as measured). The fixed part of each stage (process start, DVC) is scaled too,
so the estimate errs high.

Writes ``bench/results/composite_scale.{md,json}`` (``--quick``: ``composite_scale_quick.{md,json}``; ``--out``
sets the stem): the command, the machine (CPU model, cores, memory), the date, the commit, and every number; the
.json after each stage, so an interrupted run keeps what it measured (``--workdir DIR --resume`` runs the rest in
the same workspace; ``--report-only [--note TEXT]`` rewrites the .md).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfdan.core.params import Params, apply_overrides  # noqa: E402
from mfdan.data.protocols import CDE_COUNTS, CDE_DATASETS, cde_list  # noqa: E402
from mfdan.sweep.sets import COPIED, TARGETS, load_set, sync_tree, workspace_params  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


# --- the machine --------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    info = {"cpu": platform.processor() or "unknown", "logical_cpus": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "nice": os.nice(0), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        text = Path("/proc/cpuinfo").read_text()
        names = re.findall(r"^model name\s*:\s*(.+)$", text, flags=re.M)
        fam = re.findall(r"^cpu family\s*:\s*(\d+)$", text, flags=re.M)
        mod = re.findall(r"^model\s*:\s*(\d+)$", text, flags=re.M)
        if names:
            info["cpu"] = names[0].strip() + (f" (family {fam[0]}, model {mod[0]})" if fam and mod else "")
    except OSError:
        pass
    try:
        kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))
        info["memory_gib"] = round(kb / 2**20, 1)
    except (OSError, AttributeError):
        pass
    import torch

    info["torch"] = torch.__version__
    info["torch_threads"] = torch.get_num_threads()
    info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        res = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return res.stdout.strip() if res.returncode == 0 else ""

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_changes": changed}


# --- measuring a process tree -------------------------------------------------------------------------------
def _processes() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, resident bytes, CPU ticks user + system) of every process now."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            rss = int(Path(f"/proc/{d}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        out[int(d)] = (int(fields[1]), rss, int(fields[11]) + int(fields[12]))
    return out


def _hwm(pid: int) -> int:
    """The process's peak resident bytes so far (VmHWM)."""
    try:
        return int(re.search(r"VmHWM:\s*(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) * 1024
    except (OSError, AttributeError):
        return 0


class TreeSampler:
    """Samples a process tree every ``every`` seconds: the peak of its summed resident set, each process's peak
    resident set (VmHWM, so exact but for growth in a process's last interval) and CPU ticks."""

    def __init__(self, root: int, every: float = 0.25):
        self.root, self.every = root, every
        self.tree_peak, self.hwm, self.ticks = 0, {}, {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            procs = _processes()
            kids: dict[int, list[int]] = {}
            for pid, (ppid, _, _) in procs.items():
                kids.setdefault(ppid, []).append(pid)
            total, todo = 0, [self.root]
            while todo:
                pid = todo.pop()
                if pid in procs:
                    total += procs[pid][1]
                    self.ticks[pid] = max(self.ticks.get(pid, 0), procs[pid][2])
                    self.hwm[pid] = max(self.hwm.get(pid, 0), _hwm(pid))
                todo += kids.get(pid, [])
            self.tree_peak = max(self.tree_peak, total)
            self._done.wait(self.every)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def machine_busy_s() -> float:
    """CPU seconds every process on the machine has used since boot (``/proc/stat``: all but idle and iowait)."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def measured(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``cmd`` (``dvc repro -s <stage>``, or the fold's process) and measure it: wall seconds; CPU seconds of
    the whole tree (the larger of ``wait4``'s, which misses processes nobody waits for, such as multiprocessing's
    forkserver workers, and the sum of the sampled processes' own ticks, which misses the last interval of each);
    the peak resident set of the largest process other than ``cmd``'s own (the stage and its workers, not DVC)
    and of ``cmd``'s own process; the sampled peak of the whole tree's summed resident set; and the CPU seconds
    the rest of the machine used meanwhile (``others_cpu_s``: another user's work slows the stage)."""
    with open(log, "w") as out:
        busy0, t0 = machine_busy_s(), time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        _, status, ru = os.wait4(proc.pid, 0)
        wall, busy = time.perf_counter() - t0, machine_busy_s() - busy0
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
    sampled_cpu = sum(sampler.ticks.values()) / os.sysconf("SC_CLK_TCK")
    cpu = max(ru.ru_utime + ru.ru_stime, sampled_cpu)
    others = [v for pid, v in sampler.hwm.items() if pid != proc.pid]
    own = sampler.hwm.get(proc.pid, 0)
    if not others:  # no child was seen: wait4's maximum is the process's own, exactly
        own = max(own, ru.ru_maxrss * 1024)
    return {"rc": proc.returncode, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "others_cpu_s": round(max(busy - cpu, 0.0), 1),
            "max_process_rss_mib": mib(max(others, default=0)), "own_process_rss_mib": mib(own),
            "peak_tree_rss_mib": mib(sampler.tree_peak)}


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def mib(n: int | float) -> float:
    return round(n / 2**20, 1)


# --- the workspace ------------------------------------------------------------------------------------------
def make_workspace(values: dict[str, Any], ws: Path, *, copy: bool = True) -> dict[str, str]:
    """A DVC workspace as mfdan.sweep.sets.build_caches makes it, with a DVC cache of its own; ``copy`` False (a
    resumed run) keeps the code and params it holds."""
    ws.mkdir(parents=True, exist_ok=True)
    if copy:
        for name in COPIED:
            if (REPO / name).exists():
                sync_tree(REPO / name, ws / name)
        (ws / "params.yaml").write_text(yaml.safe_dump(workspace_params(values, values, repo=REPO), sort_keys=False))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=str(ws))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not (ws / ".dvc").is_dir():
        for args in (("init", "--no-scm", "-q"), ("config", "core.analytics", "false")):
            subprocess.run([sys.executable, "-m", "dvc", *args], cwd=ws, env=env, check=True, capture_output=True)
    return env


def expanded_stages(ws: Path) -> dict[str, dict[str, list[str]]]:
    """stage name (foreach items expanded, in dvc.yaml order) -> its ``deps`` and ``outs`` (metrics included),
    from the workspace's ``dvc.yaml`` and params."""
    stages = yaml.safe_load((ws / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((ws / "params.yaml").read_text())
    out: dict[str, dict[str, list[str]]] = {}
    for name, st in stages.items():
        body = st.get("do", st)
        deps = [str(d) for d in body.get("deps", []) or []]
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in body.get("outs", []) or []]
        outs += [next(iter(o)) for o in body.get("metrics", []) or []]
        if "foreach" not in st:
            out[name] = {"deps": deps, "outs": outs}
            continue
        node = params
        for k in st["foreach"].strip("${}").split("."):
            node = node[k]
        items = node.items() if isinstance(node, dict) else ((i, i) for i in node)
        for key, item in items:
            sub = lambda t: str(t).replace("${key}", str(key)).replace("${item}", str(item))  # noqa: E731
            out[f"{name}@{key}"] = {"deps": [sub(d) for d in deps], "outs": [sub(o) for o in outs]}
    return out


def stage_order(stages: dict[str, dict[str, list[str]]], targets: tuple[str, ...] = TARGETS) -> list[str]:
    """The stages ``dvc repro <targets>`` runs, upstream first (dvc.yaml order among equals)."""
    producer = {o: name for name, st in stages.items() for o in st["outs"]}

    def upstream(name: str) -> list[str]:
        ups = []
        for d in stages[name]["deps"]:
            for o, prod in producer.items():
                if prod != name and (d == o or d.startswith(o.rstrip("/") + "/") or o.startswith(d.rstrip("/") + "/")):
                    ups.append(prod)
        return ups

    seen: list[str] = []

    def visit(name: str) -> None:
        if name in seen:
            return
        for up in upstream(name):
            visit(up)
        seen.append(name)

    for t in targets:
        visit(t)
    return seen


# --- the fold (child process) -------------------------------------------------------------------------------
def fold_child(args: argparse.Namespace) -> None:
    """``_fold``: one fold of the workspace's recipe for ``--epochs`` epochs; prints one JSON line."""
    import torch

    from mfdan.model.registry import model_config
    from mfdan.train.fold_data import check_fold, check_sizes, load_data
    from mfdan.train.loop import TrainConfig, train_fold

    ws = Path(args.ws)
    t0 = time.perf_counter()
    values = yaml.safe_load((ws / "params.yaml").read_text())
    params = Params(apply_overrides(values, {"train.epochs": args.epochs}))
    cache, magnified = ws / "data" / "cache.h5", ws / "data" / "magnified.h5"
    data = load_data(cache, magnified)
    check_fold(args.fold, data, cache)
    model_cfg = model_config(params, num_classes=len(data.classes))
    check_sizes(data, model_cfg, cache)
    cfg = params.section("train", TrainConfig)
    loaded = time.perf_counter()
    marks: list[float] = []
    result = train_fold(args.fold, data, model_cfg, cfg, progress=False,
                        on_epoch=lambda epoch, model: marks.append(time.perf_counter()))
    end = time.perf_counter()
    start = end - result.seconds  # train_fold's own clock starts after the model is built
    epochs = [round(b - a, 2) for a, b in zip([start, *marks[:-1]], marks)]
    n_params = sum(p.numel() for p in result.model.parameters())
    print(json.dumps({
        "fold": args.fold, "train_samples": int(len(result.split.train)), "test_samples": int(len(result.split.test)),
        "batch": cfg.batch, "epochs_timed": args.epochs, "epoch_s": epochs,
        "predict_s": round(end - marks[-1], 2), "load_s": round(loaded - t0, 2),
        "build_s": round(start - loaded, 2), "parameters": n_params, "threads": torch.get_num_threads(),
        "image_size": int(data.eval_images.shape[1]), "magnified_variants": int(data.train_images.shape[1]),
        "last_train_loss": round(float(result.curve[-1]["train_loss"]), 4)}))


# --- the report ---------------------------------------------------------------------------------------------
def per_subject_counts() -> dict[str, int]:
    return dict(Counter(f"{d}_{s}" for d, s, _ in cde_list()))


def extrapolate_fold(fold: dict[str, Any], epochs: int) -> dict[str, Any]:
    """The paper-profile cost from the timed epochs: seconds per training sample (the last epoch) × samples ×
    ``epochs``, plus prediction per held-out sample."""
    per_sample = fold["epoch_s"][-1] / fold["train_samples"]
    per_pred = fold["predict_s"] / max(fold["test_samples"], 1)
    subjects = per_subject_counts()
    total = CDE_COUNTS["samples"]
    this = epochs * per_sample * fold["train_samples"] + fold["predict_s"]
    loso_train = sum(epochs * per_sample * (total - n) for n in subjects.values())
    loso = loso_train + per_pred * total
    steps = sum(math.ceil((total - n) / fold["batch"]) for n in subjects.values()) * epochs
    return {"epochs": epochs, "s_per_train_sample": round(per_sample, 4),
            "s_per_step_of_16": round(per_sample * fold["batch"], 2), "s_per_predicted_sample": round(per_pred, 4),
            "this_fold_s": round(this), "full_loso_folds": len(subjects), "full_loso_steps": steps,
            "full_loso_s": round(loso), "full_loso_h": round(loso / 3600, 1)}


def estimate_full(stages: list[dict[str, Any]], clips: dict[str, int]) -> list[dict[str, Any]]:
    """Each stage at the full composite's 442 clips from this run's seconds per clip (see the module doc)."""
    n = sum(clips.values())
    out = []
    for st in stages:
        name = st["stage"]
        if name == "train_magnet":
            factor = 1.0
        elif name.startswith("read@"):
            d = name.split("@", 1)[1]
            factor = CDE_COUNTS[d] / clips[d] if clips.get(d) else 1.0
        else:
            factor = CDE_COUNTS["samples"] / n
        out.append({"stage": name, "wall_s": round(st["wall_s"] * factor, 1), "cpu_s": round(st["cpu_s"] * factor, 1),
                    "out_mib": round(st["out_mib"] * factor, 1), "factor": round(factor, 2)})
    return out


def fmt_s(s: float) -> str:
    if s >= 5400:
        return f"{s:.0f} s ({s / 3600:.1f} h)"
    return f"{s:.0f} s ({s / 60:.1f} min)" if s >= 90 else f"{s:.1f} s"


def save(rep: dict[str, Any], stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(rep, indent=1) + "\n")


def write_report(rep: dict[str, Any], stem: Path) -> None:
    """``stem.md`` from the results (``stem.json`` holds the same numbers)."""
    m, c = rep["machine"], rep["clips"]
    subset = f" with synth.subjects {rep['subs']} (a subset)" if rep["subs"] else ""
    lines = [f"# Composite scale on this CPU ({'subset: estimate for 442 clips' if rep['subset'] else 'the full set'})",
             "",
             f"Generated by `bench/composite_scale.py` (issue 45, item 5); the numbers are in "
             f"[{stem.name}.json]({stem.name}.json).", "",
             f"- command: `{rep['command']}`",
             f"- date: {rep['date']}; commit {rep['git']['commit']}"
             + (f" with uncommitted changes in {len(rep['git']['uncommitted_changes'])} files"
                if rep["git"]["uncommitted_changes"] else ""),
             f"- machine: {m['cpu']}, {m['usable_cpus']} usable cores ({m['logical_cpus']} logical), "
             f"{m.get('memory_gib', '?')} GiB; load average at start {m['load_average_at_start']}; nice {m['nice']}; "
             f"PyTorch {m['torch']} ({m['torch_cpu_capability']}, {m['torch_threads']} threads)",
             f"- set: `{rep['set']}`{subset}: "
             f"{sum(c.values())} clips ({', '.join(f'{d} {n}' for d, n in c.items())}), {rep['subjects']} subjects, "
             f"{rep['settings']}",
             "- workspace: a DVC workspace as `mfdan sweep` builds one (its own DVC cache), each stage run as "
             "`dvc repro -s <stage>`; seconds include DVC's bookkeeping and output hashing",
             *(f"- note: {n}" for n in rep.get("notes", [])), ""]
    lines += ["## Preprocessing, per stage (measured)", "",
              "| stage | wall | CPU s | others' CPU s | peak RSS, largest stage process (MiB) | "
              "peak RSS, DVC's process (MiB) | peak RSS, whole tree (MiB) | output (MiB) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for st in rep["stages"]:
        lines.append(f"| {st['stage']} | {fmt_s(st['wall_s'])} | {st['cpu_s']:.0f} | {st['others_cpu_s']:.0f} | "
                     f"{st['max_process_rss_mib']:.0f} | "
                     f"{st['own_process_rss_mib']:.0f} | {st['peak_tree_rss_mib']:.0f} | {st['out_mib']:.1f} |")
    tot = rep["preprocessing_total"]
    lines += [f"| **total** (peaks: the largest) | **{fmt_s(tot['wall_s'])}** | {tot['cpu_s']:.0f} | "
              f"{tot['others_cpu_s']:.0f} | "
              f"{tot['max_process_rss_mib']:.0f} | {tot['own_process_rss_mib']:.0f} | {tot['peak_tree_rss_mib']:.0f} | "
              f"{tot['out_mib']:.1f} |", "",
              "CPU s: every process of the stage's tree (DVC's included); others' CPU s: what the rest of the "
              "machine used meanwhile (another user's work, which slows the stage: of the "
              f"{tot['wall_s'] * m['usable_cpus']:.0f} core-seconds the stages' wall time offered, others took "
              f"{tot['others_cpu_s']:.0f}); the largest stage process: the stage script or one of its worker "
              "processes (VmHWM, sampled every 0.25 s); the whole tree: DVC, the stage and its workers, resident "
              "sets summed (sampled).", ""]
    lines += ["Caches (the files the folds read and their inputs), and the workspace's DVC cache:", "",
              "| file | MiB |", "| --- | ---: |"]
    lines += [f"| `{k}` | {v:.1f} |" for k, v in rep["cache_sizes_mib"].items()]
    lines.append("")
    if rep.get("full_estimate"):
        est = rep["full_estimate"]
        total = sum(e["wall_s"] for e in est)
        lines += ["## Estimate for the full set (442 clips, 68 subjects)", "",
                  "Not measured: each stage's seconds per clip above × 442 (read@<dataset>: × that dataset's CDE "
                  "count; train_magnet as measured). Fixed costs (process start, DVC) are scaled too, so it errs "
                  "high. Peak memory is not scaled: each stage writes its output row by row (clip by clip), so its peak "
                  "does not grow with the number of clips.", "",
                  "| stage | wall | CPU s | output (MiB) | × |", "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {e['stage']} | {fmt_s(e['wall_s'])} | {e['cpu_s']:.0f} | {e['out_mib']:.0f} | {e['factor']} |"
                  for e in est]
        lines += [f"| **total** | **{fmt_s(total)}** | {sum(e['cpu_s'] for e in est):.0f} | "
                  f"{sum(e['out_mib'] for e in est):.0f} | |", ""]
        if rep.get("full_run_note"):
            lines += [rep["full_run_note"], ""]
    if rep.get("fold"):
        f, x, p = rep["fold"], rep["fold_extrapolated"], rep["fold_process"]
        lines += ["## A paper-profile MFDAN fold on this CPU", "",
                  f"Fold `{f['fold']}`: {f['train_samples']} training samples, {f['test_samples']} held out, "
                  f"{f['image_size']} px, {f['magnified_variants']} magnified variants per sample, "
                  f"{f['parameters'] / 1e6:.1f} M parameters, batch {f['batch']}, {f['threads']} PyTorch threads. "
                  f"**Measured** ({f['epochs_timed']} epoch{'s' if f['epochs_timed'] > 1 else ''} instead of "
                  f"{x['epochs']}): loading the caches {f['load_s']} s, building the model {f['build_s']} s, "
                  f"epochs {', '.join(f'{e} s' for e in f['epoch_s'])}, prediction {f['predict_s']} s; "
                  f"{p['wall_s']} s wall for the process, peak RSS {p['own_process_rss_mib']:.0f} MiB; meanwhile "
                  f"the rest of the machine used {p['others_cpu_s']:.0f} CPU s of the "
                  f"{p['wall_s'] * m['usable_cpus']:.0f} its wall time offered.", "",
                  f"**Extrapolated, not measured** (the last timed epoch's {x['s_per_train_sample']} s per training "
                  f"sample, {x['s_per_step_of_16']} s per step of {f['batch']}, × samples × {x['epochs']} epochs, the "
                  f"paper profile's `train.epochs`):", "",
                  f"- this fold at {x['epochs']} epochs: {fmt_s(x['this_fold_s'])}",
                  f"- the full composite's LOSO, {x['full_loso_folds']} folds × {x['epochs']} epochs "
                  f"({x['full_loso_steps']} steps), one seed, one method: {x['full_loso_h']} h "
                  f"({x['full_loso_h'] / 24:.1f} days) on this machine", ""]
        if rep["subset"]:
            lines += ["The fold ran on the subset's caches; a step of 16 samples costs the same whatever the set's "
                      "size, so its per-sample time carries to the full set's folds.", ""]
    lines += ["Not covered here: the GPU part of item 5 (a batched group of paper-profile folds on one H100).", ""]
    stem.with_suffix(".md").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="composite-scale", help="a named set or a file of dotted overrides")
    ap.add_argument("--subjects", type=int, default=0, help="synth.subjects: subjects per dataset (0: the set's)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs the fold is timed for")
    ap.add_argument("--fold", default="", help="the fold to time (default: the smallest subject's)")
    ap.add_argument("--quick", action="store_true", help="--subjects 1 --epochs 1, results *_quick.{md,json}")
    ap.add_argument("--no-fold", action="store_true", help="preprocessing only")
    ap.add_argument("--workdir", type=Path, default=None, help="where the workspace goes (default: a temporary "
                                                                  "folder, removed at the end)")
    ap.add_argument("--keep", action="store_true", help="keep the workspace")
    ap.add_argument("--out", type=Path, default=None, help="results stem (default bench/results/composite_scale)")
    ap.add_argument("--report-only", action="store_true", help="rewrite the .md from the results' .json")
    ap.add_argument("--note", action="append", default=[], help="with --report-only: a note added to the results "
                                                                  "(repeatable)")
    ap.add_argument("--resume", action="store_true", help="with --workdir: keep the stages the results' .json "
                                                          "already holds (each is timed on its own) and run the rest")
    ap.add_argument("--ws", help=argparse.SUPPRESS)
    ap.add_argument("mode", nargs="?", default="run", choices=["run", "_fold"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mode == "_fold":
        fold_child(args)
        return
    if args.quick:
        args.subjects, args.epochs = args.subjects or 1, 1
    stem = args.out or REPO / "bench" / "results" / ("composite_scale_quick" if args.quick else "composite_scale")
    if args.report_only:
        rep = json.loads(stem.with_suffix(".json").read_text())
        if args.note:
            rep["notes"] = [*rep.get("notes", []), *args.note]
            save(rep, stem)
        write_report(rep, stem)
        print(f"wrote {stem.with_suffix('.md')}")
        return
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, REPO), *sys.argv[1:]])
    if os.nice(0) > 0:
        command = f"nice -n {os.nice(0)} {command}"
    source = load_set(args.set, repo=REPO)
    values = source.values
    if args.subjects:
        values = apply_overrides(values, {"synth.subjects": args.subjects})
    work = args.workdir or Path(tempfile.mkdtemp(prefix="composite_scale-"))
    ws = work / "ws"
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rep: dict[str, Any] = {"command": command, "date": now, "machine": machine(), "git": git_state(),
                           "set": source.label, "subs": args.subjects, "complete": False, "notes": []}
    done: dict[str, dict] = {}
    if args.resume:
        if not args.workdir or not stem.with_suffix(".json").is_file():
            raise SystemExit("--resume needs --workdir (the interrupted run's) and the results' .json")
        old = json.loads(stem.with_suffix(".json").read_text())
        done = {st["stage"]: st for st in old.get("stages", [])}
        rep = {**old, "complete": False, "notes": [*old.get("notes", []), (
            f"The run was interrupted after {', '.join(done)} and resumed on {now} (`{command}`) with the same "
            f"workspace: each stage is its own `dvc repro -s`, timed on its own, so the resumed stages' numbers "
            f"are as a single run's; the machine section describes the first start.")]}
    s = Params(values)
    a, fl, mo, tr = (s.values[k] for k in ("align", "flow", "model", "train"))
    rep["settings"] = (f"align {a['output_size']} px, flow {fl['output_size']} px, model {mo['img_size']} px, "
                       f"magnify.variants {s.values['magnify']['variants']}, synth.max_frames "
                       f"{s.values['synth']['max_frames']}, synth.geometry {s.values['synth']['geometry']}; train: "
                       f"batch {tr['batch']}, lr {tr['lr']}, {tr['epochs']} epochs")
    try:
        env = make_workspace(values, ws, copy=not args.resume)
        graph = expanded_stages(ws)
        order = stage_order(graph)
        print(f"workspace {ws}; stages: {', '.join(order)}", flush=True)
        rep["stages"] = stages = []
        for name in order:
            if name in done:
                stages.append(done[name])
                continue
            r = measured([sys.executable, "-m", "dvc", "repro", "-s", name], cwd=ws, env=env,
                         log=work / f"{name.replace('@', '_')}.log")
            if r["rc"]:
                tail = (work / f"{name.replace('@', '_')}.log").read_text().strip().splitlines()[-20:]
                raise SystemExit(f"stage {name} failed (rc {r['rc']}):\n" + "\n".join(tail))
            r = {"stage": name, **r, "out_mib": mib(sum(size_of(ws / o) for o in graph[name]["outs"]))}
            stages.append(r)
            save(rep, stem)  # what is measured so far, should a later step fail
            print(f"  {name}: {r['wall_s']} s wall, {r['cpu_s']} s CPU (others {r['others_cpu_s']} s), "
                  f"{r['max_process_rss_mib']} MiB stage process, {r['peak_tree_rss_mib']} MiB tree, "
                  f"{r['out_mib']} MiB out", flush=True)
        rep["preprocessing_total"] = {
            "wall_s": round(sum(x["wall_s"] for x in stages), 1), "cpu_s": round(sum(x["cpu_s"] for x in stages), 1),
            "others_cpu_s": round(sum(x["others_cpu_s"] for x in stages), 1),
            "max_process_rss_mib": max(x["max_process_rss_mib"] for x in stages),
            "own_process_rss_mib": max(x["own_process_rss_mib"] for x in stages),
            "peak_tree_rss_mib": max(x["peak_tree_rss_mib"] for x in stages),
            "out_mib": round(sum(x["out_mib"] for x in stages), 1)}
        samples = json.loads((ws / "data" / "index.json").read_text())["samples"]
        clips = Counter(x["dataset"] for x in samples)
        rep["clips"] = {d: clips.get(d, 0) for d in CDE_DATASETS}
        rep["subjects"] = len({(x["dataset"], x["subject"]) for x in samples})
        rep["subset"] = sum(clips.values()) != CDE_COUNTS["samples"]
        rep["cache_sizes_mib"] = {p: mib(size_of(ws / p)) for p in
                                  ("data/raw", "data/aligned.h5", "data/flow.h5", "data/cache.h5", "data/magnified.h5",
                                   "data/index.json", ".dvc/cache")}
        if rep["subset"]:
            rep["full_estimate"] = estimate_full(stages, rep["clips"])
        save(rep, stem)
        if not args.no_fold:
            fold = args.fold
            if not fold:  # the smallest subject: the largest training set
                present = Counter(f"{x['dataset']}_{x['subject']}" for x in samples)
                fold = min(present, key=lambda k: (present[k], k))
            print(f"  fold {fold}: {args.epochs} epoch(s)", flush=True)
            log = work / "fold.log"
            # run from the workspace, so the fold imports the code the stages ran (copied when they started)
            script = ws / "bench" / Path(__file__).name
            script.parent.mkdir(exist_ok=True)
            shutil.copy2(__file__, script)
            r = measured([sys.executable, str(script), "_fold", "--ws", str(ws), "--fold", fold,
                          "--epochs", str(args.epochs)], cwd=ws, env=env, log=log)
            text = log.read_text()
            if r["rc"]:
                raise SystemExit(f"fold {fold} failed (rc {r['rc']}):\n{text[-3000:]}")
            rep["fold"] = json.loads(text.strip().splitlines()[-1])
            rep["fold_process"] = r
            rep["fold_extrapolated"] = extrapolate_fold(rep["fold"], int(tr["epochs"]))
            print(f"  fold {fold}: epochs {rep['fold']['epoch_s']} s, predict {rep['fold']['predict_s']} s; "
                  f"extrapolated: {rep['fold_extrapolated']}", flush=True)
        rep["complete"] = True
        save(rep, stem)
        write_report(rep, stem)
        print(f"wrote {stem.with_suffix('.md')} and .json")
    finally:
        if args.keep or args.workdir:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

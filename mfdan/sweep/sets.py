"""The data a sweep trains on: a *set* is a params file, and its caches are what the pipeline's own DVC stages
make of it.

``demo`` is the project's ``params.yaml`` (the generated demo data); ``realface`` is ``params.yaml`` with a
real face the generator was never tuned on (``profiles/set-realface.yaml``: matplotlib's Grace Hopper photo, in
the three native layouts); ``hard`` (``profiles/set-hard.yaml``) adds the confounders of real recordings to two real faces (blinks, head drift and roll,
several AU combinations per class at their own intensities, weaker motion: :mod:`mfdan.synth.generator`),
fixed before any method was scored on it; any other value is the path of a file of dotted overrides of
params.yaml, or of a complete params file (your own datasets' ``data.roots``, say). ``NAME@D`` (``hard@0.5``) is
a named set at difficulty ``D`` in [0, 1] (:func:`at_difficulty`): its confounders' strengths taken that fraction
of the way from the generator's (params.yaml's) value to the set's, so a comparison can be run where the best
method sits between chance and ceiling at a level fixed before scoring.

For each distinct preprocessing (the set's params with the training sections left out, :func:`preprocessing`),
:func:`build_caches` keeps a DVC workspace under ``<store>/sets/``: the project's ``dvc.yaml``, stage scripts
and library (copied, so it runs the code the sweep runs), that params file, and the project's DVC cache, then
runs ``dvc repro pack magnify`` there. DVC decides what to run: a set the project has already built is restored
from its run cache, and an arm that changes ``magnify`` or ``flow`` reruns only what that change reaches.
Workers read ``data/cache.h5`` and ``data/magnified.h5`` from that workspace, so on a cluster the store must be
on a path every worker sees.
"""
from __future__ import annotations

import copy
import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mfdan.core.params import apply_overrides, is_whole, load_overrides, load_yaml, named_profiles



def named_sets(repo: Path) -> dict[str, dict[str, Any]]:
    """The named sets: ``demo`` (params.yaml as it is) and each ``profiles/set-<name>.yaml`` (dotted overrides of
    params.yaml: ``realface``, ``hard``)."""
    return {"demo": {}, **{name: load_overrides(p) for name, p in named_profiles("set", repo / "profiles").items()}}
#: what a fold's training reads beyond the caches (train@'s params) and what only chooses folds: not
#: preprocessing, so arms that differ only here share one set of caches
TRAINING_SECTIONS = ("dropkey", "model", "baselines", "train", "folds")
#: the workspace: copied from the project (code and pipeline definition), each time a sweep starts
COPIED = ("dvc.yaml", "pipeline", "mfdan", ".dvcignore", "models/checkpoints")
TARGETS = ("pack", "magnify")  # the stages whose outputs the folds read (with everything upstream)


@dataclass(frozen=True)
class SetSource:
    """A set before it is built: its label and its params values."""

    label: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Caches:
    """A built set: the workspace, the two files the folds read, and the hashes DVC recorded for them."""

    workspace: Path
    cache: Path
    magnified: Path
    hashes: dict[str, str]   # data/cache.h5, data/magnified.h5, models/magnet/magnet.pth -> md5 (dvc.lock)


#: the generator settings a set's difficulty scales (:func:`at_difficulty`): strengths of the confounders and of
#: the expression's motion; everything else the set sets (its faces, its seed, AU variants) it keeps as it is
DIFFICULTY_KEYS = ("synth.amplitude", "synth.blink_rate", "synth.blink_amplitude", "synth.drift", "synth.roll",
                   "synth.jitter", "synth.noise")


def at_difficulty(base: dict[str, Any], overrides: dict[str, Any], level: float) -> dict[str, Any]:
    """``overrides`` (a named set's) at difficulty ``level``: each of :data:`DIFFICULTY_KEYS` it sets becomes
    ``b + level·(v − b)``, ``b`` its value in ``base`` (params.yaml) or the generator's default (confounders
    off), element by element for ranges; at 1 the set itself, at 0 its faces and seed without its confounders."""
    from mfdan.synth.config import SynthConfig

    if not 0 <= level <= 1:
        raise ValueError(f"difficulty {level}: expected a number from 0 to 1")
    out = dict(overrides)
    for key in DIFFICULTY_KEYS:
        if key not in overrides:
            continue
        name = key.split(".", 1)[1]
        b = base.get("synth", {}).get(name, getattr(SynthConfig(), name))
        v = overrides[key]
        if isinstance(v, (list, tuple)):
            out[key] = [round(x + level * (y - x), 6) for x, y in zip(b, v)]
        else:
            out[key] = round(b + level * (v - b), 6)
    return out


def load_set(spec: str, *, repo: Path) -> SetSource:
    """A named set (:func:`named_sets`), ``NAME@D`` (that set at difficulty D, :func:`at_difficulty`), the path of
    a file of dotted overrides of params.yaml, or a whole params file's path."""
    base = repo / "params.yaml"
    sets = named_sets(repo)
    name, at, level = spec.partition("@")
    if at and name in sets:
        try:
            d = float(level)
        except ValueError:
            raise ValueError(f"--set {spec}: expected NAME@D with D a difficulty from 0 to 1") from None
        if not base.is_file():
            raise ValueError(f"{base}: missing; run mfdan sweep in the project folder")
        values = load_yaml(base)
        return SetSource(f"{name}-d{d:g}", apply_overrides(values, at_difficulty(values, sets[name], d)))
    path = Path(spec)
    if spec not in sets and not path.is_file():
        raise ValueError(f"--set {spec}: neither a named set ({', '.join(sets)}) nor a params file")
    if spec not in sets and is_whole(load_yaml(path)):
        return SetSource(path.stem, load_yaml(path))
    if not base.is_file():
        raise ValueError(f"{base}: missing; run mfdan sweep in the project folder")
    overrides = sets[spec] if spec in sets else load_overrides(path)
    return SetSource(spec if spec in sets else path.stem, apply_overrides(load_yaml(base), overrides))


def preprocessing(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without what only training reads (and without ``data.evaluation``, which chooses folds)."""
    out = {k: copy.deepcopy(v) for k, v in values.items() if k not in TRAINING_SECTIONS}
    if isinstance(out.get("data"), dict):
        out["data"].pop("evaluation", None)
    return out


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def workspace_params(arm_values: dict[str, Any], set_values: dict[str, Any], *, repo: Path) -> dict[str, Any]:
    """The workspace's params.yaml: the arm's preprocessing on the set's training sections, relative dataset
    roots made absolute (against the project folder, as DVC reads them there) unless they lie inside an output
    of the pipeline (``data/raw``, the synth stage's)."""
    values = {k: copy.deepcopy(v) for k, v in set_values.items() if k in TRAINING_SECTIONS}
    values |= preprocessing(arm_values)
    outs = pipeline_outputs(repo)
    roots = (values.get("data") or {}).get("roots") or {}
    for name, root in list(roots.items()):
        if isinstance(root, str) and not Path(root).is_absolute() and not any(
                Path(root) == Path(o) or Path(o) in Path(root).parents for o in outs):
            roots[name] = str((repo / root).resolve())
    return values


def pipeline_outputs(repo: Path) -> list[str]:
    stages = (yaml.safe_load((repo / "dvc.yaml").read_text()) or {}).get("stages", {})
    outs = []
    for st in stages.values():
        body = st.get("do", st)
        for o in body.get("outs", []) or []:
            outs.append(next(iter(o)) if isinstance(o, dict) else o)
    return [o for o in outs if "${" not in o]


def sync_tree(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of ``src`` (files that differ rewritten, files ``src`` lacks removed; caches of
    compiled bytecode skipped), so DVC in the workspace hashes exactly the project's code."""
    if src.is_file():
        if not dst.is_file() or not filecmp.cmp(src, dst, shallow=False):
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.unlink(missing_ok=True)
            try:  # a hard link where the file system allows (a MagNet checkpoint in models/checkpoints: ~100 MB)
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
        return
    want = {p.relative_to(src) for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and not p.name.endswith((".pyc", ".tmp"))}
    if dst.is_dir():
        for p in list(dst.rglob("*")):
            if p.is_file() and p.relative_to(dst) not in want:
                p.unlink()
    for rel in sorted(want):
        sync_tree(src / rel, dst / rel)


def build_caches(arm_values: dict[str, Any], source: SetSource, *, repo: Path, store: Path,
                 log=print) -> Caches:
    """The set's caches under ``arm_values``' preprocessing, built by ``dvc repro pack magnify`` in its
    workspace (see the module docstring). A failed build raises with the end of DVC's output."""
    values = workspace_params(arm_values, source.values, repo=repo)
    key = digest(preprocessing(values))[:12]
    ws = store / "sets" / f"{source.label}-{key}"
    ws.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (repo / name).exists():
            sync_tree(repo / name, ws / name)
    text = yaml.safe_dump(values, sort_keys=False)
    if not (ws / "params.yaml").is_file() or (ws / "params.yaml").read_text() != text:
        (ws / "params.yaml").write_text(text)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=str(ws))  # the stages import the workspace's copy, the code DVC hashed
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def dvc(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=ws, env=env, capture_output=True, text=True)

    if not (ws / ".dvc").is_dir():
        for args in (("init", "--no-scm", "-q"), ("config", "core.analytics", "false")):
            res = dvc(*args)
            if res.returncode:
                raise RuntimeError(f"{ws}: dvc {' '.join(args)} failed:\n{res.stdout}{res.stderr}")
    if (repo / ".dvc").is_dir():  # share the project's cache (and run cache): what it built is restored, not redone
        where = subprocess.run([sys.executable, "-m", "dvc", "cache", "dir"], cwd=repo, env=env, capture_output=True,
                               text=True)
        project_cache = Path(where.stdout.strip()) if where.returncode == 0 and where.stdout.strip() \
            else repo / ".dvc" / "cache"
        dvc("config", "--local", "cache.dir", str(project_cache.resolve()))
    log(f"set {source.label}: dvc repro {' '.join(TARGETS)} in {ws}")
    res = dvc("repro", *TARGETS)
    (ws / "repro.log").write_text(res.stdout + res.stderr)
    if res.returncode:
        tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"set {source.label}: `dvc repro {' '.join(TARGETS)}` failed in {ws} "
                           f"(full output: {ws / 'repro.log'}):\n{tail}")
    ran = [line for line in res.stdout.splitlines() if line.startswith(("Running stage", "Stage '"))]
    for line in ran:
        log(f"  {line}")
    lock = yaml.safe_load((ws / "dvc.lock").read_text())["stages"]
    hashes = {}
    for stage, path in (("pack", "data/cache.h5"), ("magnify", "data/magnified.h5"),
                        ("train_magnet", "models/magnet/magnet.pth")):
        outs = {o["path"]: o for o in lock.get(stage, {}).get("outs", [])}
        if path not in outs:
            raise RuntimeError(f"{ws / 'dvc.lock'}: stage {stage} records no {path}")
        hashes[path] = outs[path]["md5"]
    return Caches(ws, ws / "data" / "cache.h5", ws / "data" / "magnified.h5", hashes)

"""One sweep task: one fold of one arm at one training seed, trained exactly as ``train@<fold>`` trains it
(:func:`mfdan.train.train_stage.train_and_write`), on a Dask worker.

A task's key (:func:`task_key`) is a hash of everything the fold's bytes depend on:

* the training params, resolved with their defaults (``dropkey``, ``model`` with ``model.arch``,
  ``baselines``, ``train`` with the seed and ``train.threads``), and the fold's name;
* the data: the DVC hashes of the cache, the magnified frames and the MagNet weights they were made with;
* what makes bytes differ between workers (:func:`environment`, reported by each worker): the code it runs
  (the ``train`` stage's code deps as ``dvc.yaml`` lists them — tests/test_dvc_deps.py keeps that list exact —
  and this module, hashed in the worker's own installation, as it was when the worker imported it), the
  versions of Python, PyTorch, NumPy, adan-pytorch and scikit-learn, the device type (on CUDA the GPU's name
  and the CUDA / cuDNN versions), the machine type, the CPU capability PyTorch dispatches to
  (``ATEN_CPU_CAPABILITY`` changes it) and the processor (:func:`cpu_identity`: vendor, family, model). The
  capability alone does not say enough: an Intel Xeon and an AMD EPYC that PyTorch both reports as AVX512
  trained MagNet to different bytes from the same data (docs/reproducibility.md), so a result from one is not
  the other's.

* the engine: nothing for the per-fold engine (the keys of stores written before the batched engine stay
  valid); for the fold-batched engine (:mod:`mfdan.train.batched`) its name and the members of the task's group,
  in order — a group's in-network random draws are the group's, so its members' bytes depend on the layout.

Which host of a cluster runs a task is not in the key beyond its processor, nor is how many workers there are,
nor whether the weights are kept. The key is computed by the client
for the environment its workers report, which must also be the client's own code; a worker whose environment
differs refuses the task (:class:`ForeignWorker`) rather than store a result under a foreign key.

A worker process runs one task at a time (a lock: PyTorch's seeds, thread count and deterministic flag belong
to the process), however many threads Dask gave it. A :class:`TaskGroup` (``--engine batched``) is one such
task for the worker: its members, one arm's folds and seeds, trained side by side
(:func:`mfdan.train.batched.train_group`).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

#: the params sections a fold's training reads (besides the caches)
TRAINING_PARAMS = ("dropkey", "model", "baselines", "train")
#: model weights: stored only with ``--weights`` (a paper-profile sweep would keep gigabytes of them)
WEIGHT_FILES = ("model.pt", "model.npz")


@dataclass(frozen=True, repr=False)
class Task:
    """What a worker needs to train one fold: the arm's full params (seed and threads set), the caches'
    paths (on the shared file system) and the key its result is stored under."""

    arm: str
    seed: int
    fold: str
    params: dict[str, Any]
    cache: str
    magnified: str
    key: str
    env: dict[str, Any]
    weights: bool = False
    data: dict[str, str] = field(default_factory=dict)  # the caches' DVC hashes (what the worker's copy is of)
    files: tuple[str, ...] = ()                           # the code the key covers (:func:`code_files`)
    engine: str = "per-fold"                              # per-fold | batched (mfdan.train.batched.ENGINES)
    group: tuple[str, ...] = ()                           # batched: its group's members (:func:`member_id`)

    @property
    def label(self) -> str:
        return f"{self.arm} seed {self.seed} {self.fold}"

    @property
    def members(self) -> tuple["Task", ...]:
        return (self,)

    def __repr__(self) -> str:  # what Dask's logs show of a task: its label, not its whole params
        return f"Task({self.label}, key {self.key[:12]})"


def member_id(seed: int, fold: str) -> str:
    """A group member as the key spells it: ``<fold>@<seed>``."""
    return f"{fold}@{seed}"


@dataclass(frozen=True, repr=False)
class TaskGroup:
    """Tasks of one arm (the same params but ``train.seed``, the same caches) trained as one by the batched
    engine; each member keeps its own key and result."""

    members: tuple[Task, ...]

    def __post_init__(self) -> None:
        first = self.members[0]
        ids = tuple(member_id(t.seed, t.fold) for t in self.members)
        for t in self.members:
            if t.engine != "batched" or t.group != ids or t.arm != first.arm or t.cache != first.cache:
                raise ValueError(f"task {t.label} does not belong to the group of {first.label}")

    @property
    def key(self) -> str:
        return hashlib.sha256("|".join(t.key for t in self.members).encode()).hexdigest()

    @property
    def label(self) -> str:
        seeds = sorted({t.seed for t in self.members})
        return (f"{self.members[0].arm} group of {len(self.members)} (seed{'s' if len(seeds) > 1 else ''} "
                f"{','.join(map(str, seeds))}; {self.members[0].fold} …)")

    @property
    def weights(self) -> bool:
        return self.members[0].weights

    def __repr__(self) -> str:
        return f"TaskGroup({self.label}, key {self.key[:12]})"


class ForeignWorker(RuntimeError):
    """A worker whose environment is not the one the task's key was computed for."""

    def __init__(self, message: str, address: str | None) -> None:
        super().__init__(message)
        self.address = address


#: what a batched group runs beyond the train stage's code (tests/test_batched.py checks the list is whole)
BATCHED_CODE = ("mfdan/train/batched.py", "mfdan/train/stacked_optim.py")


def code_files(repo: Path) -> list[str]:
    """The code a task runs, as paths relative to the project root: the ``train`` stage's code deps (files and
    folders) in dvc.yaml, the batched engine's (:data:`BATCHED_CODE`), and this module."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    deps = [d for d in stages["train"]["do"]["deps"] if d.startswith(("mfdan/", "pipeline/"))]
    return [*deps, *BATCHED_CODE, "mfdan/sweep/tasks.py"]


def code_digest(root: Path, files: list[str]) -> str:
    """SHA-256 over ``files`` (relative to ``root``; folders walked), path and bytes of each, in path order."""
    paths: list[Path] = []
    for d in files:
        p = root / d
        if p.is_dir():
            paths += sorted(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"{p}: the task's code is not there (a worker needs the project's files)")
    h = hashlib.sha256()
    for f in sorted(set(paths)):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def package_root() -> Path:
    """The project folder this process's ``mfdan`` is imported from."""
    import mfdan

    return Path(mfdan.__file__).resolve().parents[1]


_IMPORTED_CODE: dict[tuple[str, ...], str] = {}  # per process: the code digest when the task code was imported


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_identity() -> str:
    """The processor, as the kernels PyTorch, oneDNN and the BLAS pick depend on it: vendor, family and model
    numbers and the model name from ``/proc/cpuinfo`` (Linux; a virtual machine's name may be generic, the
    numbers are not), ``platform.processor()`` elsewhere."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if not line.strip():
                    break  # the first processor's block
                name, _, value = line.partition(":")
                fields[name.strip()] = value.strip()
    except OSError:
        pass
    if "vendor_id" in fields:
        return (f"{fields['vendor_id']} family {fields.get('cpu family', '?')} model {fields.get('model', '?')} "
                f"({fields.get('model name', '?')})")
    return platform.processor() or platform.machine()


def environment(device: str = "auto", files: tuple[str, ...] = ()) -> dict[str, Any]:
    """This process's answer to "would a fold's bytes differ here?" (see the module docstring). With
    ``files`` (:func:`code_files`), the digest of that code as this process imported it: at the first call every
    module among ``files`` is imported (none is left to import later from files changed since), and the
    digest taken then is the answer for the life of the process."""
    import numpy
    import torch

    from mfdan.core.device import resolve_device

    dev = resolve_device(device)
    env: dict[str, Any] = {
        "python": platform.python_version(), "machine": platform.machine(), "torch": torch.__version__,
        "numpy": numpy.__version__, "adan-pytorch": _version("adan-pytorch"), "scikit-learn": _version("scikit-learn"),
        "device": dev.type, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu": cpu_identity(),
        "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "cuda": torch.version.cuda if dev.type == "cuda" else None,
        "cudnn": torch.backends.cudnn.version() if dev.type == "cuda" else None,
    }
    if files:
        if tuple(files) not in _IMPORTED_CODE:
            root = package_root()
            digest = code_digest(root, list(files))
            for name in _modules(root, files):
                importlib.import_module(name)
            _IMPORTED_CODE[tuple(files)] = digest
        env["code"] = _IMPORTED_CODE[tuple(files)]
    return env


def _modules(root: Path, files: tuple[str, ...]) -> list[str]:
    """The importable ``mfdan`` modules among ``files`` (folders walked)."""
    out = []
    for f in files:
        p = root / f
        for py in (sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.suffix == ".py" else []):
            rel = py.relative_to(root).with_suffix("")
            if rel.parts[0] == "mfdan":
                out.append(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
    return out


def worker_memory(device: str = "auto") -> int | None:
    """The memory of what a task group would run on here: the GPU's total on CUDA, else the machine's RAM
    (Linux; the client shares it among the workers of this host); None where unknown."""
    from mfdan.core.device import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(dev).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def training_params(values: dict[str, Any], source: str) -> dict[str, Any]:
    """The training sections of ``values`` with every default filled in (validated: a bad key is an error)."""
    from mfdan.core.params import Params

    resolved = Params(values, source=source).resolved()
    out = {k: resolved[k] for k in TRAINING_PARAMS if k in resolved}
    out["dropkey"] = resolved.get("dropkey", resolved["model"].get("dropkey"))
    return out


def task_key(*, training: dict[str, Any], fold: str, data: dict[str, str], env: dict[str, Any],
             engine: str = "per-fold", group: tuple[str, ...] = ()) -> str:
    """The key of one task (the module docstring): ``env`` carries the code digest; a batched task's key also
    names the engine and its group's members."""
    content: dict[str, Any] = {"training": training, "fold": fold, "data": data, "env": env}
    if engine != "per-fold":
        content["engine"] = {"name": engine, "group": list(group)}
    blob = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


_DATA: dict[str, Any] = {}  # per worker process: the caches, loaded once per content (their DVC hashes)
_ONE_AT_A_TIME = threading.Lock()


def run_task(job: Task | TaskGroup) -> dict[str, Any]:
    """Train ``job`` (on the worker): one fold, or a group's folds side by side. Returns ``{"results": [...]}``,
    one entry per member for the client to store: its key, files (bytes), seconds, parameter count and worker,
    or its key and ``error`` where that member alone failed (a group's other members are stored)."""
    with _ONE_AT_A_TIME:
        return _run(job)


def _run(job: Task | TaskGroup) -> dict[str, Any]:
    from mfdan.core.params import Params
    from mfdan.model.registry import model_config, parameter_count
    from mfdan.train.batched import GroupTask, train_group
    from mfdan.train.fold import train_and_write
    from mfdan.train.fold_data import check_fold, check_sizes, load_data
    from mfdan.train.loop import TrainConfig, write_fold

    first = job.members[0]
    env = environment(first.params.get("train", {}).get("device", "auto"), first.files)
    want = first.env
    if env != want:
        diff = {k: (env.get(k), want.get(k)) for k in sorted(set(env) | set(want)) if env.get(k) != want.get(k)}
        try:
            from distributed import get_worker

            address = get_worker().address
        except (ImportError, ValueError):
            address = None
        raise ForeignWorker(f"worker {address or socket.gethostname()} (pid {os.getpid()}) differs from the "
                            f"environment the task keys were computed for (here, wanted): {diff}; a result "
                            "trained here would not be the keyed one. Run the workers on one kind of machine, "
                            "with the client's code, and restart them after the code changes.", address)
    key = json.dumps(first.data, sort_keys=True) if first.data else f"{first.cache}|{first.magnified}"
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = load_data(Path(first.cache), Path(first.magnified))
    data, cache = _DATA[key], Path(first.cache)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mfdan-sweep-") as tmp:
        if isinstance(job, Task):
            out = Path(tmp) / "fold"
            result, _ = train_and_write(params=Params(first.params, source=f"arm {first.arm}"), fold=first.fold,
                                        data=data, cache=cache, out=out, progress=False)
            return {"results": [{"key": first.key, "files": _files(out, first.weights),
                                 "seconds": time.perf_counter() - t0, "parameters": parameter_count(result.model),
                                 "worker": worker}]}
        params = Params(first.params, source=f"arm {first.arm}")
        for t in job.members:
            check_fold(t.fold, data, cache)
        model_cfg = model_config(params, num_classes=len(data.classes))
        check_sizes(data, model_cfg, cache)
        cfg = params.section("train", TrainConfig)
        results = train_group([GroupTask(t.fold, t.seed) for t in job.members], data, model_cfg, cfg, progress=False)
        entries = []
        for i, (t, r) in enumerate(zip(job.members, results)):
            if isinstance(r, Exception):
                entries.append({"key": t.key, "error": f"{type(r).__name__}: {r}"})
                continue
            out = Path(tmp) / f"fold-{i}"
            write_fold(out, r, data, model_cfg, replace(cfg, seed=t.seed),
                       engine={"name": "batched", "group": list(t.group)})
            entries.append({"key": t.key, "files": _files(out, t.weights), "seconds": r.seconds,
                            "parameters": parameter_count(r.model), "worker": worker,
                            "group_seconds": time.perf_counter() - t0})
        return {"results": entries}


def _files(out: Path, weights: bool) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if weights or p.name not in WEIGHT_FILES}

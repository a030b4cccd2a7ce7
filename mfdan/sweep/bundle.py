"""A sweep's tasks carried to a machine that has neither DVC nor Dask — the GPU machines we borrow now and then
(docs/gpu.md) — and their results brought back into the sweep store.

1. **Export** (here, ``mfdan sweep ... --export DIR``): the sweep is planned as usual (its sets built by DVC),
   then each task is written to ``DIR/bundle.json`` without a key — its arm, seed, fold, params, the training
   params its key covers (each distinct params file and training section once, by digest) and the caches' DVC
   hashes — and each cache is copied once to ``DIR/data/<md5>/``. Exporting more sweeps into the same folder
   adds their tasks (the same task once).
2. **Run** (there, ``python -m mfdan.sweep.bundle run DIR --store S``): the machine's environment, as a sweep
   worker reports it (:func:`mfdan.sweep.tasks.environment`, the code digest included, which must be the
   exporter's), gives each task its key (:func:`mfdan.sweep.tasks.task_key`); the tasks not yet in ``S`` are
   trained by ``--workers`` spawned processes through :func:`mfdan.sweep.tasks.run_task`, exactly as on a Dask
   worker, by the loop a sweep runs on Dask (:func:`mfdan.sweep.driver.drive`, here through
   :class:`PoolExecutor`): stored as they finish, a task that raises run once more, Ctrl-C keeping what is
   stored. ``S/envs.json`` records the environment per device setting. After ``--budget`` seconds no task is
   started; the same command resumes.
3. **Back here**: ``python -m mfdan.sweep.bundle merge S --into sweeps`` copies the results into the sweep store,
   and ``mfdan sweep ... --env S/envs.json`` (or ``bench/compare.py ... --env``) makes the tables from them with
   the keys of that environment, training nothing (an error names what is missing).

A run needs only PyTorch, NumPy, h5py, PyYAML, typer, scikit-learn and the adan-pytorch and click wheels: no DVC,
Dask, dlib, tqdm or OpenCV's contrib modules (tests/test_sweep.py blocks them). One module of the task code
needs dlib only to be imported: :mod:`mfdan.preprocess.dlib_models`, which preloads dlib's models into the
preprocessing stages' process pools and which no fold's training calls. A worker's environment check imports
every module the task key covers, so where dlib is absent that one is registered as the empty module it is
once loaded (:func:`without_dlib`); the code digest, taken from the files' bytes, is unchanged.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import multiprocessing
import shutil
import sys
import types
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from mfdan.sweep.driver import Log, Outcome, SweepInterrupted, by_label, drive
from mfdan.sweep.groups import todo_jobs
from mfdan.sweep.store import INFO, Store, task_folders
from mfdan.sweep.tasks import Task, TaskGroup, code_digest, environment, package_root, run_task, task_key

#: 2: each distinct params file and training section once, in ``shared`` (digest -> value), a task naming their
#: digests (format 1 wrote both whole in every task: 7 kB a task, 18.7 MB for one set's comparison, against a lent
#: machine's 64 MiB in all)
FORMAT = 2
BUNDLE = "bundle.json"
ENVS = "envs.json"
#: which cache file each DVC hash names (the hashes a task key covers: mfdan.sweep.sets.Caches.hashes)
CACHE_FILES = {"cache": "data/cache.h5", "magnified": "data/magnified.h5"}


#: the parts of a task that many tasks share (every fold and seed of an arm): stored once each, by digest
SHARED = ("params", "training")


def _read(path: Path) -> dict[str, Any]:
    """A bundle file as tasks with their params and training sections inline (what export and load work with)."""
    bundle = json.loads(path.read_text())
    if bundle.get("format") != FORMAT:
        raise ValueError(f"{path}: bundle format {bundle.get('format')!r}, this code reads {FORMAT}; export again")
    table = bundle.pop("shared")
    for t in bundle["tasks"]:
        t.update({k: table[t[k]] for k in SHARED})
    return bundle


def _write(path: Path, bundle: dict[str, Any]) -> None:
    """``bundle`` (tasks whole) to ``path``: each distinct params file and training section once, a task per line;
    written under a temporary name and renamed."""
    table: dict[str, Any] = {}
    lines = []
    for t in bundle["tasks"]:
        refs = {}
        for k in SHARED:
            digest = hashlib.sha256(json.dumps(t[k], sort_keys=True).encode()).hexdigest()[:16]
            table[digest] = t[k]
            refs[k] = digest
        lines.append(json.dumps({**t, **refs}, separators=(",", ":")))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text('{"format": %d, "code": %s, "files": %s,\n"shared": %s,\n"tasks": [\n%s\n]}\n' % (
        FORMAT, json.dumps(bundle["code"]), json.dumps(bundle["files"]), json.dumps(table, separators=(",", ":")),
        ",\n".join(lines)))
    tmp.replace(path)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _identity(task: dict[str, Any]) -> str:
    """What makes two exported tasks one (everything their key covers but the environment)."""
    return json.dumps({k: task.get(k) for k in ("training", "fold", "data", "device", "engine", "group")},
                      sort_keys=True, default=str)


def export(entries: list[dict[str, Any]], sources: dict[str, dict[str, Path]], folder: Path, *, code: str,
           files: tuple[str, ...]) -> int:
    """Add ``entries`` (tasks without keys, see :func:`mfdan.sweep.engine.task_entries`) to the bundle in
    ``folder``; ``sources``: DVC md5 -> {"cache" | "magnified": the file}. Returns how many tasks are new."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / BUNDLE
    bundle = {"format": FORMAT, "code": code, "files": list(files), "tasks": []}
    if path.is_file():
        bundle = _read(path)
        if bundle.get("code") != code:
            raise ValueError(f"{path}: holds the tasks of other code (code {str(bundle.get('code'))[:12]}…, this "
                             f"project's {code[:12]}…); export into a new folder")
    for md5, parts in sources.items():
        for kind, src in parts.items():
            dst = folder / "data" / md5 / Path(CACHE_FILES[kind]).name
            if not dst.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp = dst.with_name(dst.name + ".tmp")
                shutil.copyfile(src, tmp)
                tmp.replace(dst)
    have = {_identity(t) for t in bundle["tasks"]}
    new = []
    for e in entries:  # two arms with the same params are one task (as in a sweep)
        if _identity(e) not in have:
            have.add(_identity(e))
            new.append(e)
    bundle["tasks"] += new
    _write(path, bundle)
    return len(new)


def load(folder: Path) -> dict[str, Any]:
    """The bundle in ``folder``, its caches checked against their DVC hashes (a damaged copy is named)."""
    folder = Path(folder)
    path = folder / BUNDLE
    if not path.is_file():
        raise ValueError(f"{path}: no bundle here (made by `mfdan sweep ... --export {folder}`)")
    bundle = _read(path)
    for t in bundle["tasks"]:
        for kind, name in CACHE_FILES.items():
            t[kind] = str((folder / "data" / t["data"][name] / Path(name).name).resolve())
    for f in sorted({t[k] for t in bundle["tasks"] for k in CACHE_FILES}):
        want = Path(f).parent.name
        if not Path(f).is_file():
            raise ValueError(f"{f}: missing from the bundle (carry the whole folder {folder})")
        if _md5(Path(f)) != want:
            raise ValueError(f"{f}: its md5 is not the {want} the bundle was exported with (a damaged copy)")
    return bundle


PRELOAD_ONLY = "mfdan.preprocess.dlib_models"


def without_dlib() -> None:
    """Where dlib is not installed: :data:`PRELOAD_ONLY` registered as an empty module (module docstring)."""
    try:
        absent = importlib.util.find_spec("dlib") is None
    except ModuleNotFoundError:
        absent = True
    if absent:
        sys.modules.setdefault(PRELOAD_ONLY, types.ModuleType(PRELOAD_ONLY))


def run(folder: Path, store_root: Path, *, workers: int = 1, budget_s: float | None = None,
        log: Log | None = None, poll_s: float = 30.0) -> dict[str, Any]:
    """Train the bundle's tasks that ``store_root`` lacks, on this machine (step 2 of the module docstring).
    Returns ``{"tasks", "stored_before", "done", "failed": {label: error}, "left"}``; raises
    :class:`~mfdan.sweep.driver.SweepInterrupted` on Ctrl-C while they train."""
    bundle = load(folder)  # checked before anything is written
    files = tuple(bundle["files"])
    without_dlib()
    code = code_digest(package_root(), list(files))
    if code != bundle["code"]:
        raise ValueError(f"{Path(folder) / BUNDLE}: exported from other code ({bundle['code'][:12]}…) than this "
                         f"copy's ({code[:12]}…): carry the working tree the bundle was exported from")
    store_root = Path(store_root)
    store_root.mkdir(parents=True, exist_ok=True)
    own_log = log is None
    log = log or Log(store_root / "bundle.log")  # plain lines on stderr, time-stamped in the file
    try:
        envs = {d: environment(d, files) for d in sorted({t["device"] for t in bundle["tasks"]})}
        (store_root / ENVS).write_text(json.dumps(envs, indent=1, sort_keys=True) + "\n")
        tasks = []
        for t in bundle["tasks"]:
            engine, group = t.get("engine", "per-fold"), tuple(t.get("group", ()))
            key = task_key(training=t["training"], fold=t["fold"], data=t["data"], env=envs[t["device"]],
                           engine=engine, group=group)
            tasks.append(Task(t["arm"], t["seed"], t["fold"], t["params"], t["cache"], t["magnified"], key,
                              envs[t["device"]], t.get("weights", False), t["data"], files, engine, group))
        store = Store(store_root, report=log)  # a damaged stored task: named, moved aside, trained again
        unique = {t.key: t for t in tasks}
        todo = todo_jobs(list(unique.values()), store, any(t.weights for t in tasks))
        n_todo = sum(len(j.members) for j in todo)
        log(f"bundle: {len(unique)} task(s), {len(unique) - n_todo} already in {store_root}, {n_todo} to train "
            f"({len(todo)} job(s)) on {workers} process(es); environment: {json.dumps(envs, sort_keys=True)}")
        out = Outcome()
        if todo:
            with process_pool(workers) as pool:
                out = drive(PoolExecutor(pool, workers), todo, store, log, poll_s=poll_s, budget_s=budget_s)
        if out.left:
            log(f"bundle: the budget ({budget_s:.0f} s) is spent: {len(out.left)} task(s) left; the same command "
                "resumes")
        return {"tasks": len(unique), "stored_before": len(unique) - len(todo), "done": out.stored,
                "failed": by_label(out.failed, todo), "left": len(out.left)}
    finally:
        if own_log:
            log.close()


class PoolExecutor:
    """:func:`mfdan.sweep.driver.drive` on a process pool: ``workers`` tasks at a time (the next started as
    one finishes, so none starts after the budget); a task's error, a :class:`~mfdan.sweep.tasks.ForeignWorker`
    included (every process here is this machine), is a failure."""

    name = "bundle"
    retires_workers = False

    def __init__(self, pool: ProcessPoolExecutor, workers: int) -> None:
        self.pool, self.capacity = pool, workers

    def submit(self, job: Task | TaskGroup) -> Future:
        return self.pool.submit(run_task, job)

    def wait(self, futures: list[Future], timeout: float) -> set[Future]:
        return wait(futures, timeout=timeout, return_when=FIRST_COMPLETED).done

    def outcome(self, future: Future) -> tuple[dict[str, Any] | None, BaseException | None]:
        if future.cancelled():
            return None, None
        exc = future.exception()
        return (future.result(), None) if exc is None else (None, exc)

    def running(self, futures: list[Future]) -> int:
        return len(futures)

    def retire(self, address: str | None) -> None:  # never called: retires_workers is False
        raise NotImplementedError

    def cancel(self, futures: list[Future]) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes (CUDA is initialised here already: no fork), each :func:`without_dlib`."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=without_dlib)


def merge(src: Path, dst: Path) -> tuple[int, int]:
    """Copy the finished tasks of store ``src`` into store ``dst`` (each written whole, as the client writes
    its own); tasks ``dst`` has are left as they are. Both sides are verified (:mod:`mfdan.sweep.store`): a
    damaged task of ``src`` is named, moved aside there and not copied; a damaged one of ``dst`` is named, moved
    aside and replaced by ``src``'s. Returns (copied, already there)."""
    src_store, dst_store = Store(Path(src)), Store(Path(dst))
    copied = kept = 0
    for folder in task_folders(Path(src)):
        key = folder.name
        info = src_store.get(key)
        if info is None:
            continue
        if dst_store.get(key) is not None:
            kept += 1
            continue
        dst_store.put(info, {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != INFO})
        copied += 1
    return copied, kept


def recorded_environment(path: Path, code: str) -> dict[str, dict[str, Any]]:
    """``envs.json`` of a bundle run: device setting -> environment; its code must be this project's."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--env {path}: no such file (a bundle run writes <store>/{ENVS})")
    envs = json.loads(path.read_text())
    if not isinstance(envs, dict) or not all(isinstance(e, dict) for e in envs.values()):
        raise ValueError(f"--env {path}: not a bundle run's {ENVS} (device setting -> environment)")
    other = {e.get("code") for e in envs.values()} - {code}
    if other:
        raise ValueError(f"--env {path}: recorded for other code ({', '.join(str(c)[:12] for c in other)}…) than "
                         f"this project's ({code[:12]}…)")
    return envs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mfdan.sweep.bundle",
                                 description="Run an exported sweep bundle where there is no DVC or Dask, or merge "
                                             "its results into a sweep store (docs/sweeps.md).")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train the bundle's tasks the store lacks")
    r.add_argument("folder", type=Path, help="the folder `mfdan sweep --export` wrote")
    r.add_argument("--store", type=Path, required=True, help="where results go (tasks/<key>/, envs.json, bundle.log)")
    r.add_argument("--workers", type=int, default=1, help="processes training at once (on a GPU they share it)")
    r.add_argument("--budget", type=float, default=None, help="seconds after which no task is started")
    m = sub.add_parser("merge", help="copy a bundle run's results into a sweep store")
    m.add_argument("store", type=Path, help="the bundle run's --store")
    m.add_argument("--into", type=Path, required=True, help="the sweep store (sweeps/)")
    args = ap.parse_args(argv)
    try:
        if args.command == "run":
            if args.workers < 1:
                raise ValueError("--workers: at least 1")
            res = run(args.folder, args.store, workers=args.workers, budget_s=args.budget)
            print(json.dumps(res, indent=1))
            return 1 if res["failed"] else 3 if res["left"] else 0
        copied, kept = merge(args.store, args.into)
        print(f"{copied} task(s) copied into {args.into}, {kept} already there")
        return 0
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SweepInterrupted as exc:  # while the tasks trained
        print(exc, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted: finished tasks are stored; the same command resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

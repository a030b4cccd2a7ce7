"""A sweep from top to bottom: arms × seeds × folds planned into tasks, the finished ones found in the store,
the rest run on Dask, then every complete (arm, seed) scored and tabled.

1. Each arm's params are the set's with its overrides, checked like any params file.
2. Each distinct preprocessing gets its caches from the pipeline's DVC stages (:mod:`mfdan.sweep.sets`).
3. The folds: every subject of the cache (LOSO) or every dataset (``data.evaluation: hde``), or ``--folds``.
4. The workers report their environment; each task's key is computed for it (:mod:`mfdan.sweep.tasks`).
5. With ``--engine batched`` (``auto``, the default, where the workers train on CUDA) each arm's tasks are
   packed into groups (:mod:`mfdan.sweep.groups`) that a worker trains side by side (:mod:`mfdan.train.batched`);
   a group's members are keyed with its layout.
   Missing tasks are submitted, seed-major (at any moment the finished seeds are complete for every arm), by
   :func:`mfdan.sweep.driver.drive`, the loop a bundle run uses too, through :class:`DaskExecutor`. Dask reruns
   a task whose worker died on another worker; a task that raises is logged with its error and submitted once
   more; after a second failure it is reported (by task key) and the others go on.
6. The client stores each result as it arrives (:mod:`mfdan.sweep.store`); Ctrl-C cancels what is left and
   keeps what is stored. A stored task is verified before reuse (its files' recorded SHA-256): a damaged one is
   named, moved to ``<store>/damaged/`` and trained again.
7. ``runs/<name>/sweep.json`` and ``table.md``: mean ± sd over seeds, per seed, paired differences
   (:mod:`mfdan.sweep.table`); ``runs/<name>/sweep.log``: the plain progress lines.

Where neither DVC nor Dask is installed (a borrowed GPU machine), ``--export DIR`` stops after step 3 and
writes the tasks and their caches to a bundle that :mod:`mfdan.sweep.bundle` trains there; ``--env FILE`` then
does steps 4–7 here from that machine's recorded environment and its results, training nothing.
"""
from __future__ import annotations

import asyncio
import json
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from mfdan.sweep import bundle
from mfdan.sweep.arms import Arm, parse_arms, parse_seeds
from mfdan.sweep.driver import Log, SweepInterrupted, by_label, drive
from mfdan.sweep.groups import DEFAULT_ENGINE, auto_size, groupable, pack, resolve_engine, task_bytes, todo_jobs
from mfdan.sweep.sets import Caches, SetSource, build_caches, digest, load_set, preprocessing
from mfdan.sweep.store import Store
from mfdan.sweep.table import markdown, read_predictions, score
from mfdan.sweep.tasks import (Task, TaskGroup, code_digest, code_files, environment, member_id, run_task, task_key,
                               training_params, worker_memory)


@dataclass
class SweepConfig:
    """What ``mfdan sweep`` was asked (one field per option)."""

    set: str = "demo"
    arms: list[str] = field(default_factory=lambda: ["flow_driven"])
    seeds: str = "0"
    folds: list[str] | None = None        #: a subset, for a quick run
    store: Path = Path("sweeps")
    name: str | None = None               #: runs/<name>/ (default: the set's label)
    threads: int = 1                      #: train.threads of every task
    weights: bool = False                 #: keep each fold's model in the store
    workers: int | None = None            #: embedded cluster's worker processes (default: cores // threads)
    scheduler: str | None = None
    cluster: str | None = None
    cluster_config: Path | None = None
    repo: Path = Path(".")
    export: Path | None = None            #: write the tasks to a bundle here instead of running them
    env: Path | None = None               #: a bundle run's envs.json: tables from its results, nothing trained
    engine: str = DEFAULT_ENGINE          #: auto | per-fold | batched (mfdan.sweep.groups.resolve_engine)
    group_size: int = 0                   #: batched: tasks per group; 0 = automatic (mfdan.sweep.groups.auto_size)


@dataclass
class Plan:
    source: SetSource
    arms: list[Arm]
    seeds: list[int]
    folds: dict[str, list[str]]                 # arm -> folds
    evaluation: dict[str, str]                  # arm -> loso | hde
    caches: dict[str, Caches]                   # arm -> its caches
    values: dict[str, dict[str, Any]]           # arm -> params (before seed / threads)
    partial: bool = False


def plan(cfg: SweepConfig, log: Callable[[str], None]) -> Plan:
    """Steps 1–3: arms checked, caches built, folds chosen."""
    from mfdan.core.params import Params
    from mfdan.data.folds import cache_folds
    from mfdan.model.registry import ARCHITECTURES

    repo = cfg.repo.resolve()
    source = load_set(cfg.set, repo=repo)
    arms = parse_arms(cfg.arms, base_dir=repo)
    seeds = parse_seeds(cfg.seeds)
    values: dict[str, dict] = {}
    for arm in arms:
        v = arm.values(source.values)
        checked = Params(v, source=f"arm {arm.name} ({arm.describe()})")
        checked.resolved()  # every section checked, now, not on a worker
        if checked.arch not in ARCHITECTURES:
            raise ValueError(f"arm {arm.name}: model.arch {checked.arch!r} is not an architecture; known: "
                             f"{', '.join(ARCHITECTURES)} (`mfdan models`)")
        values[arm.name] = v
    built: dict[str, Caches] = {}
    caches, folds, evaluation = {}, {}, {}
    for arm in arms:
        k = digest(preprocessing(values[arm.name]))
        if k not in built:
            built[k] = build_caches(values[arm.name], source, repo=repo, store=cfg.store, log=log)
        caches[arm.name] = built[k]
        evaluation[arm.name] = (values[arm.name].get("data") or {}).get("evaluation", "loso")
        folds[arm.name] = cache_folds(caches[arm.name].cache, evaluation[arm.name])
    if cfg.folds:  # a subset: each arm keeps the listed folds it has (LOSO subjects, HDE datasets)
        unknown = [f for f in cfg.folds if not any(f in have for have in folds.values())]
        if unknown:
            known = sorted({f for have in folds.values() for f in have})
            raise ValueError(f"--folds: {unknown} are no arm's folds; the folds: {', '.join(known)}")
        for arm in arms:
            kept = [f for f in folds[arm.name] if f in cfg.folds]
            if not kept:
                raise ValueError(f"--folds: none of the {evaluation[arm.name].upper()} folds of arm {arm.name} "
                                 f"({', '.join(folds[arm.name])})")
            folds[arm.name] = kept
    return Plan(source, arms, seeds, folds, evaluation, caches, values, partial=bool(cfg.folds))


def worker_environment(client, devices: set[str], files: tuple[str, ...], code: str, *,
                       wait_s: float | None = 600, log: Callable[[str], None] = print) -> dict[str, dict]:
    """Step 4: device setting -> the one environment every worker reports for it. An error if they differ, or
    if their code is not ``code`` (the client's). ``wait_s`` None: wait for a first worker as long as it takes
    (batch jobs may queue for hours)."""
    if not client.scheduler_info()["workers"]:
        log("waiting for a first worker" + (f" (up to {wait_s:.0f} s)" if wait_s else " (batch jobs may queue)"))
        client.wait_for_workers(1, timeout=wait_s)
    threads = {w: i["nthreads"] for w, i in client.scheduler_info()["workers"].items() if i["nthreads"] > 1}
    if threads:
        log(f"{len(threads)} worker(s) have more than one thread; each runs one task at a time (start more "
            "worker processes, e.g. `dask worker --nworkers N --nthreads 1` or `processes:` in a cluster file)")
    out = {}
    for device in sorted(devices):
        seen = client.run(environment, device, files)
        kinds = {json.dumps(e, sort_keys=True) for e in seen.values()}
        if len(kinds) > 1:
            rows = "\n".join(f"  {w}: {e}" for w, e in seen.items())
            raise RuntimeError("the workers differ in what makes a fold's bytes differ, so a result would depend "
                               f"on which worker ran it:\n{rows}\nrun the workers on one kind of machine")
        env = next(iter(seen.values()))
        if env.get("code") != code:
            raise RuntimeError(f"the workers run other code than this project's ({env.get('code')} against "
                               f"{code}): install the same commit where they run, and restart workers started "
                               "before the code changed")
        out[device] = env
    return out


def task_entries(cfg: SweepConfig, p: Plan) -> list[dict[str, Any]]:
    """Every (seed, arm, fold), seed-major, before the environment is known: its params (seed and threads
    set), their device setting, the training params its key covers and its caches."""
    from mfdan.core.params import apply_overrides

    out = []
    for seed in p.seeds:
        for arm in p.arms:
            v = apply_overrides(p.values[arm.name], {"train.seed": seed, "train.threads": cfg.threads})
            device = (v.get("train") or {}).get("device", "auto")
            training = training_params(v, f"arm {arm.name}")
            for fold in p.folds[arm.name]:
                out.append({"arm": arm.name, "seed": seed, "fold": fold, "params": v, "device": device,
                            "training": training, "caches": p.caches[arm.name]})
    return out


def fixed_sizes(cfg: SweepConfig, p: Plan, option: str) -> dict[str, int]:
    """Group sizes where no worker is asked (``--export``, ``--env``): the batched engine needs ``--group-size``
    (the same one for the export and for the tables, since the layout is in the keys)."""
    from mfdan.core.params import Params

    if cfg.engine == "per-fold":
        return {}
    if not cfg.group_size:
        raise ValueError(f"{option} with --engine batched needs --group-size N (the group layout is part of the "
                         "task keys; give the export and the tables the same N), or --engine per-fold")
    return {a.name: cfg.group_size if groupable(Params(p.values[a.name])) else 0 for a in p.arms}


def worker_capacity(client, envs: dict[str, dict]) -> tuple[int, int | None]:
    """How many workers the client has and the memory each can use (the least any has): its GPU's where the
    workers train on CUDA (one worker per GPU), else its host's RAM shared by the workers on that host."""
    info = client.scheduler_info()["workers"]
    setting, env = sorted(envs.items())[0]
    gpu = env.get("device") == "cuda"
    per_host: dict[str, int] = {}
    for address, w in info.items():
        per_host[w.get("host", address)] = per_host.get(w.get("host", address), 0) + 1
    shares = [m if gpu else m // per_host.get(info.get(a, {}).get("host", a), 1)
              for a, m in client.run(worker_memory, setting).items() if m]
    return max(1, len(info)), min(shares) if shares else None


def group_sizes(cfg: SweepConfig, p: Plan, *, workers: int, memory: int | None,
                log: Callable[[str], None]) -> dict[str, int]:
    """Arm -> tasks per group (0: not grouped): ``--group-size``, or :func:`mfdan.sweep.groups.auto_size` for
    ``workers`` workers of ``memory`` bytes each; the per-fold engine and arms :func:`groupable` refuses: 0."""
    from mfdan.core.params import Params
    from mfdan.model.registry import model_config
    from mfdan.train.loop import TrainConfig

    if cfg.engine == "per-fold":
        return {a.name: 0 for a in p.arms}
    out = {}
    for arm in p.arms:
        params = Params(p.values[arm.name], source=f"arm {arm.name}")
        if not groupable(params):
            out[arm.name] = 0
            continue
        if cfg.group_size:
            out[arm.name] = cfg.group_size
            continue
        import h5py

        with h5py.File(p.caches[arm.name].cache, "r") as c:
            flow = int(c["flow"].shape[-1])
            classes = len(json.loads(c.attrs["classes"]))
        with h5py.File(p.caches[arm.name].magnified, "r") as m:
            frames = int(m["eval"].shape[1])
        batch = params.section("train", TrainConfig).batch
        per_task = task_bytes(model_config(params, num_classes=classes), batch, frames, flow)
        out[arm.name] = auto_size(len(p.folds[arm.name]) * len(p.seeds), workers, memory, per_task)
        log(f"arm {arm.name}: groups of up to {out[arm.name]} task(s) ({per_task / 2**20:.0f} MiB each by "
            f"estimate; {workers} worker(s){f', {memory / 2**30:.1f} GiB each' if memory else ''})")
    return out


def make_tasks(cfg: SweepConfig, p: Plan, envs: dict[str, dict], files: tuple[str, ...],
               sizes: dict[str, int] | None = None) -> list[Task]:
    """Every (seed, arm, fold), seed-major, with its key for the environment of its device setting; with
    ``sizes`` (arm -> group size, :func:`group_sizes`), batched tasks keyed with their group's members."""
    entries = task_entries(cfg, p)
    group_of: dict[int, tuple[str, ...]] = {}
    for g in pack([e["arm"] for e in entries], sizes or {}):
        ids = tuple(member_id(entries[i]["seed"], entries[i]["fold"]) for i in g)
        group_of.update({i: ids for i in g})
    tasks = []
    for i, e in enumerate(entries):
        c, env = e["caches"], envs[e["device"]]
        engine, group = ("batched", group_of[i]) if i in group_of else ("per-fold", ())
        key = task_key(training=e["training"], fold=e["fold"], data=c.hashes, env=env, engine=engine, group=group)
        tasks.append(Task(e["arm"], e["seed"], e["fold"], e["params"], str(c.cache), str(c.magnified), key, env,
                          cfg.weights, c.hashes, files, engine, group))
    return tasks


def export_bundle(cfg: SweepConfig, p: Plan, files: tuple[str, ...], code: str) -> int:
    """``--export``: the plan's tasks and caches into the bundle folder (:mod:`mfdan.sweep.bundle`)."""
    entries, sources = [], {}
    planned = task_entries(cfg, p)
    group_of: dict[int, list[str]] = {}
    for g in pack([e["arm"] for e in planned], fixed_sizes(cfg, p, "--export")):
        ids = [member_id(planned[i]["seed"], planned[i]["fold"]) for i in g]
        group_of.update({i: ids for i in g})
    for i, e in enumerate(planned):
        c = e.pop("caches")
        sources.setdefault(c.hashes[bundle.CACHE_FILES["cache"]], {})["cache"] = c.cache
        sources.setdefault(c.hashes[bundle.CACHE_FILES["magnified"]], {})["magnified"] = c.magnified
        engine = {"engine": "batched", "group": group_of[i]} if i in group_of else {}
        entries.append(e | {"data": c.hashes, "weights": cfg.weights} | engine)
    return bundle.export(entries, sources, Path(cfg.export), code=code, files=files)


def recorded_envs(cfg: SweepConfig, p: Plan, code: str) -> dict[str, dict]:
    """``--env``: the environments a bundle run recorded, one for every device setting of the plan."""
    envs = bundle.recorded_environment(Path(cfg.env), code)
    devices = {(v.get("train") or {}).get("device", "auto") for v in p.values.values()}
    if devices - set(envs):
        raise ValueError(f"--env {cfg.env}: no environment recorded for device setting(s) "
                         f"{', '.join(sorted(devices - set(envs)))}; it has {', '.join(sorted(envs))}")
    return envs


class DaskExecutor:
    """:func:`mfdan.sweep.driver.drive` on a Dask client: every task submitted at once (Dask queues them), each
    submission under a key of its own; a worker of another environment retired."""

    name = "sweep"
    capacity = None
    retires_workers = True

    def __init__(self, client) -> None:
        self.client = client
        self.submitted = 0

    def submit(self, job: Task | TaskGroup):
        self.submitted += 1  # a Dask key per submission: a key used before would hand back that (failed) future
        kind = "fold" if isinstance(job, Task) else "group"
        return self.client.submit(run_task, job, key=f"{kind}-{job.key[:16]}-{self.submitted}", pure=False)

    def wait(self, futures: list, timeout: float) -> set:
        from distributed import wait
        from distributed.client import CancelledError

        try:
            return wait(futures, timeout=timeout, return_when="FIRST_COMPLETED").done
        except (TimeoutError, asyncio.TimeoutError):  # nothing finished in timeout (wait raises, not returns)
            return set()
        except (asyncio.CancelledError, CancelledError):  # the scheduler lost a future: each one looked at
            return {f for f in futures if f.status in ("cancelled", "error", "finished")}

    def outcome(self, future) -> tuple[dict[str, Any] | None, BaseException | None]:
        if future.status == "finished":
            return future.result(), None
        return None, None if future.status == "cancelled" else future.exception()

    def running(self, futures: list) -> int:
        # a worker may hold more tasks than it runs: it executes one at a time (tasks.run_task's lock)
        return sum(min(len(v), 1) for v in self.client.processing().values())

    def retire(self, address: str | None) -> None:
        if address:
            self.client.retire_workers([address], close_workers=True)

    def cancel(self, futures: list) -> None:
        self.client.cancel(futures)


def execute(client, todo: list[Task | TaskGroup], store: Store, log: Log, *, poll_s: float = 30.0) -> dict[str, str]:
    """Steps 5–6 on ``client`` (:func:`mfdan.sweep.driver.drive`): returns failed task key -> error. A progress
    line at each finished task, and every ``2 × poll_s`` seconds while none finishes."""
    return drive(DaskExecutor(client), todo, store, log, poll_s=poll_s).failed


def summarise(cfg: SweepConfig, p: Plan, tasks: list[Task], store: Store, failed: dict[str, str]) -> dict:
    """Step 7: every (arm, seed) whose folds are all stored, scored; the cost per arm."""
    by = {(t.arm, t.seed, t.fold): t for t in tasks}
    results: dict[str, dict[str, Any]] = {}
    cost: dict[str, dict] = {}
    missing: dict[str, list[int]] = {}
    for arm in p.arms:
        results[arm.name] = {}
        infos = []
        for seed in p.seeds:
            keys = [by[(arm.name, seed, f)].key for f in p.folds[arm.name]]
            got = [store.get(k) for k in keys]
            if any(g is None for g in got):
                missing.setdefault(arm.name, []).append(seed)
                continue
            infos += got
            rows = [r for k in keys for r in read_predictions((store.folder(k) / "predictions.csv").read_bytes())]
            results[arm.name][str(seed)] = score(rows)
        if infos:
            cost[arm.name] = {"parameters": sorted({i["parameters"] for i in infos}),
                              "seconds_per_fold_median": statistics.median(i["seconds"] for i in infos)}
    return {"set": p.source.label, "seeds": p.seeds, "arms": [a.name for a in p.arms],
            "overrides": {a.name: a.describe() for a in p.arms},
            "overrides_dotted": {a.name: a.overrides for a in p.arms},
            "evaluation": p.evaluation, "folds": p.folds, "partial": p.partial, "threads": cfg.threads,
            "results": results, "cost": cost, "missing": missing,
            "failed": by_label(failed, tasks),
            "tasks": {t.label: str(store.folder(t.key)) for t in tasks}}


def run_sweep(cfg: SweepConfig, *, log: Log | None = None) -> dict:
    """The whole sweep (module docstring); returns ``sweep.json``'s content."""
    from mfdan.sweep.clusters import open_client

    cfg = replace(cfg, store=Path(cfg.store).resolve())
    if cfg.threads < 1:
        raise ValueError("--threads: at least 1 (train.threads of every task)")
    store = Store(cfg.store)
    source_label = load_set(cfg.set, repo=cfg.repo.resolve()).label
    run_dir = store.run_folder(cfg.name or source_label)
    log = log or Log()
    log.attach(run_dir / "sweep.log")
    store.report = log  # a damaged task (moved aside, retrained) is a line of the sweep's log
    try:
        p = plan(cfg, log)
        log(f"{p.source.label}: {len(p.arms)} arm(s) × {len(p.seeds)} seed(s) × "
            f"{sorted({len(f) for f in p.folds.values()})} fold(s)")
        files = tuple(code_files(cfg.repo.resolve()))
        code = code_digest(cfg.repo.resolve(), list(files))
        if cfg.export is not None:
            cfg = replace(cfg, engine=resolve_engine(cfg.engine, set()))  # auto: per-fold (the device is unknown)
            n = export_bundle(cfg, p, files, code)
            log(f"exported {n} new task(s) to {cfg.export} (python -m mfdan.sweep.bundle run {cfg.export} ...)")
            return {"set": p.source.label, "exported": str(cfg.export), "new_tasks": n}
        if cfg.env is not None:  # trained elsewhere: that machine's keys, nothing to train here
            envs = recorded_envs(cfg, p, code)
            cfg = replace(cfg, engine=resolve_engine(cfg.engine, set()))  # auto: per-fold, as --export
            tasks = make_tasks(cfg, p, envs, files, fixed_sizes(cfg, p, "--env"))
            todo = [t for t in tasks if not store.has(t.key, weights=cfg.weights)]
            if todo:
                raise ValueError(f"{len(todo)} of {len(tasks)} task(s) (the first: {todo[0].label}) are not in "
                                 f"{cfg.store} for the environment in {cfg.env}: train them there "
                                 "(python -m mfdan.sweep.bundle run) and merge the results")
            log(f"{len(tasks)} task(s) in {cfg.store} for the environment in {cfg.env}: "
                f"{', '.join(sorted({json.dumps(e, sort_keys=True) for e in envs.values()}))}")
            failed: dict[str, str] = {}
        else:
            with open_client(scheduler=cfg.scheduler, cluster=cfg.cluster, cluster_config=cfg.cluster_config,
                             workers=cfg.workers, threads=cfg.threads, log=log) as client:
                devices = {(v.get("train") or {}).get("device", "auto") for v in p.values.values()}
                envs = worker_environment(client, devices, files, code, wait_s=None if cfg.cluster else 600,
                                          log=log)
                cfg = replace(cfg, engine=resolve_engine(cfg.engine, {e["device"] for e in envs.values()}))
                workers, memory = worker_capacity(client, envs)
                tasks = make_tasks(cfg, p, envs, files, group_sizes(cfg, p, workers=workers, memory=memory, log=log))
                todo = todo_jobs(tasks, store, cfg.weights)
                n_todo = sum(len(j.members) for j in todo)
                log(f"{len(tasks) - n_todo} task(s) already in {cfg.store}, {n_todo} to train ({len(todo)} job(s), "
                    f"engine {cfg.engine}); workers: "
                    f"{', '.join(sorted({json.dumps(e, sort_keys=True) for e in envs.values()}))}")
                failed = execute(client, todo, store, log) if todo else {}
        result = summarise(cfg, p, tasks, store, failed)
        (run_dir / "sweep.json").write_text(json.dumps(result, indent=1) + "\n")
        (run_dir / "table.md").write_text(markdown(result) + "\n")
        log(f"wrote {run_dir / 'table.md'} and sweep.json")
        return result
    except KeyboardInterrupt:  # outside the task loop (building a set, starting workers): nothing half-written
        raise SweepInterrupted("interrupted before the tasks ran; the same command resumes") from None
    finally:
        log.close()

"""Where a sweep's tasks run: a Dask client on one of three kinds of cluster.

* default: an embedded ``distributed.LocalCluster`` of worker processes, one task at a time each. On a CPU
  machine as many workers as cores divided by ``--threads`` (or ``--workers``); on a machine with GPUs one
  worker per GPU, through dask-cuda's ``LocalCUDACluster`` when it is installed (without it, one worker).
* ``--scheduler tcp://HOST:PORT``: a running Dask scheduler and whatever workers joined it
  (``dask scheduler``; ``dask worker tcp://HOST:PORT --nworkers 4 --nthreads 1`` on each machine).
* ``--cluster slurm|pbs|sge|lsf --cluster-config FILE``: dask-jobqueue submits jobs that start workers. The
  cluster file belongs to the machine, not to the experiment (it is not in the tracked params and not in a
  task's key): the keyword arguments of the jobqueue class (``cores``, ``processes``, ``memory``, ``walltime``,
  ``queue`` — SLURM's partition —, ``account``, ``job_script_prologue``, ``job_extra_directives`` ...), plus
  ``jobs`` (how many jobs to start; default 1) and ``gpus`` (GPUs per job, written as the scheduler's own
  directive, :data:`GPU_DIRECTIVES`). :func:`job_script` prints the script a job would run.

Every worker must import this ``mfdan`` and read the store's path: on a cluster, install the project on a
shared file system and put ``--store`` there.

Dask's nanny starts each worker process with ``MALLOC_TRIM_THRESHOLD_=65536`` (its config
``distributed.nanny.pre-spawn-environ``): glibc then hands freed memory back after every step, and since that
variable counts as the user's choice, :func:`mfdan.core.device.keep_freed_memory` leaves it alone. Folds ran
1.8× slower for it (an OFF-ApexNet fold, 200 epochs, 7.8 s against 14.0 s, docs/sweeps.md), with the same bytes.
The workers this module starts (:data:`NANNY_ENVIRON`) are spawned without it; workers started by hand
(``--scheduler``) or by a batch system read their own Dask config: set
``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null`` there (``~/.config/dask/mfdan.yaml``).
"""
from __future__ import annotations

import inspect
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from mfdan.core.params import load_yaml

KINDS = ("slurm", "pbs", "sge", "lsf")
#: Dask config while this module starts workers: no ``MALLOC_TRIM_THRESHOLD_`` from Dask's nanny (a value the user
#: exported is still inherited)
NANNY_ENVIRON = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
#: ``gpus: N`` in a cluster file, per scheduler (a site that spells it otherwise uses job_extra_directives)
GPU_DIRECTIVES = {"slurm": "--gres=gpu:{n}", "pbs": "-l ngpus={n}", "sge": "-l gpu={n}", "lsf": '-gpu "num={n}"'}
OWN_KEYS = ("jobs", "gpus")


def jobqueue_class(kind: str):
    import dask_jobqueue

    return {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster,
            "sge": dask_jobqueue.SGECluster, "lsf": dask_jobqueue.LSFCluster}[kind]


def _accepted(cls) -> set[str]:
    names: set[str] = set()
    for c in (*cls.__mro__, *cls.job_cls.__mro__):
        init = c.__dict__.get("__init__")
        if init is not None:
            names |= {p for p in inspect.signature(init).parameters if p not in ("self", "scheduler", "name")}
    return names - {"base_class_kwargs", "job_kwargs", "kwargs", "job_cls", "loop", "asynchronous", "n_workers"}


def cluster_options(kind: str, path: Path | None) -> tuple[dict[str, Any], int]:
    """The jobqueue class's keyword arguments from cluster file ``path`` (checked: an unknown key is an error
    naming the file), and the number of jobs to start."""
    if kind not in KINDS:
        raise ValueError(f"--cluster {kind}: one of {', '.join(KINDS)}")
    if path is not None and not Path(path).is_file():
        raise ValueError(f"{path}: --cluster-config file not found")
    raw = load_yaml(path) if path is not None else {}
    cls = jobqueue_class(kind)
    accepted = _accepted(cls)
    unknown = sorted(set(raw) - accepted - set(OWN_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown} for a {kind} cluster; known: "
                         f"{', '.join(sorted(accepted | set(OWN_KEYS)))}")
    opts = {k: v for k, v in raw.items() if k not in OWN_KEYS}
    jobs = raw.get("jobs", 1)
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"{path}: jobs: expected a whole number >= 1, got {jobs!r}")
    gpus = raw.get("gpus", 0)
    if not isinstance(gpus, int) or gpus < 0:
        raise ValueError(f"{path}: gpus: expected a whole number >= 0, got {gpus!r}")
    if gpus:
        opts["job_extra_directives"] = [*opts.get("job_extra_directives", []), GPU_DIRECTIVES[kind].format(n=gpus)]
    for need in ("cores", "memory"):
        if need not in opts:
            raise ValueError(f"{path or '--cluster-config'}: a {kind} cluster needs `{need}` (per job)")
    from dask.utils import parse_bytes

    try:
        parse_bytes(str(opts["memory"]))
    except (ValueError, TypeError):
        raise ValueError(f"{path}: memory: {opts['memory']!r} is not an amount of memory (16GB, 4000MiB ...)") from None
    if not isinstance(opts["cores"], int) or isinstance(opts["cores"], bool) or opts["cores"] < 1:
        raise ValueError(f"{path}: cores: expected a whole number >= 1, got {opts['cores']!r}")
    opts.setdefault("processes", 1)
    # the scheduler runs in the client; its web port must not clash with another's on a shared login node
    opts["scheduler_options"] = {"dashboard_address": ":0", **opts.get("scheduler_options", {})}
    return opts, jobs


def check_scheduler(address: str, timeout_s: float = 5.0) -> None:
    """A ``--scheduler`` address checked before any work (sets are built first otherwise, minutes on a new
    clone): ``tcp://HOST:PORT`` (or ``tls://``), and something listening there within ``timeout_s``."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        raise ValueError(f"--scheduler {address}: not a Dask scheduler address (tcp://HOST:PORT)")
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        raise ValueError(f"--scheduler {address}: nothing answers there within {timeout_s:g} s ({exc}); is "
                         "`dask scheduler` running?") from None


def job_script(kind: str, path: Path | None) -> str:
    """The batch script a job of this cluster file would submit (nothing is submitted)."""
    opts, _ = cluster_options(kind, path)
    cluster = jobqueue_class(kind)(**opts)
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def local_workers(threads: int, workers: int | None) -> tuple[int, bool]:
    """(workers, on GPUs) for the embedded cluster."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if workers is not None:
        return workers, gpus > 0
    if gpus:
        return gpus, True
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, threads)), False


@contextmanager
def open_client(*, scheduler: str | None = None, cluster: str | None = None, cluster_config: Path | None = None,
                workers: int | None = None, threads: int = 1, log=print) -> Iterator[Any]:
    """A ``distributed.Client`` for the chosen cluster, closed (and the cluster shut down) on exit."""
    import dask
    from distributed import Client

    if scheduler and cluster:
        raise ValueError("--scheduler and --cluster: give one (a running scheduler, or a cluster to start)")
    if scheduler:
        client = Client(scheduler, timeout="30s")
        log(f"scheduler {scheduler}: {len(client.scheduler_info()['workers'])} workers")
        try:
            yield client
        finally:
            client.close()
        return
    with dask.config.set(NANNY_ENVIRON):
        cl, client = _start(cluster=cluster, cluster_config=cluster_config, workers=workers, threads=threads, log=log)
    try:
        yield client
    finally:
        client.close()
        cl.close()


def _start(*, cluster: str | None, cluster_config: Path | None, workers: int | None, threads: int, log) -> tuple[Any, Any]:
    """The cluster :func:`open_client` starts (a batch system's or the embedded one) and its client."""
    from distributed import Client, LocalCluster

    if cluster:
        opts, jobs = cluster_options(cluster, cluster_config)
        cl = jobqueue_class(cluster)(**opts)
        # adaptive with a fixed size: a job that ends (its walltime, a node failure) is replaced
        cl.adapt(minimum_jobs=jobs, maximum_jobs=jobs)
        log(f"{cluster}: {jobs} job(s) submitted, {opts.get('processes', 1)} worker(s) each")
    else:
        n, gpu = local_workers(threads, workers)
        if gpu and workers is None:
            try:
                from dask_cuda import LocalCUDACluster
            except ImportError:
                n = 1
                cl = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.CRITICAL)
                log("local: 1 worker (GPUs present; install dask-cuda for one worker per GPU)")
            else:
                cl = LocalCUDACluster(threads_per_worker=1, dashboard_address=":0", silence_logs=logging.CRITICAL)
                log(f"local: LocalCUDACluster, one worker per GPU ({n})")
        else:
            cl = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                              silence_logs=logging.CRITICAL)  # a task's error is reported by the sweep's log
            log(f"local: {n} worker process(es), one task each at a time, {threads} torch thread(s) per task")
    try:
        return cl, Client(cl)
    except BaseException:
        cl.close()  # no batch jobs or worker processes left behind
        raise

"""The one loop that runs a sweep's tasks, whatever runs them: Dask workers (:func:`mfdan.sweep.engine.execute`)
or a bundle run's spawned processes (:mod:`mfdan.sweep.bundle`).

:func:`drive` starts the tasks in their order (seed-major), at most ``executor.capacity`` at a time, and none
after ``budget_s``; it stores each result as it arrives (:mod:`mfdan.sweep.store`, ``task.json`` from
:func:`result_info`); a task that raises is logged with its error and started once more (before the tasks not
yet started), after a second failure it is reported and the others go on; a task refused by a worker that is
not its environment (:class:`mfdan.sweep.tasks.ForeignWorker`) is started again, uncounted, where the executor
retires that worker. Progress goes through :class:`Log`: a line at each finished task and every ``2 × poll_s``
seconds while none finishes. Ctrl-C cancels what is left and raises :class:`SweepInterrupted`; every stored
result stays. Failures are keyed by task key; :func:`by_label` names them for display.

A job is a :class:`~mfdan.sweep.tasks.Task` or a :class:`~mfdan.sweep.tasks.TaskGroup` (``--engine batched``):
what a worker runs at once. Progress counts folds (a group's members); a group that raises is retried as a
whole; a member that failed alone inside its group (its loss went non-finite) is reported, not retried (it
would fail the same way), and its group's other members are stored.

An executor is a thin adapter (:class:`Executor`): how to submit a task, wait for the first finished ones, read
a finished one's outcome, count the running ones and cancel. This module imports no DVC, Dask or tqdm (a bundle
run has none; :class:`Log` draws a bar only where tqdm is installed).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

from mfdan.core.errors import Interrupted
from mfdan.sweep.store import Store
from mfdan.sweep.tasks import ForeignWorker, Task, TaskGroup


class SweepInterrupted(Interrupted):
    """Ctrl-C: the run stopped; stored results are kept (the message says how many, and how to resume)."""


class Log:
    """Plain progress lines into a log file (``runs/<name>/sweep.log``, a bundle run's ``bundle.log``) and, when
    stderr is not a terminal, onto stderr; in a terminal a tqdm bar instead (plain lines where tqdm is absent)."""

    def __init__(self, path: Path | None = None) -> None:
        self.fh = None if path is None else path.open("a")
        self.bar = None

    def attach(self, path: Path) -> None:
        self.fh = path.open("a")

    def __call__(self, line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        if self.fh is not None:
            self.fh.write(stamped + "\n")
            self.fh.flush()
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def progress(self, line: str, done: int, total: int, postfix: dict, *, desc: str = "sweep") -> None:
        """A progress step: the bar moves in a terminal; elsewhere (and always in the log) a plain line."""
        if self.bar is None and sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:  # a bundle run's machine: plain lines
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc=desc, unit="fold", file=sys.stderr)
        if self.bar is not None:
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(done - self.bar.n)
            if self.fh is not None:
                self.fh.write(f"{time.strftime('%H:%M:%S')} {line}\n")
                self.fh.flush()
        else:
            self(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.fh is not None:
            self.fh.close()


class Executor(Protocol):
    """What :func:`drive` needs of whatever runs the tasks (a future is the executor's own kind)."""

    name: str                 #: the progress lines' prefix ("sweep", "bundle")
    capacity: int | None      #: tasks started at once (None: all; the executor queues them itself)
    retires_workers: bool     #: a :class:`ForeignWorker` is retired and its task runs elsewhere (else: a failure)

    def submit(self, job: Task | TaskGroup) -> Any: ...

    def wait(self, futures: list[Any], timeout: float) -> set[Any]:
        """The finished ones among ``futures``, once one is or ``timeout`` seconds have passed (then maybe none)."""

    def outcome(self, future: Any) -> tuple[dict[str, Any] | None, BaseException | None]:
        """A finished future's (what :func:`mfdan.sweep.tasks.run_task` returned, None) or (None, its error);
        (None, None) where the executor cancelled it."""

    def running(self, futures: list[Any]) -> int:
        """How many of ``futures`` are executing now."""

    def retire(self, address: str | None) -> None:
        """Stop sending tasks to the worker at ``address`` (only where ``retires_workers``)."""

    def cancel(self, futures: list[Any]) -> None:
        """Ctrl-C: drop ``futures``; what has been stored stays."""


@dataclass
class Outcome:
    """What :func:`drive` did: ``stored`` tasks trained and stored, ``failed`` task key -> error (after the
    second failure), ``left`` the tasks not started because the budget was spent."""

    stored: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    left: list[Task] = field(default_factory=list)


def result_info(task: Task, out: dict[str, Any], attempts: int) -> dict[str, Any]:
    """The ``task.json`` of a finished task (:mod:`mfdan.sweep.store`), from its entry of what ``run_task``
    returned; a batched task also records its engine, group and the group's wall time."""
    info = {"key": task.key, "arm": task.arm, "seed": task.seed, "fold": task.fold, "seconds": out["seconds"],
            "parameters": out["parameters"], "worker": out["worker"], "env": task.env, "attempts": attempts}
    if task.engine != "per-fold":
        info["engine"] = {"name": task.engine, "group": list(task.group), "group_seconds": out.get("group_seconds")}
    return info


def by_label(failed: dict[str, str], jobs: Iterable[Task | TaskGroup]) -> dict[str, str]:
    """``failed`` (task key -> error) for display: each task's label -> its error, in the tasks' order."""
    return {t.label: failed[t.key] for j in jobs for t in j.members if t.key in failed}


def _error(exc: BaseException | None) -> str:
    return "cancelled by the scheduler" if exc is None else f"{type(exc).__name__}: {exc}"


def drive(executor: Executor, todo: list[Task | TaskGroup], store: Store, log: Log, *, poll_s: float = 30.0,
          budget_s: float | None = None) -> Outcome:
    """Run ``todo`` (jobs) on ``executor``, storing each result as it arrives (the module docstring). Two jobs
    with one key are one job. Raises :class:`SweepInterrupted` on Ctrl-C."""
    unique = list({t.key: t for t in todo}.values())  # two arms with the same params are one task
    pending = list(reversed(unique))  # popped from the end: their order; a retry is appended, so it goes next
    attempts: dict[str, int] = {}
    futures: dict[Any, Task | TaskGroup] = {}
    out = Outcome()
    name, total, done = executor.name, sum(len(j.members) for j in unique), 0
    t0 = time.perf_counter()

    def start() -> None:
        while pending and (executor.capacity is None or len(futures) < executor.capacity) \
                and (budget_s is None or time.perf_counter() - t0 < budget_s):
            task = pending.pop()
            attempts[task.key] = attempts.get(task.key, 0) + 1
            futures[executor.submit(task)] = task

    try:
        start()
        log.progress(f"{name}: 0/{total} done, {len(futures)} submitted", 0, total, {"running": 0, "failed": 0},
                     desc=name)
        last_line = time.perf_counter()
        while futures:
            finished = executor.wait(list(futures), poll_s)
            for fut in finished:
                task = futures.pop(fut)
                result, exc = executor.outcome(fut)
                if result is not None:
                    members = {t.key: t for t in task.members}
                    for entry in result["results"]:
                        member = members[entry["key"]]
                        done += 1
                        if "error" in entry:  # this member alone failed (its group's others are stored)
                            log(f"task {member.label} failed: {entry['error']}")
                            out.failed[member.key] = entry["error"]
                            continue
                        if not store.has(member.key, weights=member.weights):  # a group reruns whole
                            store.put(result_info(member, entry, attempts[task.key]), entry["files"])
                        out.stored += 1
                    continue
                if isinstance(exc, ForeignWorker) and executor.retires_workers:
                    # not the task's fault: that worker goes, the task stays (its attempt not counted)
                    log(f"task {task.label}: {exc}; retiring that worker")
                    executor.retire(exc.address)
                    attempts[task.key] -= 1
                    pending.append(task)
                    continue
                error = _error(exc)
                if attempts[task.key] < 2 and not isinstance(exc, KeyboardInterrupt):  # Ctrl-C there: no rerun
                    log(f"task {task.label} failed: {error}; submitting it once more")
                    pending.append(task)
                else:
                    log(f"task {task.label} failed again: {error}")
                    for member in task.members:
                        out.failed[member.key] = error
                    done += len(task.members)
            start()
            now = time.perf_counter()
            if finished or now - last_line > 2 * poll_s:
                last_line = now
                running = executor.running(list(futures))
                elapsed = now - t0
                left = f"{elapsed / done * (total - done) / 60:.1f} min left" if done else "time left: after the first"
                log.progress(f"{name}: {done}/{total} done, {running} running, {len(out.failed)} failed, "
                             f"{elapsed / 60:.1f} min, {left}", done, total,
                             {"running": running, "failed": len(out.failed), "ok": out.stored}, desc=name)
    except KeyboardInterrupt:
        try:
            executor.cancel(list(futures))
        except Exception:  # noqa: BLE001  (the scheduler may be gone already; what is stored stays)
            pass
        raise SweepInterrupted(f"interrupted: {out.stored} of {total} task(s) finished and stored; "
                               f"{len(futures) + len(pending)} cancelled. The same command resumes.") from None
    out.left = list(reversed(pending))
    return out

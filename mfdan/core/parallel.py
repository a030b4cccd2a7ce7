"""Ordered parallel map over processes with one OpenCV/torch thread each, with progress reporting."""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from mfdan.core.progress import Progress

T = TypeVar("T")
R = TypeVar("R")


def _single_threaded() -> None:
    import cv2

    cv2.setNumThreads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


def worker_count(workers: int) -> int:
    """``workers`` if positive, else the number of usable cores."""
    if workers > 0:
        return workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def imap_ordered(fn: Callable[[T], R], items: Iterable[T], *, workers: int = 0, total: int | None = None,
                 desc: str = "", chunksize: int = 1, unit: str = "clip", enabled: bool = True,
                 preload: tuple[str, ...] = ()) -> Iterator[R]:
    """``fn`` over ``items`` in input order, in ``workers`` processes (1: in this process), with a progress bar.

    Results arrive in order, so the caller can stream them to disk without collecting them; at most
    4 × workers items are in flight. ``preload``: modules the forkserver imports before it forks the workers
    (e.g. ``mfdan.preprocess.dlib_models``), so each worker starts with what they load; it applies when this
    process starts its forkserver, and where one already runs the workers simply load things themselves.
    """
    n = worker_count(workers)
    bar = Progress(total, desc=desc, unit=unit, enabled=enabled)
    if n == 1:
        for item in items:
            yield fn(item)
            bar.update(1)
    else:
        # not "fork": a child forked after the parent ran multi-threaded OpenCV/OpenMP code can deadlock
        ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        if preload and ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(["__main__", *preload])
        it = iter(items)
        with ctx.Pool(n, initializer=_single_threaded) as pool:
            # Pool.imap drains its input eagerly; feeding it windows of 4 tasks per worker keeps memory
            # bounded however many items there are
            while window := list(itertools.islice(it, 4 * n * chunksize)):
                for r in pool.imap(fn, window, chunksize=chunksize):
                    yield r
                    bar.update(1)
    bar.close()

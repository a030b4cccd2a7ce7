"""Progress on long work, visible in a terminal and in a log.

In a terminal, a tqdm bar on stderr. Anywhere else (``dvc repro > log``, CI) bars are off, so plain lines are
printed instead: one every ``every`` steps (default: about every 10 % of ``total``) and one at the end, each
with the step count, elapsed time and the latest values given to :meth:`Progress.update`. No ``\\r``.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def interactive() -> bool:
    return sys.stderr.isatty()


class Progress:
    """``with Progress(total, desc="flow", unit="clip") as bar: ... bar.update(1, loss=0.3)``."""

    def __init__(self, total: int | None, *, desc: str, unit: str = "it", every: int | None = None,
                 enabled: bool = True) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.every = every or max(1, (total or 10) // 10)
        self.enabled = enabled
        self.done = 0
        self.t0 = time.perf_counter()
        self.bar = None
        if enabled and interactive():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)

    def update(self, n: int = 1, **values: float | str) -> None:
        self.done += n
        if not self.enabled:
            return
        shown = {k: (f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in values.items()}
        if self.bar is not None:
            self.bar.update(n)
            if shown:
                self.bar.set_postfix(shown, refresh=False)
        elif self.done % self.every == 0 or self.done == self.total:
            of = f"/{self.total}" if self.total else ""
            extra = "".join(f" {k} {v}" for k, v in shown.items())
            print(f"{self.desc}: {self.done}{of} {self.unit}s, {time.perf_counter() - self.t0:.1f} s{extra}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(items: Iterable[T], *, total: int | None = None, desc: str, unit: str = "it",
             enabled: bool = True) -> Iterator[T]:
    """``items`` with :class:`Progress` reporting."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc=desc, unit=unit, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update(1)

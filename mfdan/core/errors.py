"""The project's errors: bad input (:class:`DatasetError`), numbers that went non-finite
(:class:`NonFiniteError`) and long work stopped by Ctrl-C (:class:`Interrupted`).

Each error names the file (and, for annotation sheets, the row) and says what is wrong,
so a researcher pointing the pipeline at a licensed dataset copy can fix it in one go.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


class Interrupted(Exception):
    """Ctrl-C during long work that kept what it had finished (a sweep's stored folds): the message says what."""


class DatasetError(ValueError):
    """Bad dataset input: ``DatasetError(path, message, row=None)``."""

    def __init__(self, path: str | Path, message: str, *, row: int | None = None) -> None:
        self.path = Path(path)
        self.row = row
        self.message = message
        where = f"{self.path}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # survive pickling across worker processes with path and row intact
        return (_rebuild, (str(self.path), self.message, self.row))


def _rebuild(path: str, message: str, row: int | None) -> DatasetError:
    return DatasetError(path, message, row=row)


class NonFiniteError(ArithmeticError):
    """A weight, output, loss or metric that should be a finite number is NaN or infinite."""


def check_finite(value, what: str) -> None:
    """Raise :class:`NonFiniteError` naming ``what`` unless every number in ``value`` (a float, a NumPy array,
    a torch tensor or a mapping of those) is finite."""
    if isinstance(value, dict):
        for k, v in value.items():
            check_finite(v, f"{what} [{k}]")
        return
    if hasattr(value, "detach"):  # a torch tensor, checked where it lives (no copy of a large CUDA tensor)
        import torch

        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise NonFiniteError(f"{what} is not finite (NaN or infinity)")
        return
    if isinstance(value, (float, int)):
        ok = math.isfinite(value)
    else:
        arr = np.asarray(value)
        ok = not np.issubdtype(arr.dtype, np.floating) or bool(np.isfinite(arr).all())
    if not ok:
        raise NonFiniteError(f"{what} is not finite (NaN or infinity)")

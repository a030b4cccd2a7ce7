"""HDF5 caches (every ``data/*.h5``): deterministic bytes, streamed row by row, written to a temporary file
and renamed.

Every dataset is created with ``track_times=False``, fixed chunks (one sample per chunk) and fixed gzip +
shuffle compression, and rows are written in the index's sample order, so the same inputs give the same
bytes. The file appears under its final name only once complete: an interrupted run leaves nothing that looks
finished. Memory use does not grow with the number of samples: one row is held at a time.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mfdan.core.errors import DatasetError
from mfdan.core.files import temporary_name

STR = h5py.string_dtype("utf-8")
COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True)


class RowWriter:
    """``with RowWriter(path, n, {"onset": ((224, 224, 3), "u1"), "label": ((), "i8"), "id": ((), STR)}) as w:
    w.write(i, onset=..., label=..., id=...)``; ``attrs`` become file attributes."""

    def __init__(self, path: str | Path, n: int, specs: Mapping[str, tuple[tuple[int, ...], Any]],
                 attrs: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.n, self.specs, self.attrs = n, dict(specs), dict(attrs or {})
        self.tmp = temporary_name(self.path)
        self.file: h5py.File | None = None
        self.written = np.zeros(n, dtype=bool)

    def __enter__(self) -> "RowWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.unlink(missing_ok=True)
        self.file = h5py.File(self.tmp, "w", libver="earliest")
        for name, (shape, dtype) in self.specs.items():
            big = dtype is not STR and len(shape) > 0
            self.file.create_dataset(name, shape=(self.n, *shape), dtype=dtype, track_times=False,
                                     chunks=(1, *shape) if big and self.n else None, **(COMPRESSION if big else {}))
        for k, v in self.attrs.items():
            self.file.attrs[k] = v
        return self

    def write(self, i: int, **row: Any) -> None:
        assert self.file is not None
        missing = set(self.specs) - set(row)
        if missing:
            raise KeyError(f"row {i} lacks {sorted(missing)}")
        for name, value in row.items():
            self.file[name][i] = value
        self.written[i] = True

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.file is not None
        self.file.close()
        if exc_type is None and not self.written.all():
            self.tmp.unlink(missing_ok=True)
            raise RuntimeError(f"{self.path}: only {int(self.written.sum())} of {self.n} rows were written")
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


@contextmanager
def open_rows(path: str | Path, keys: tuple[str, ...] = ()) -> Iterator[h5py.File]:
    """Open a cache for reading; a missing, truncated or damaged file, or one without ``keys``, is one
    :class:`DatasetError` naming it (also when the damage shows only while reading inside the block)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "cache file not found; run the stage that writes it (`dvc repro`)")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(path, f"not a readable HDF5 cache (truncated or damaged?): {exc}") from None
    try:
        missing = [k for k in keys if k not in f]
        if missing:
            raise DatasetError(path, f"lacks the datasets {missing}; it was written by another stage or version")
        yield f
    except (OSError, KeyError) as exc:
        raise DatasetError(path, f"cannot read the cache (truncated or damaged?): {exc}") from None
    finally:
        f.close()


def read_strings(ds: h5py.Dataset) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds[()]]

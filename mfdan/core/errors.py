"""One exception type for every bad-input case.

Each error names the file (and, for annotation sheets, the row) and says what is wrong,
so a researcher pointing the pipeline at a licensed dataset copy can fix it in one go.
"""
from __future__ import annotations

from pathlib import Path


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

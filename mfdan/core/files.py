"""File helpers shared by the stages: content hashes and write-to-temporary-then-rename."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def temporary_name(path: str | Path) -> Path:
    """A hidden sibling of ``path`` unique to this process (``.NAME.PID.tmp``), renamed onto ``path`` when
    complete: a run killed half-way leaves nothing under the final name, and two runs never share a temp."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")

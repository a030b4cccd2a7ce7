"""The result store: ``<store>/tasks/<key[:2]>/<key>/`` holds one finished task, the files ``train@<fold>``
writes (``predictions.csv``, ``curve.csv``, ``meta.json``; the weights with ``--weights``) and ``task.json``
(its key, arm, seed, fold, seconds, parameters and the worker that ran it).

Addressed by key alone, so a result is found again whichever sweep, arm name or set label asks for it, and a
changed setting asks for another key: a stale result is never read. Only the client writes, each task through
a temporary folder renamed when complete (:func:`mfdan.core.files.written_folder`): an interrupted sweep leaves
every finished result and no half-written one. ``<store>/runs/<name>/`` holds each sweep's tables and log;
``<store>/sets/`` the sets' DVC workspaces (:mod:`mfdan.sweep.sets`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mfdan.core.files import written_folder

INFO = "task.json"


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, key: str) -> Path:
        return self.root / "tasks" / key[:2] / key

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored task's info, or None when it is absent (or not this key's)."""
        info = self.folder(key) / INFO
        if not info.is_file():
            return None
        data = json.loads(info.read_text())
        return data if data.get("key") == key else None

    def has(self, key: str, *, weights: bool = False) -> bool:
        """Stored under ``key`` (with the model weights, when ``weights``)."""
        if self.get(key) is None:
            return False
        return not weights or any((self.folder(key) / n).is_file() for n in ("model.pt", "model.npz"))

    def put(self, info: dict[str, Any], files: dict[str, bytes]) -> Path:
        """Store one finished task (``info["key"]``): its files, then ``task.json``, renamed into place at once."""
        final = self.folder(info["key"])
        final.parent.mkdir(parents=True, exist_ok=True)
        with written_folder(final) as tmp:
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            (tmp / INFO).write_text(json.dumps(info, indent=1) + "\n")
        return final

    def run_folder(self, name: str) -> Path:
        path = self.root / "runs" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

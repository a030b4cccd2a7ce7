"""The result store: ``<store>/tasks/<key[:2]>/<key>/`` holds one finished task, the files ``train@<fold>``
writes (``predictions.csv``, ``curve.csv``, ``meta.json``; the weights with ``--weights``) and ``task.json``
(its key, arm, seed, fold, seconds, parameters, the worker that ran it, and ``sha256``: the SHA-256 of every
other file of the folder, recorded when it is written).

Addressed by key alone, so a result is found again whichever sweep, arm name or set label asks for it, and a
changed setting asks for another key: a stale result is never read. Only the client writes, each task through
a temporary folder renamed when complete (:func:`mfdan.core.files.written_folder`): an interrupted sweep leaves
every finished result and no half-written one. ``<store>/runs/<name>/`` holds each sweep's tables and log;
``<store>/sets/`` the sets' DVC workspaces (:mod:`mfdan.sweep.sets`).

**Verified before reuse.** :meth:`Store.get` (and so :meth:`Store.has`, a sweep's "already in store", a bundle
run, ``bundle merge``, ``sweep --env`` and the ledger) reads a task only after :func:`check_task`: ``task.json``
is a JSON object naming the folder's key with its ``sha256`` map; the folder holds exactly the files the map
names, each with its recorded hash (the bytes the client wrote). A task that fails is named in one line (folder, file, what is wrong), moved to
``<store>/damaged/<key>-<time>/`` (with ``DAMAGED.txt`` saying why) and treated as absent: it is retrained,
never reused. A task written before hashes were recorded (no ``sha256``) is reused after a format check
(``predictions.csv`` a predictions table, ``meta.json`` a JSON object), with one warning per store (:attr:`Store.unverified` counts them): its key still pins what it was computed
from, and retraining a whole older store unasked would cost hours; what it cannot show is a stray edit that
keeps the format. ``mfdan sweep --verify`` (:func:`verify_store`) checks a whole store without changing it.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mfdan.core.files import sha256 as file_sha256
from mfdan.core.files import written_folder

INFO = "task.json"
HASHES = "sha256"          #: task.json's field: file name -> SHA-256 (hex) of every other file of the folder
DAMAGED = "damaged"        #: <store>/damaged/<key>-<time>/: tasks that failed verification, moved aside
REASON = "DAMAGED.txt"
_HEX = re.compile(r"[0-9a-f]{64}")
_COLUMNS = ("dataset", "label", "pred")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Damage:
    """One task that failed verification: its folder, the file at fault and what is wrong with it."""

    folder: Path
    file: str
    problem: str

    def line(self) -> str:
        return f"damaged task {self.folder}: {self.file} {self.problem}"


def check_predictions(data: bytes) -> str | None:
    """What is wrong with a ``predictions.csv`` (None: a table :func:`mfdan.sweep.table.score` can read)."""
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        return f"is not a CSV file ({exc})"
    if not rows:
        return "is empty"
    header = rows[0]
    classes = [c[len("prob_"):] for c in header if c.startswith("prob_")]
    if not classes or any(c not in header for c in _COLUMNS):
        return f"has no predictions header (columns {', '.join(_COLUMNS)}, prob_<class>...): {header[:8]}"
    if len(rows) < 2:
        return "has no rows"
    label, pred = header.index("label"), header.index("pred")
    for n, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            return f"line {n} has {len(row)} fields, the header {len(header)}"
        if row[label] not in classes or row[pred] not in classes:
            return f"line {n}: label/pred {row[label]!r}/{row[pred]!r} not among the classes {classes}"
    return None


def _check_content(name: str, data: bytes) -> str | None:
    if name == "predictions.csv":
        return check_predictions(data)
    if name == "meta.json":
        try:
            if not isinstance(json.loads(data.decode("utf-8")), dict):
                return "is not a JSON object"
        except (UnicodeDecodeError, ValueError) as exc:
            return f"is not JSON ({exc})"
    return None


def check_task(folder: Path, key: str | None = None) -> tuple[dict[str, Any] | None, Damage | None]:
    """``(task.json's content, None)`` for an intact task folder, ``(None, Damage)`` otherwise; ``key``: the one
    it must name (default: the folder's name). Never raises on the folder's content."""
    folder = Path(folder)
    key = key or folder.name
    try:
        text = (folder / INFO).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, Damage(folder, INFO, "is missing")
    except (OSError, UnicodeDecodeError) as exc:
        return None, Damage(folder, INFO, f"cannot be read ({exc})")
    try:
        info = json.loads(text)
    except ValueError as exc:
        return None, Damage(folder, INFO, f"is not JSON ({exc})")
    if not isinstance(info, dict):
        return None, Damage(folder, INFO, "is not a JSON object")
    if info.get("key") != key:
        return None, Damage(folder, INFO, f"names key {str(info.get('key'))[:16]!r}…, not the folder's {key[:16]}…")
    try:
        present = {p.name for p in folder.iterdir() if p.name != INFO}
    except OSError as exc:
        return None, Damage(folder, "(folder)", f"cannot be listed ({exc})")
    hashes = info.get(HASHES)
    if hashes is not None:
        if not isinstance(hashes, dict) or not hashes or not all(
                isinstance(k, str) and isinstance(v, str) and _HEX.fullmatch(v) for k, v in hashes.items()):
            return None, Damage(folder, INFO, f"has no valid {HASHES!r} map (file name -> SHA-256)")
        for name in sorted(set(hashes) - present):
            return None, Damage(folder, name, "is missing")
        for name in sorted(present - set(hashes)):
            return None, Damage(folder, name, "was not written with the task (not in task.json's sha256)")
        for name in sorted(hashes):
            path = folder / name
            if not path.is_file() or path.is_symlink():
                return None, Damage(folder, name, "is not a regular file")
            try:
                got = file_sha256(path)
            except OSError as exc:
                return None, Damage(folder, name, f"cannot be read ({exc})")
            if got != hashes[name]:
                return None, Damage(folder, name, f"changed since it was stored (sha256 {got[:12]}…, recorded "
                                                  f"{hashes[name][:12]}…)")
        return info, None
    # written before hashes were recorded: what a format check can see
    if "predictions.csv" not in present:
        return None, Damage(folder, "predictions.csv", "is missing")
    for name in ("predictions.csv", "meta.json"):
        if name in present:
            try:
                problem = _check_content(name, (folder / name).read_bytes())
            except OSError as exc:
                problem = f"cannot be read ({exc})"
            if problem:
                return None, Damage(folder, name, problem)
    return info, None


class Store:
    """``report``: where a damaged task's line and the older-store warning go (default: stderr)."""

    def __init__(self, root: Path, *, report: Callable[[str], None] | None = None) -> None:
        self.root = Path(root)
        self.report = report or (lambda line: print(line, file=sys.stderr, flush=True))
        self.damaged: list[Damage] = []      #: found (and moved aside) by this instance
        self.unverified: set[str] = set()    #: keys reused without recorded hashes (written before them)
        self._verified: dict[str, tuple] = {}

    def folder(self, key: str) -> Path:
        return self.root / "tasks" / key[:2] / key

    def _signature(self, folder: Path) -> tuple:
        return tuple(sorted((p.name, s.st_size, s.st_mtime_ns) for p in folder.iterdir() for s in [p.stat()]))

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored task's info, or None when it is absent; a damaged one is reported, moved aside
        (:meth:`set_aside`) and None: the caller retrains it."""
        folder = self.folder(key)
        if not folder.is_dir():
            return None
        try:
            sig = self._signature(folder)
        except OSError:
            sig = None
        if sig is not None and key in self._verified and self._verified[key][0] == sig:
            return dict(self._verified[key][1])  # checked by this instance, unchanged since (sizes, times)
        info, damage = check_task(folder, key)
        if damage is not None:
            self.set_aside(damage)
            return None
        if HASHES not in info and key not in self.unverified:
            if not self.unverified:
                self.report(f"warning: {folder} (and any other task stored before hashes were recorded) has no "
                            f"{HASHES} in task.json: reused after a format check only (docs/sweeps.md)")
            self.unverified.add(key)
        if sig is not None:
            self._verified[key] = (sig, dict(info))
        return info

    def has(self, key: str, *, weights: bool = False) -> bool:
        """Stored under ``key``, intact (with the model weights, when ``weights``)."""
        if self.get(key) is None:
            return False
        return not weights or any((self.folder(key) / n).is_file() for n in ("model.pt", "model.npz"))

    def set_aside(self, damage: Damage) -> Path | None:
        """Move a damaged task to ``<store>/damaged/<key>-<time>/`` with ``DAMAGED.txt``; report it in one line."""
        self.damaged.append(damage)
        self._verified.pop(damage.folder.name, None)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        dest = self.root / DAMAGED / f"{damage.folder.name}-{stamp}"
        n = 1
        while dest.exists():
            n += 1
            dest = self.root / DAMAGED / f"{damage.folder.name}-{stamp}-{n}"
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(damage.folder, dest)
            (dest / REASON).write_text(damage.line() + "\n")
        except FileNotFoundError:  # another process moved it first
            dest = None
        except OSError as exc:
            self.report(f"{damage.line()}; could not move it aside ({exc}): it is retrained in place")
            return None
        self.report(f"{damage.line()}; moved to {dest}, to be retrained" if dest else
                    f"{damage.line()}; to be retrained")
        return dest

    def put(self, info: dict[str, Any], files: dict[str, bytes]) -> Path:
        """Store one finished task (``info["key"]``): its files, then ``task.json`` with their SHA-256
        (``sha256``), renamed into place at once."""
        final = self.folder(info["key"])
        final.parent.mkdir(parents=True, exist_ok=True)
        hashes: dict[str, str] = {}
        with written_folder(final) as tmp:
            for name, data in files.items():
                (tmp / name).write_bytes(data)
                hashes[name] = sha256(data)
            (tmp / INFO).write_text(json.dumps({**info, HASHES: hashes}, indent=1) + "\n")
        self._verified.pop(info["key"], None)
        return final

    def run_folder(self, name: str) -> Path:
        path = self.root / "runs" / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def task_folders(root: Path) -> list[Path]:
    """Every task folder under ``<root>/tasks/`` (hidden temporary folders left out), by key."""
    return sorted((p for p in Path(root).glob("tasks/*/*") if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name)


@dataclass
class Verified:
    """What :func:`verify_store` found: intact tasks, those without hashes (older), and the damaged ones."""

    intact: int
    unverified: int
    damaged: list[Damage]


def verify_store(root: Path, *, report: Callable[[str], None] | None = None) -> Verified:
    """Check every task of the store at ``root`` (:func:`check_task`), changing nothing: one line per damaged
    task (the next sweep moves it aside and retrains it), then a summary line."""
    report = report or print
    root = Path(root)
    if not (root / "tasks").is_dir():
        raise FileNotFoundError(f"{root}: no sweep store here (no tasks/ folder)")
    intact = unverified = 0
    damaged: list[Damage] = []
    for folder in task_folders(root):
        info, damage = check_task(folder)
        if damage is not None:
            damaged.append(damage)
            report(f"{damage.line()}: the next sweep moves it aside and retrains it")
        elif HASHES in info:
            intact += 1
        else:
            unverified += 1
    report(f"{root}: {intact + unverified + len(damaged)} task(s): {intact} intact, {len(damaged)} damaged"
           + (f", {unverified} stored before hashes were recorded (format checked only)" if unverified else ""))
    return Verified(intact, unverified, damaged)

"""A store's results as one file that travels with the project: the fold results behind a recorded table,
kept in git so that a machine that is lost (a VM that restarts, a cluster's scratch that is wiped) loses no
finished fold, and so that anyone can rebuild the table from the folds it was computed from.

``export`` writes every task of a store (:mod:`mfdan.sweep.store`) as one JSON line: its ``task.json`` (key,
arm, seed, fold, seconds, parameters, the environment the key was computed for) and its ``predictions.csv`` and
``meta.json``; never the weights, and ``curve.csv`` only when asked (a 3000-epoch recipe's curve is 100 kB a
fold). Lines are sorted by key and gzipped with a fixed timestamp: the same results give the same bytes.
Each task is verified first (:mod:`mfdan.sweep.store`): a damaged one is reported, moved aside and left out.
A line's ``task.sha256`` is the SHA-256 of each file's text as the line carries it; ``load`` checks it (a line
whose files were edited is refused; lines written before it are loaded unchecked) and the store records the
hashes of what it writes.

``load`` puts into a store the tasks it lacks. A task is found again only by its key, and the key holds the
code digest, the caches' hashes and the environment, processor included (:mod:`mfdan.sweep.tasks`): a sweep on
another kind of machine, or after the code changed, asks for other keys and trains its own folds; a loaded
result is never read in their place. A task the store already holds must carry the same predictions (same key,
same bytes: fold training is deterministic on one machine); a ledger that disagrees is refused before anything
is written, as is a malformed one, with the file and line named.
"""
from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mfdan.core.errors import DatasetError
from mfdan.core.files import write_bytes
from mfdan.sweep.store import HASHES, INFO, Store, sha256, task_folders

#: what a ledger line carries besides task.json (``curve.csv`` too with ``curves=True``)
FILES = ("predictions.csv", "meta.json")
CURVE = "curve.csv"
KEY = re.compile(r"[0-9a-f]{64}")


class LedgerError(DatasetError):
    """A ledger that cannot be loaded: malformed, or disagreeing with the store."""


@dataclass
class Loaded:
    """What :func:`load` did: tasks added, tasks the store already held with the same bytes, and the number of
    tasks per processor (the environment's ``cpu``) in the ledger."""

    added: int = 0
    same: int = 0
    processors: dict[str, int] = field(default_factory=dict)


def tasks(store: Store) -> list[Path]:
    """Every finished task's folder in ``store``, by key."""
    root = store.root / "tasks"
    return sorted((p for p in root.glob("*/*") if (p / INFO).is_file()), key=lambda p: p.name)


def export(store: Store, path: Path, *, curves: bool = False) -> int:
    """Write ``store``'s tasks to ``path`` (``.jsonl.gz``); returns how many."""
    names = (*FILES, CURVE) if curves else FILES
    lines = []
    for folder in task_folders(store.root):
        info = store.get(folder.name)  # verified: a damaged task is reported, moved aside and not exported
        if info is None:
            continue
        files = {n: (folder / n).read_text() for n in names if (folder / n).is_file()}
        info[HASHES] = {n: sha256(t.encode()) for n, t in files.items()}  # of the text the line carries
        lines.append(json.dumps({"task": info, "files": files}, sort_keys=True))
    data = ("\n".join(lines) + "\n").encode() if lines else b""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, gzip.compress(data, mtime=0))
    return len(lines)


def read(path: Path) -> list[dict[str, Any]]:
    """The ledger's lines, each checked: a task with a 64-hex key, arm, seed and fold, and its files (names
    from :data:`FILES` and ``curve.csv``, ``predictions.csv`` required) as text."""
    try:
        text = gzip.decompress(Path(path).read_bytes()).decode()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise LedgerError(path, f"is not a gzipped ledger ({exc})") from None
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LedgerError(path, f"line {n} is not JSON ({exc})") from None
        info, files = (entry.get("task"), entry.get("files")) if isinstance(entry, dict) else (None, None)
        problem = None
        if not isinstance(info, dict) or not KEY.fullmatch(str(info.get("key", ""))):
            problem = "has no task with a 64-hex key"
        elif not all(k in info for k in ("arm", "seed", "fold", "env")):
            problem = "lacks the task's arm, seed, fold or env"
        elif not isinstance(files, dict) or "predictions.csv" not in files:
            problem = "has no predictions.csv"
        elif set(files) - {*FILES, CURVE} or not all(isinstance(v, str) for v in files.values()):
            problem = f"holds files other than {[*FILES, CURVE]} as text: {sorted(files)}"
        elif HASHES in info and not (isinstance(info[HASHES], dict) and set(info[HASHES]) == set(files)):
            problem = f"has a task whose {HASHES} does not name exactly its files {sorted(files)}"
        else:
            changed = [n for n, t in sorted(files.items())
                       if HASHES in info and info[HASHES][n] != sha256(t.encode())]
            if changed:
                problem = f"carries {', '.join(changed)} changed since it was exported (its {HASHES} differs)"
        if problem:
            raise LedgerError(path, f"line {n} {problem}")
        entries.append(entry)
    return entries


def load(path: Path, store: Store) -> Loaded:
    """Add ``path``'s tasks that ``store`` lacks; check the ones it holds (the same predictions, byte for
    byte). Everything is checked before the first task is written."""
    entries = read(path)
    out = Loaded()
    new = []
    for n, entry in enumerate(entries, 1):
        info = entry["task"]
        cpu = str(info["env"].get("cpu", "not recorded"))
        out.processors[cpu] = out.processors.get(cpu, 0) + 1
        if store.get(info["key"]) is None:
            new.append(entry)
            continue
        have = (store.folder(info["key"]) / "predictions.csv").read_text()
        if have != entry["files"]["predictions.csv"]:
            raise LedgerError(path, f"line {n}: task {info['key'][:12]}… ({info['arm']}, seed {info['seed']}, "
                                    f"fold {info['fold']}) has other predictions than {store.folder(info['key'])}; "
                                    "one key, two results: nothing was loaded")
        out.same += 1
    for entry in new:
        store.put(entry["task"], {n: t.encode() for n, t in entry["files"].items()})
        out.added += 1
    return out

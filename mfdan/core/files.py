"""File helpers shared by the stages: content hashes and write-to-temporary-then-rename (files and folders)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_torch(obj, path: str | Path) -> None:
    """``torch.save`` to ``path`` via a temporary name, with bytes that do not depend on that name (torch
    records the file's name inside the archive, so the archive is built in memory under a fixed one)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def write_bytes(path: str | Path, data: bytes) -> None:
    """``data`` written to ``path`` via a temporary name: the file under its final name is always complete."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def written_folder(final: str | Path) -> Iterator[Path]:
    """``with written_folder(out) as tmp: ...write into tmp...``: a fresh temporary sibling folder that replaces
    ``final`` when the block ends cleanly and is removed on any exception (Ctrl-C included), so a folder under
    its final name is always complete."""
    final = Path(final)
    tmp = temporary_name(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)  # stale siblings (a killed run's) are cleaned by temporary_name
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def temporary_name(path: str | Path) -> Path:
    """A hidden sibling of ``path`` unique to this process (``.NAME.PID.tmp``), renamed onto ``path`` when
    complete: a run killed half-way leaves nothing under the final name, and two runs never share a temp. The
    temps a killed run left beside ``path`` (their process gone) are removed here, each said on stderr."""
    path = Path(path)
    clean_stale(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def clean_stale(path: Path) -> list[Path]:
    """Remove ``.NAME.PID.tmp`` siblings of ``path`` whose process no longer runs (left by a run that was killed
    before it could clean up); returns them."""
    import re
    import sys

    gone = []
    if not path.parent.is_dir():
        return gone
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.tmp$")
    for p in path.parent.iterdir():
        m = pattern.match(p.name)
        if not m or int(m.group(1)) == os.getpid() or _running(int(m.group(1))):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        print(f"note: removed {p}, left by an earlier run that was stopped", file=sys.stderr)
        gone.append(p)
    return gone


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    return True


def read_json(path: str | Path, *, what: str, missing: str) -> Any:
    """The JSON document in ``path``, or one :class:`DatasetError` naming the file: ``missing`` (what to do) when
    it is absent, "``what`` is not valid JSON (...)" when it does not parse."""
    from mfdan.core.errors import DatasetError

    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(path, missing) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(path, f"{what} is not valid JSON ({exc})") from None

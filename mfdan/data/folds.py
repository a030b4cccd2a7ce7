"""LOSO folds: one per subject, named ``<dataset>_<subject>`` (a DVC stage key, ``train@casme2_sub02``)."""
from __future__ import annotations

from pathlib import Path

from mfdan.core.rows import open_rows, read_strings


def fold_name(dataset: str, subject: str) -> str:
    """``casme2``, ``sub02`` -> ``casme2_sub02`` (a DVC stage key)."""
    return f"{dataset}_{subject}"


def cache_folds(cache: Path) -> list[str]:
    """The sorted fold names of the subjects in a packed cache (what params.yaml ``folds`` should list)."""
    with open_rows(cache, ("dataset", "subject")) as f:
        return sorted({fold_name(d, s) for d, s in zip(read_strings(f["dataset"]), read_strings(f["subject"]))})


def folds_fix(have: list[str]) -> str:
    """The ``folds:`` block to paste into params.yaml."""
    return "folds:\n" + "".join(f"  - {f}\n" for f in have)

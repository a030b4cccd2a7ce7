"""Folds, one ``train@<fold>`` stage each. ``data.evaluation`` decides what a fold holds out:

* ``loso`` (leave one subject out): one fold per subject, named ``<dataset>_<subject>`` (``train@casme2_sub02``);
* ``hde`` (holdout-database evaluation, MEGC2018, here over the composite's datasets and classes): one fold per
  dataset, named ``<dataset>`` (``train@samm``): train on the other datasets, test on the whole held-out one.

The fold's name alone says what it holds out (:func:`held_out`), so the training stages need no other
setting; ``evaluate`` checks that the fold list matches ``data.evaluation``.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mfdan.core.rows import open_rows, read_strings


def fold_name(dataset: str, subject: str) -> str:
    """``casme2``, ``sub02`` -> ``casme2_sub02`` (a DVC stage key)."""
    return f"{dataset}_{subject}"


def held_out(fold: str, datasets: Sequence[str], subjects: Sequence[str]) -> np.ndarray:
    """Which samples fold ``fold`` holds out (bool per sample): every sample of dataset ``fold`` (HDE) or of
    subject ``fold`` = ``<dataset>_<subject>`` (LOSO). A name that is a dataset is never read as a subject."""
    if fold in set(datasets):
        return np.array([d == fold for d in datasets], dtype=bool)
    return np.array([fold_name(d, s) == fold for d, s in zip(datasets, subjects)], dtype=bool)


def fold_names(datasets: Sequence[str], subjects: Sequence[str], evaluation: str = "loso") -> list[str]:
    """The sorted fold names of these samples under ``evaluation``."""
    if evaluation == "hde":
        return sorted(set(datasets))
    if evaluation != "loso":
        raise ValueError(f"evaluation must be loso or hde, not {evaluation!r}")
    return sorted({fold_name(d, s) for d, s in zip(datasets, subjects)})


def cache_folds(cache: Path, evaluation: str = "loso") -> list[str]:
    """The sorted fold names of a packed cache under ``evaluation`` (what params.yaml ``folds`` should list)."""
    with open_rows(cache, ("dataset", "subject")) as f:
        return fold_names(read_strings(f["dataset"]), read_strings(f["subject"]), evaluation)


def folds_fix(have: list[str]) -> str:
    """The ``folds:`` block to paste into params.yaml."""
    return "folds:\n" + "".join(f"  - {f}\n" for f in have)


def fold_seed(fold: str, seed: int) -> int:
    """The random seed of one fold's training: ``train.seed`` and the fold's name (every fold, its own stream)."""
    return seed * 1_000_003 + zlib.crc32(fold.encode())

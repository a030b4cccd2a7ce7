"""DVC stage ``train@<fold>``: train ``model.arch`` (MFDAN by default) on every sample but <fold>'s and predict
<fold>: one held-out subject (LOSO) or one held-out dataset (HDE), as the fold's name says.

Depends on the cache, the magnified frames and the ``model``, ``baselines``, ``train`` and ``dropkey`` params,
not on the fold list: adding a subject to ``folds`` trains that fold only (``evaluate`` checks the list)."""
from __future__ import annotations

from pathlib import Path

from mfdan.core.params import Params
from mfdan.train.fold import train_and_write
from mfdan.train.fold_data import load_data


def run(*, params: Params, fold: str, cache: Path, magnified: Path, out: Path) -> str:
    data = load_data(cache, magnified)
    result, meta = train_and_write(params=params, fold=fold, data=data, cache=cache, out=out)
    return (f"train@{fold}: {meta['arch']}, {meta['test_samples']} test samples, {meta['epochs_run']} epochs, "
            f"{result.seconds:.1f} s on {meta['device']}")

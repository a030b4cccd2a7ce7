"""DVC stage ``train@<fold>``: train ``model.arch`` (MFDAN by default) on every sample but <fold>'s and predict
<fold>: one held-out subject (LOSO) or one held-out dataset (HDE), as the fold's name says.

Depends on the cache, the magnified frames and the ``model``, ``baselines``, ``train`` and ``dropkey`` params,
not on the fold list: adding a subject to ``folds`` trains that fold only (``evaluate`` checks the list)."""
from __future__ import annotations

from pathlib import Path

from mfdan.core.params import Params
from mfdan.model.registry import model_config
from mfdan.train.fold_data import FoldData, check_fold, check_sizes, load_data
from mfdan.train.loop import FoldResult, TrainConfig, fit_fold, write_fold


def run(*, params: Params, fold: str, cache: Path, magnified: Path, out: Path) -> str:
    data = load_data(cache, magnified)
    result, meta = train_and_write(params=params, fold=fold, data=data, cache=cache, out=out)
    return (f"train@{fold}: {meta['arch']}, {meta['test_samples']} test samples, {meta['epochs_run']} epochs, "
            f"{result.seconds:.1f} s on {meta['device']}")


def train_and_write(*, params: Params, fold: str, data: FoldData, cache: Path, out: Path,
                    progress: bool = True) -> tuple[FoldResult, dict]:
    """The fold's checks, training and outputs (``out/``: :func:`mfdan.train.loop.write_fold`): what
    ``train@<fold>`` does once the caches are loaded, and what a ``mfdan sweep`` task does."""
    check_fold(fold, data, cache)
    model_cfg = model_config(params, num_classes=len(data.classes))
    check_sizes(data, model_cfg, cache)
    cfg = params.section("train", TrainConfig)
    result = fit_fold(fold, data, model_cfg, cfg, progress=progress)
    meta = write_fold(out, result, data, model_cfg, cfg)
    return result, meta

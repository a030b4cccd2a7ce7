"""DVC stage ``train@<fold>``: train MFDAN on every subject but <fold>, predict <fold> (leave one subject out).

Depends on the cache, the magnified frames and the ``model``, ``train`` and ``dropkey`` params, not on the
fold list: adding a subject to ``folds`` trains that fold only (``evaluate`` checks the list)."""
from __future__ import annotations

from pathlib import Path

from mfdan.core.params import Params
from mfdan.model.network import MFDANConfig
from mfdan.train.fold_data import check_fold, check_sizes, load_data
from mfdan.train.loop import TrainConfig, train_fold, write_fold


def run(*, params: Params, fold: str, cache: Path, magnified: Path, out: Path) -> str:
    data = load_data(cache, magnified)
    check_fold(fold, data, cache)
    model_cfg = params.section("model", MFDANConfig, dropkey=params.dropkey, num_classes=len(data.classes))
    check_sizes(data, model_cfg.img_size, cache)
    cfg = params.section("train", TrainConfig)
    result = train_fold(fold, data, model_cfg, cfg)
    meta = write_fold(out, result, data, model_cfg, cfg)
    return (f"train@{fold}: {meta['test_samples']} test samples, {meta['epochs_run']} epochs, "
            f"{result.seconds:.1f} s on {meta['device']}")

"""One fold, start to end: the checks, the training and the outputs — what the ``train@<fold>`` stage
(:mod:`mfdan.train.train_stage`) does once the caches are loaded, and what a ``mfdan sweep`` task does
(:mod:`mfdan.sweep.tasks`)."""
from __future__ import annotations

from pathlib import Path

from mfdan.core.params import Params
from mfdan.model.registry import model_config
from mfdan.train.fold_data import FoldData, check_fold, check_sizes
from mfdan.train.loop import FoldResult, TrainConfig, fit_fold, write_fold


def train_and_write(*, params: Params, fold: str, data: FoldData, cache: Path, out: Path,
                    progress: bool = True) -> tuple[FoldResult, dict]:
    """``fold`` of ``params``'s recipe trained on ``data`` (loaded from ``cache``), its outputs written to
    ``out/`` (:func:`mfdan.train.loop.write_fold`); returns the result and the fold's meta.json."""
    check_fold(fold, data, cache)
    model_cfg = model_config(params, num_classes=len(data.classes))
    check_sizes(data, model_cfg, cache)
    cfg = params.section("train", TrainConfig)
    result = fit_fold(fold, data, model_cfg, cfg, progress=progress)
    meta = write_fold(out, result, data, model_cfg, cfg)
    return result, meta

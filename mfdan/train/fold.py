"""One fold, start to end: the checks, the training (:func:`fit_fold`: which trainer a fold takes) and the
outputs — what the ``train@<fold>`` stage (:mod:`mfdan.train.train_stage`) does once the caches are loaded, and
what a ``mfdan sweep`` task does (:mod:`mfdan.sweep.tasks`)."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from mfdan.core.params import Params
from mfdan.model.registry import arch_of, model_config
from mfdan.train.fold_data import FoldData, check_fold, check_sizes
from mfdan.train.inner_selection import fit_inner
from mfdan.train.loop import FoldResult, TrainConfig, set_threads, split_fold, train_fold, write_fold


def fit_fold(fold: str, data: FoldData, model_cfg: Any, cfg: TrainConfig, *, progress: bool = True,
             inner_unit: str | None = None) -> FoldResult:
    """One fold of ``model_cfg``'s architecture: the training loop for a network
    (:func:`mfdan.train.loop.train_fold`; under budget ``inner`` after its inner selection,
    :func:`mfdan.train.inner_selection.fit_inner`); a hand-crafted method's own fit (its module's ``fit_fold``:
    same split, same single look at the held-out samples; it has no epochs, so every budget fits it the same
    way). ``inner_unit``: under budget ``inner``, what the inner folds hold out (default: the fold's own unit)."""
    arch = arch_of(model_cfg)
    set_threads(cfg.threads)
    if arch.kind == "handcrafted":
        module = importlib.import_module(arch.module)
        return module.fit_fold(fold, data, model_cfg, cfg, split=split_fold, result_type=FoldResult)
    if cfg.budget == "inner":
        return fit_inner(fold, data, model_cfg, cfg, progress=progress, unit=inner_unit)
    return train_fold(fold, data, model_cfg, cfg, progress=progress)


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

"""DVC stage ``train_final``: one model of ``model.arch`` (MFDAN by default) trained on **every** subject of the protocol with exactly the fold
recipe (:func:`mfdan.train.loop.train_fold`: same epochs, same last-epoch rule, same seeding), written with a
model card to ``models/final/`` for ``mfdan predict``.

It holds out no subject, so it has no test score of its own: the card quotes the LOSO UF1/UAR of the same
recipe (``metrics/loso.json``) as the estimate of how it does on a new subject."""
from __future__ import annotations

import json
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.core.files import sha256
from mfdan.core.params import Params
from mfdan.core.rows import open_rows
from mfdan.model.registry import arch_of, model_config
from mfdan.train.model_folder import FINAL, card_sections, write_model_dir
from mfdan.train.fold_data import check_sizes, load_data
from mfdan.train.loop import TrainConfig, fit_fold


def run(*, params: Params, cache: Path, magnified: Path, magnet: Path, loso: Path, out: Path) -> str:
    data = load_data(cache, magnified)
    model_cfg = model_config(params, num_classes=len(data.classes))
    check_sizes(data, model_cfg, cache)
    cfg = params.section("train", TrainConfig)
    try:
        reference = json.loads(loso.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(loso, f"cannot read the LOSO metrics ({exc}); run `dvc repro evaluate`") from None
    with open_rows(magnified, ()) as m, open_rows(cache, ()) as c:
        method, protocol = m.attrs["method"], c.attrs["protocol"]
    result = fit_fold(FINAL, data, model_cfg, cfg)  # FINAL names no subject or dataset: every sample trains
    card = {
        "classes": data.classes,
        "protocol": protocol,
        "trained_on": {"samples": len(data.labels), "subjects": sorted(set(data.folds)),
                       "epochs_run": len(result.curve), "epoch_used": result.epoch_used,
                       "selection": result.selection, "final_train_loss": round(result.curve[-1]["train_loss"], 6) if result.curve else None,
                       "device": result.device},
        "params": card_sections(params, model_cfg, cfg),
        "cache_sha256": sha256(cache),
        "magnified_sha256": sha256(magnified),
        "loso_reference": {k: reference.get(k) for k in ("evaluation", "uf1", "uar", "samples", "folds", "complete",
                                                         "per_dataset")},
    }
    write_model_dir(out, result.model, card, magnet if method == "magnet" else None)
    return (f"train_final: {arch_of(model_cfg).name}, {len(data.labels)} samples of {len(set(data.folds))} subjects, {len(result.curve)} "
            f"epochs, {result.seconds:.1f} s on {result.device} -> {out}")

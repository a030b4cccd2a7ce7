"""The final model's folder as ``train_final`` writes it (``models/final/``: the weights, ``card.json`` and the
MagNet weights it magnified with); the format and its reader: :mod:`mfdan.predict.card_file`,
:func:`mfdan.predict.model_card.load_final`."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mfdan.core.files import sha256, written_folder
from mfdan.core.params import Params
from mfdan.data.config import APEX_KEYS, DataConfig
from mfdan.magnify.magnification import MagnifyConfig
from mfdan.model.registry import arch_of
from mfdan.predict.card_file import CARD, FORMAT, MAGNET
from mfdan.preprocess.alignment import AlignConfig
from mfdan.preprocess.optical_flow import FlowConfig
from mfdan.train.loop import TrainConfig, save_model

FINAL = "final"   #: the pseudo-fold of the all-subject model (no fold has that name: folds are <dataset>_<subject>)


def card_sections(params: Params, model_cfg: Any, train_cfg: TrainConfig) -> dict:
    """The card's ``params``: every section the prediction path uses, as the stages saw it (defaults filled);
    ``arch`` and ``model`` are the architecture and its config (MFDAN's ``model`` or ``baselines.<arch>``)."""
    data = asdict(params.section("data", DataConfig))
    return {"dropkey": params.dropkey, "arch": arch_of(model_cfg).name, "model": asdict(model_cfg),
            "train": asdict(train_cfg),
            "align": asdict(params.section("align", AlignConfig)), "flow": asdict(params.section("flow", FlowConfig)),
            "magnify": asdict(params.section("magnify", MagnifyConfig)), "data": {k: data[k] for k in APEX_KEYS}}


def write_model_dir(out: Path, model: Any, card: dict, magnet: Path | None) -> None:
    """``out/``: the model (``model.pt``, or a hand-crafted method's ``model.npz``: plain arrays), ``card.json``
    (``format`` and ``files`` filled in here) and, when given, a copy of the MagNet weights with their SHA-256 in
    the card; written under a temporary name and renamed when complete."""
    with written_folder(out) as folder:
        weights = save_model(folder, model)
        card = {"format": FORMAT, **card, "files": {"weights": weights, "magnet": MAGNET if magnet else None},
                "magnet_sha256": sha256(magnet) if magnet else ""}
        if magnet:
            shutil.copyfile(magnet, folder / MAGNET)
        (folder / CARD).write_text(json.dumps(card, indent=1) + "\n")

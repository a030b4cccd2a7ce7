"""The learned spotter's folder (``long/models/spotter/``), as the long pipeline's ``train_spotter`` stage writes it
and ``mfdan predict`` reads it: SOFTNet's two networks (``softnet_micro.pt``, ``softnet_macro.pt``: tensors only)
and ``card.json``:

* ``format`` (:data:`FORMAT`), ``spotter`` (``softnet``);
* ``params``: the ``spot`` keys the learned spotter's features and proposals read (:data:`SPOT_KEYS`: face
  tracking, the aligned face, k, the micro / macro rules) and the whole ``softnet`` section, so predict computes
  SOFTNet's inputs and proposals exactly as the pipeline did;
* ``trained_on``: per long-video dataset its recordings, subjects, frames, coded intervals, frame rate and source
  (generated or real: :mod:`mfdan.data.provenance`), and the source of the whole;
* ``features_sha256`` (per ``features@`` file it trained on), ``weights_sha256`` (checked on load), and
  ``loso_reference``: the leave-one-subject-out spotting scores of the same recipe (``spot`` stage,
  ``data/softnet_loso.json``), the estimate of how it spots on a new person.
"""
from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mfdan.core.errors import DatasetError
from mfdan.core.files import read_json, sha256, written_folder
from mfdan.core.params import from_dict
from mfdan.data.provenance import Knowledge, knowledge
from mfdan.spotting.config import KINDS, SoftNetConfig, SpotConfig
from mfdan.spotting.softnet import SOFTNet

FORMAT = "mfdan-spotter/1"
CARD = "card.json"
WEIGHTS = {kind: f"softnet_{kind}.pt" for kind in KINDS}
#: the ``spot`` keys SOFTNet's inputs and proposals depend on (the rest are the training-free spotter's, or
#: settings of the pipeline that do not change what a spotter finds)
SPOT_KEYS = ("detect_every", "detect_width", "upsample", "realign", "face_size", "margin", "k_micro", "k_macro",
             "blocks", "top_fraction", "mask_eyes", "head_motion", "max_micro", "mask_macro", "drop_in_macro")


@dataclass
class LearnedSpotter:
    """A loaded spotter folder: the networks per kind and the configs to compute their inputs with."""

    folder: Path
    card: dict
    models: dict[str, SOFTNet]
    spot: SpotConfig
    net: SoftNetConfig
    knowledge: Knowledge
    name: str = "softnet"


def spot_params(cfg: SpotConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in SPOT_KEYS}


def write_spotter_dir(out: Path, models: dict[str, SOFTNet], card: dict) -> None:
    """``out/``: one state dict per kind and ``card.json`` (``format``, ``spotter``, ``files`` and
    ``weights_sha256`` filled in here), written under a temporary name and renamed when complete."""
    with written_folder(out) as folder:
        hashes = {}
        for kind in KINDS:
            torch.save(models[kind].state_dict(), folder / WEIGHTS[kind])
            hashes[kind] = sha256(folder / WEIGHTS[kind])
        card = {"format": FORMAT, "spotter": "softnet", **card, "files": dict(WEIGHTS), "weights_sha256": hashes}
        (folder / CARD).write_text(json.dumps(card, indent=1) + "\n")


def has_spotter(folder: Path) -> bool:
    return (folder / CARD).is_file()


def load_spotter(folder: str | Path) -> LearnedSpotter:
    """Read and check a spotter folder; every problem is one :class:`DatasetError` naming the file."""
    folder = Path(folder)
    card_path = folder / CARD
    if not card_path.is_file():
        raise DatasetError(folder, "no learned spotter here (card.json is missing; `dvc repro long/dvc.yaml` trains "
                                   "one into long/models/spotter)")
    card = read_json(card_path, what="spotter card", missing="card.json is missing")
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise DatasetError(card_path, f"not an mfdan spotter card (format "
                                      f"{card.get('format') if isinstance(card, dict) else None!r}, expected {FORMAT!r})")
    try:
        params = card["params"]
        spot = from_dict(SpotConfig, {k: params["spot"][k] for k in SPOT_KEYS}, where=f"{card_path}: params.spot")
        net = from_dict(SoftNetConfig, params["softnet"], where=f"{card_path}: params.softnet")
        files, hashes = card["files"], card["weights_sha256"]
    except (KeyError, TypeError) as exc:
        raise DatasetError(card_path, f"spotter card lacks {exc}") from None
    models = {}
    for kind in KINDS:
        name = files.get(kind) if isinstance(files, dict) else None
        if not isinstance(name, str) or Path(name).name != name or not name:
            raise DatasetError(card_path, f"field 'files.{kind}' must name a file of the spotter folder")
        path = folder / name
        if not path.is_file():
            raise DatasetError(path, "SOFTNet weights missing from the spotter folder")
        if sha256(path) != hashes.get(kind):
            raise DatasetError(path, "SOFTNet weights differ from the ones card.json records (SHA-256 mismatch)")
        model = SOFTNet(input_size=net.input_size)
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except (RuntimeError, pickle.UnpicklingError) as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            raise DatasetError(path, f"not SOFTNet weights for input_size {net.input_size} ({first})") from None
        models[kind] = model.eval()
    return LearnedSpotter(folder=folder, card=card, models=models, spot=spot, net=net,
                          knowledge=knowledge(card, folder, what="the learned spotter", unit="recording"))

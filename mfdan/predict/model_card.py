"""The final model's folder (``models/final/``) and its model card: what ``train_final`` writes and
``mfdan predict`` reads.

``card.json`` holds the class names, the architecture (``arch``, mfdan.model.registry), every parameter the
prediction path needs (the architecture's config as ``model``, the ``align``,
``flow`` and ``magnify`` sections and the apex policy of ``data``), the recipe it was trained with, the SHA-256
of the MagNet weights (copied beside the model as ``magnet.pt``), of the cache and of the magnified frames it
was trained on, and the LOSO UF1/UAR of the same recipe for reference. :func:`load_final` checks all of it
before anything is predicted."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from mfdan.core.errors import DatasetError
from mfdan.core.files import sha256, written_folder
from mfdan.core.params import Params, from_dict
from mfdan.data.config import DataConfig
from mfdan.magnify.magnet import MagNet, load_magnet
from mfdan.magnify.magnification import MagnifyConfig
from mfdan.model.registry import ARCHITECTURES, arch_of, build, config_from_dict, input_size
from mfdan.preprocess.alignment import AlignConfig
from mfdan.preprocess.optical_flow import FlowConfig
from mfdan.train.loop import TrainConfig

FORMAT = "mfdan-final/2"   #: /2 adds ``params.arch`` (any architecture); /1 cards (MFDAN only) still load
FORMATS = ("mfdan-final/1", FORMAT)
CARD = "card.json"
WEIGHTS = "model.pt"
MAGNET = "magnet.pt"
FINAL = "final"   #: the pseudo-fold of the all-subject model (no fold has that name: folds are <dataset>_<subject>)
#: the keys of ``data`` that decide the apex of a new clip
DATA_KEYS = ("apex", "apex_fallback", "spotting_flow")


def card_sections(params: Params, model_cfg: Any, train_cfg: TrainConfig) -> dict:
    """The card's ``params``: every section the prediction path uses, as the stages saw it (defaults filled);
    ``arch`` and ``model`` are the architecture and its config (MFDAN's ``model`` or ``baselines.<arch>``)."""
    data = asdict(params.section("data", DataConfig))
    return {"dropkey": params.dropkey, "arch": arch_of(model_cfg).name, "model": asdict(model_cfg),
            "train": asdict(train_cfg),
            "align": asdict(params.section("align", AlignConfig)), "flow": asdict(params.section("flow", FlowConfig)),
            "magnify": asdict(params.section("magnify", MagnifyConfig)), "data": {k: data[k] for k in DATA_KEYS}}


def write_model_dir(out: Path, model: Any, card: dict, magnet: Path | None) -> None:
    """``out/``: the model (``model.pt``, or a hand-crafted method's ``model.npz``: plain arrays), ``card.json``
    (``format`` and ``files`` filled in here) and, when given, a copy of the MagNet weights with their SHA-256 in
    the card; written under a temporary name and renamed when complete."""
    from mfdan.train.loop import save_model

    with written_folder(out) as folder:
        weights = save_model(folder, model)
        card = {"format": FORMAT, **card, "files": {"weights": weights, "magnet": MAGNET if magnet else None},
                "magnet_sha256": sha256(magnet) if magnet else ""}
        if magnet:
            shutil.copyfile(magnet, folder / MAGNET)
        (folder / CARD).write_text(json.dumps(card, indent=1) + "\n")


@dataclass
class FinalModel:
    """A loaded model folder: the network, MagNet (when the recipe magnifies with it) and the configs of the
    pipeline's preprocessing, all from the card."""

    folder: Path
    card: dict
    classes: list[str]
    model: Any            #: the architecture's network (eval mode) or hand-crafted model
    magnet: MagNet | None
    model_cfg: Any
    align: AlignConfig
    flow: FlowConfig
    magnify: MagnifyConfig
    apex_policy: dict[str, str]


def load_final(folder: str | Path, device: torch.device = torch.device("cpu")) -> FinalModel:
    """Read and check a ``train_final`` folder; every problem is one :class:`DatasetError` naming the file."""
    folder = Path(folder)
    card_path = folder / CARD
    if not folder.is_dir():
        raise DatasetError(folder, "model folder not found (build one with `dvc repro train_final`: models/final)")
    if not card_path.is_file():
        raise DatasetError(card_path, "not an MFDAN model folder: card.json is missing (a `train_final` output "
                                      "holds card.json, model.pt and, with MagNet, magnet.pt)")
    try:
        card = json.loads(card_path.read_text())
    except ValueError as exc:
        raise DatasetError(card_path, f"model card is not valid JSON ({exc})") from None
    if not isinstance(card, dict) or card.get("format") not in FORMATS:
        raise DatasetError(card_path, f"not an MFDAN model card (format {card.get('format') if isinstance(card, dict) else None!r}, "
                                      f"expected {FORMAT!r})")
    try:
        p = card["params"]
        classes = list(card["classes"])
        arch = p.get("arch", "mfdan")
        if arch not in ARCHITECTURES:
            raise DatasetError(card_path, f"unknown architecture {arch!r}; this mfdan knows {list(ARCHITECTURES)}")
        model_cfg = config_from_dict(arch, p["model"], where=f"{card_path}: params.model")
        align = from_dict(AlignConfig, p["align"], where=f"{card_path}: params.align")
        flow = from_dict(FlowConfig, p["flow"], where=f"{card_path}: params.flow")
        magnify = from_dict(MagnifyConfig, p["magnify"], where=f"{card_path}: params.magnify")
        apex_policy = {k: p["data"][k] for k in DATA_KEYS}
    except (KeyError, TypeError) as exc:
        raise DatasetError(card_path, f"model card lacks {exc}") from None
    if model_cfg.num_classes != len(classes):
        raise DatasetError(card_path, f"{len(classes)} class names but the model has {model_cfg.num_classes} outputs")
    sizes = {"align.output_size": align.output_size, "flow.output_size": flow.output_size}
    rule, size = input_size(model_cfg)
    if rule == "equal" and any(v != size for v in sizes.values()):
        raise DatasetError(card_path, f"{sizes} do not match model.img_size {size}")
    if rule == "at_least" and any(v < size for v in sizes.values()):
        raise DatasetError(card_path, f"{sizes} are smaller than the {arch} model's input_size {size}")
    if arch == "htnet" and align.output_size != flow.output_size:
        raise DatasetError(card_path, f"{sizes}: HTNet's landmark regions need one size for both")
    weights = folder / card.get("files", {}).get("weights", WEIGHTS)
    if not weights.is_file():
        raise DatasetError(weights, "model weights missing from the model folder")
    model = build(model_cfg)
    if not isinstance(model, torch.nn.Module):  # hand-crafted: plain arrays, read without pickle
        model.load(weights)
        return FinalModel(folder=folder, card=card, classes=classes, model=model, magnet=_magnet(folder, card, magnify, device),
                          model_cfg=model_cfg, align=align, flow=flow, magnify=magnify, apex_policy=apex_policy)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except RuntimeError as exc:  # another class set or image size, or not this network's weights
        first = str(exc).strip().splitlines()
        raise DatasetError(weights, "weights do not fit the network the card describes (another class set or "
                                    f"image size?): {first[1].strip() if len(first) > 1 else first[0]}") from None
    except Exception as exc:  # noqa: BLE001 - a file torch cannot read at all
        raise DatasetError(weights, f"not a PyTorch state_dict ({type(exc).__name__}: {exc})") from None
    return FinalModel(folder=folder, card=card, classes=classes, model=model.to(device).eval(),
                      magnet=_magnet(folder, card, magnify, device), model_cfg=model_cfg, align=align, flow=flow,
                      magnify=magnify, apex_policy=apex_policy)


def _magnet(folder: Path, card: dict, magnify: MagnifyConfig, device: torch.device) -> MagNet | None:
    """The card's MagNet (checked against its SHA-256) when the recipe magnifies with it."""
    magnet = None
    if magnify.method == "magnet":
        path = folder / (card.get("files", {}).get("magnet") or MAGNET)
        if not path.is_file():
            raise DatasetError(path, "MagNet weights missing from the model folder (magnify.method is magnet)")
        if card.get("magnet_sha256") and sha256(path) != card["magnet_sha256"]:
            raise DatasetError(path, "MagNet weights differ from the ones the model was trained with (SHA-256 "
                                     "mismatch with card.json)")
        magnet = load_magnet(path, map_location=device).eval()
    return magnet

"""Loading the final model's folder (``models/final/``) for ``mfdan predict`` and the ``recognise`` stage
(``train_final`` writes it: :mod:`mfdan.train.model_folder`; its files and card: :mod:`mfdan.predict.card_file`).

``card.json`` holds the class names, the architecture (``arch``, mfdan.model.registry), every parameter the
prediction path needs (the architecture's config as ``model``, the ``align``, ``flow`` and ``magnify`` sections
and the apex policy of ``data``), the recipe it was trained with, the SHA-256 of the MagNet weights (copied beside
the model as ``magnet.pt``), of the cache and of the magnified frames it was trained on, and the LOSO UF1/UAR of
the same recipe for reference. :func:`load_final` checks all of it before anything is predicted."""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mfdan.core.errors import DatasetError
from mfdan.core.files import sha256
from mfdan.core.params import from_dict
from mfdan.magnify.magnet import MagNet, load_magnet
from mfdan.magnify.magnification import MagnifyConfig
from mfdan.model.registry import ARCHITECTURES, build, config_from_dict, input_size
from mfdan.predict.card_file import MAGNET, WEIGHTS, apex_policy, member, read_card
from mfdan.preprocess.alignment import AlignConfig
from mfdan.preprocess.optical_flow import FlowConfig


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
    card_path, card = read_card(folder)
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
        apex = apex_policy(p["data"])
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
    weights = member(folder, card_path, card.get("files", {}).get("weights") or WEIGHTS, "files.weights")
    if not weights.is_file():
        raise DatasetError(weights, "model weights missing from the model folder")
    model = build(model_cfg)
    if not isinstance(model, torch.nn.Module):  # hand-crafted: plain arrays, read without pickle
        model.load(weights)
        return FinalModel(folder=folder, card=card, classes=classes, model=model,
                          magnet=_magnet(folder, card_path, card, magnify, device),
                          model_cfg=model_cfg, align=align, flow=flow, magnify=magnify, apex_policy=apex)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except RuntimeError as exc:  # another class set or image size, or not this network's weights
        first = str(exc).strip().splitlines()
        raise DatasetError(weights, "weights do not fit the network the card describes (another class set or "
                                    f"image size?): {first[1].strip() if len(first) > 1 else first[0]}") from None
    except pickle.UnpicklingError:  # objects beyond tensors: refused, and never unpickled to find out more
        raise DatasetError(weights, "not a weights-only PyTorch checkpoint (it holds Python objects besides tensors, "
                                    "which mfdan never unpickles); a train_final model.pt holds tensors only") from None
    except Exception as exc:  # noqa: BLE001 - a file torch cannot read at all
        first = (str(exc).strip().splitlines() or [""])[0]
        raise DatasetError(weights, f"not a PyTorch weights file ({type(exc).__name__}: {first})") from None
    return FinalModel(folder=folder, card=card, classes=classes, model=model.to(device).eval(),
                      magnet=_magnet(folder, card_path, card, magnify, device), model_cfg=model_cfg, align=align, flow=flow,
                      magnify=magnify, apex_policy=apex)


def _magnet(folder: Path, card_path: Path, card: dict, magnify: MagnifyConfig, device: torch.device) -> MagNet | None:
    """The card's MagNet (checked against its SHA-256) when the recipe magnifies with it."""
    magnet = None
    if magnify.method == "magnet":
        path = member(folder, card_path, card.get("files", {}).get("magnet") or MAGNET, "files.magnet")
        if not path.is_file():
            raise DatasetError(path, "MagNet weights missing from the model folder (magnify.method is magnet)")
        if card.get("magnet_sha256") and sha256(path) != card["magnet_sha256"]:
            raise DatasetError(path, "MagNet weights differ from the ones the model was trained with (SHA-256 "
                                     "mismatch with card.json)")
        magnet = load_magnet(path, map_location=device).eval()
    return magnet

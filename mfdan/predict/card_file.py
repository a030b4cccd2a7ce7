"""The model folder's file format (``models/final/``): the names of its files, and ``card.json`` read and
checked without PyTorch — by :func:`mfdan.predict.model_card.load_final` and by the process that prepares
``mfdan predict``'s inputs while PyTorch is imported (:mod:`mfdan.predict.preparer`).

``card.json``: ``format``, ``classes``, ``params`` (``arch``, ``model``, ``train``, ``align``, ``flow``,
``magnify`` and the apex policy of ``data``: :data:`mfdan.data.config.APEX_KEYS`), the SHA-256 of the caches and
of the MagNet weights, the LOSO reference and ``files``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mfdan.core.errors import DatasetError
from mfdan.core.files import read_json
from mfdan.data.config import APEX_KEYS, RENAMED_DATA_KEYS

FORMAT = "mfdan-final/2"   #: /2 adds ``params.arch`` (any architecture); /1 cards (MFDAN only) still load
FORMATS = ("mfdan-final/1", FORMAT)
CARD = "card.json"
WEIGHTS = "model.pt"
MAGNET = "magnet.pt"


def read_card(folder: str | Path) -> tuple[Path, dict[str, Any]]:
    """``(card path, card)`` of a model folder; a :class:`DatasetError` names what is missing or malformed."""
    folder = Path(folder)
    card_path = folder / CARD
    if not folder.is_dir():
        raise DatasetError(folder, "model folder not found (build one with `dvc repro train_final`: models/final)")
    if not card_path.is_file():
        raise DatasetError(card_path, "not an MFDAN model folder: card.json is missing (a `train_final` output "
                                      "holds card.json, model.pt and, with MagNet, magnet.pt)")
    card = read_json(card_path, what="model card", missing="card.json is missing")
    if not isinstance(card, dict) or card.get("format") not in FORMATS:
        raise DatasetError(card_path, f"not an MFDAN model card (format {card.get('format') if isinstance(card, dict) else None!r}, "
                                      f"expected {FORMAT!r})")
    check_fields(card_path, card)
    return card_path, card


#: the card's fields and their JSON types (``params``' sections are checked by their dataclasses)
FIELDS: dict[str, type | tuple[type, ...]] = {"classes": list, "params": dict, "files": dict,
                                              "magnet_sha256": str, "protocol": str}
#: the sections of ``params`` a prediction reads
SECTIONS = ("model", "align", "flow", "magnify", "data")


def check_fields(card_path: Path, card: dict[str, Any]) -> None:
    """Every field a prediction reads has its type: one :class:`DatasetError` naming the card and the field."""
    for name, kind in FIELDS.items():
        if name in card and not isinstance(card[name], kind):
            raise DatasetError(card_path, f"field {name!r} is {type(card[name]).__name__}, expected "
                                          f"{kind.__name__ if isinstance(kind, type) else kind}")
    for name in ("classes", "params"):
        if name not in card:
            raise DatasetError(card_path, f"model card lacks {name!r}")
    if not card["classes"] or not all(isinstance(c, str) and c for c in card["classes"]):
        raise DatasetError(card_path, "field 'classes' must list the class names (non-empty strings)")
    for name in SECTIONS:
        if not isinstance(card["params"].get(name), dict):
            raise DatasetError(card_path, f"field 'params.{name}' is missing or not a mapping")
    for name in ("weights", "magnet"):
        value = card.get("files", {}).get(name)
        if value is not None and not isinstance(value, str):
            raise DatasetError(card_path, f"field 'files.{name}' is {type(value).__name__}, expected a file name")


def member(folder: Path, card_path: Path, name: str, field: str) -> Path:
    """The file ``name`` of the model folder: a card names files only inside its folder (no absolute path, no
    ``..``, no symlink that leads out); anything else is one :class:`DatasetError` naming the card's field."""
    rel = Path(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise DatasetError(card_path, f"field {field!r} = {name!r} is not a file of the model folder (a card "
                                      "names files only inside its folder)")
    path = folder / rel
    if not path.resolve().is_relative_to(folder.resolve()):
        raise DatasetError(path, f"{field} leads outside the model folder {folder} (a symlink?)")
    return path


def apex_policy(data: dict[str, Any]) -> dict[str, str]:
    """The card's ``params.data``: the apex policy (:data:`APEX_KEYS`). A card written before a key was renamed
    (``spotting_flow``, now ``apex_flow``) is read under the new name. ``KeyError`` names a missing key."""
    data = {RENAMED_DATA_KEYS.get(k, k): v for k, v in data.items()}
    return {k: data[k] for k in APEX_KEYS}

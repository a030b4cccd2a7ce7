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
    return card_path, card


def apex_policy(data: dict[str, Any]) -> dict[str, str]:
    """The card's ``params.data``: the apex policy (:data:`APEX_KEYS`). A card written before a key was renamed
    (``spotting_flow``, now ``apex_flow``) is read under the new name. ``KeyError`` names a missing key."""
    data = {RENAMED_DATA_KEYS.get(k, k): v for k, v in data.items()}
    return {k: data[k] for k in APEX_KEYS}

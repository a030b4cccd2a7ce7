"""What a model was trained on, as its card says: written by ``train_final`` (:mod:`mfdan.train.train_final_stage`)
and by the long pipeline's ``train_spotter`` (:mod:`mfdan.spotting.train_spotter_stage`), read by ``mfdan predict``.

**Generated or real.** The project's generators (``mfdan synth``, :mod:`mfdan.synth.long_videos`) write
``synth_manifest.json`` at each layout's root, listing every clip (``samples``: subject, sample) or recording
(``recordings``: subject, video) they made; the dataset readers ignore it, and no release holds a file of that name.
A dataset is ``generated`` when a manifest at its root (or a parent within two levels: ``data.roots.smic`` may name
the ``HS`` folder) names its layout and lists every item the model trained on; ``real`` when there is none (that
is: not made by this project's generator); ``unknown`` when a manifest is there but does not list them (data edited
after generation). A model's ``source`` is the one value its datasets share, else ``mixed``.

Standard library only, in the data phase: training (``train_final``), spotting (``train_spotter``, the spotter
folder) and ``mfdan predict`` all read it.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "synth_manifest.json"
SOURCES = ("generated", "real", "unknown")


def _manifest(root: Path, layout: str) -> tuple[Path | None, dict | None]:
    """The first ``synth_manifest.json`` at ``root`` or up to two parents above it that names ``layout``."""
    for folder in (root, *list(root.parents)[:2]):
        path = folder / MANIFEST
        if path.is_file():
            try:
                doc = json.loads(path.read_text())
            except (OSError, ValueError):
                return path, None
            if isinstance(doc, dict) and doc.get("layout") == layout:
                return path, doc
    return None, None


def dataset_source(root: str | Path, layout: str, items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``{"source": generated|real|unknown, ...}`` for a dataset read from ``root`` in ``layout`` whose trained
    items are ``(subject, sample or video)`` pairs; a generated one adds the generator's face photos (``faces``)."""
    path, doc = _manifest(Path(root), layout)
    if path is None:
        return {"source": "real"}
    listed: set[tuple[str, str]] = set()
    if doc is not None:
        for entry in doc.get("samples", []) or []:
            listed.add((str(entry.get("subject")), str(entry.get("sample"))))
        for entry in doc.get("recordings", []) or []:
            listed.add((str(entry.get("subject")), str(entry.get("video"))))
    missing = sorted(set(items) - listed)
    if doc is None or missing:
        why = "it does not parse" if doc is None else f"{len(missing)} trained item(s) are not listed, e.g. {missing[0]}"
        return {"source": "unknown", "why": f"{path}: {why}"}
    faces = (doc.get("config") or {}).get("faces")
    return {"source": "generated", "faces": list(faces) if isinstance(faces, list) else []}


def overall(datasets: Mapping[str, Mapping[str, Any]]) -> str:
    """The one source every dataset shares, ``mixed`` when they differ, ``unknown`` when there is none."""
    kinds = {d.get("source", "unknown") for d in datasets.values()}
    return kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "unknown")


@dataclass(frozen=True)
class Knowledge:
    """What a card says its model was trained on, for ``mfdan predict`` to tell the user."""

    source: str                                  #: generated | real | mixed | unknown
    datasets: dict[str, dict] = field(default_factory=dict)
    items: int | None = None                     #: clips (a recogniser) or recordings (a spotter)
    subjects: int | None = None
    note: str | None = None                      #: one line for stderr (generated data; an older card), or None


def knowledge(card: Mapping[str, Any], folder: str | Path, *, what: str, unit: str) -> Knowledge:
    """``card``'s ``trained_on`` read for predict: ``what`` names the model ("the recognition model"), ``unit`` what
    it trained on ("clip", "recording"). A card written before ``trained_on.datasets`` existed is ``unknown``."""
    t = card.get("trained_on")
    t = t if isinstance(t, Mapping) else {}
    datasets = t.get("datasets")
    if not isinstance(datasets, Mapping) or not datasets or not all(isinstance(v, Mapping) for v in datasets.values()):
        return Knowledge(source="unknown", note=(
            f"note: {folder}/card.json does not record what {what} was trained on (datasets; generated or real): "
            "unknown (a card written before cards recorded it)"))
    datasets = {str(k): dict(v) for k, v in datasets.items()}
    source = str(t.get("source") or overall(datasets))
    source = source if source in (*SOURCES, "mixed") else "unknown"
    items = sum(int(v.get(unit + "s", 0) or 0) for v in datasets.values())
    subjects = sum(int(v.get("subjects", 0) or 0) for v in datasets.values())
    note = None
    if source in ("generated", "mixed"):
        gen = [k for k, v in datasets.items() if v.get("source") == "generated"]
        faces = Counter(f for k in gen for f in datasets[k].get("faces", []))
        face_txt = (f" from {len(faces)} face photo{'s' if len(faces) != 1 else ''} ({', '.join(sorted(faces))})"
                    if faces else "")
        part = "" if source == "generated" else f"partly ({', '.join(gen)} of {', '.join(datasets)}) "
        note = (f"note: {what} ({folder}) was trained {part}on generated data: {items} {unit}{'s' if items != 1 else ''} "
                f"of {subjects} subject{'s' if subjects != 1 else ''} ({', '.join(datasets)}) that mfdan's generator "
                f"made{face_txt}; on real faces its answers are not evidence of its accuracy")
    return Knowledge(source=source, datasets=datasets, items=items, subjects=subjects, note=note)

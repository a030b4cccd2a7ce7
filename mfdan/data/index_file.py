"""``data/index.json``, the sample index every stage after ``index`` reads.

``{"protocol": NAME, "classes": [...], "samples": [Sample json + "label", "label_index", "frame_sha256"]}``,
samples in the order every cache file keeps; ``frame_sha256`` (each frame file's SHA-256) makes the index change
when a frame does, so the stages reading frames through it need no dependency on the dataset folders.
"""
from __future__ import annotations

import json
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.core.files import read_json, sha256
from mfdan.data.records import Sample


def write_index(path: Path, protocol: str, classes: list[str], labelled: list[tuple[Sample, str]], *,
                frame_sha256: dict[tuple[str, str, str], list[str]] | None = None) -> None:
    """Write the index; ``frame_sha256`` gives each sample's frame hashes (computed from the files if None)."""
    if frame_sha256 is None:
        frame_sha256 = {s.key: [sha256(p) for p in s.frames] for s, _ in labelled}
    rows = [s.to_json() | {"label": label, "label_index": classes.index(label), "frame_sha256": frame_sha256[s.key]}
            for s, label in labelled]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"protocol": protocol, "classes": classes, "samples": rows}, indent=1))


def load_index(path: str | Path) -> dict:
    """The index as written by :func:`write_index`."""
    path = Path(path)
    index = read_json(path, what="the sample index", missing="sample index not found; run `dvc repro index`")
    if not isinstance(index, dict) or not {"protocol", "classes", "samples"} <= set(index):
        raise DatasetError(path, "not a sample index (needs protocol, classes and samples)")
    return index


def sample_of(row: dict) -> Sample:
    """The :class:`Sample` of one index row (without its protocol label)."""
    return Sample.from_json({k: v for k, v in row.items() if k not in ("label", "label_index", "frame_sha256")})

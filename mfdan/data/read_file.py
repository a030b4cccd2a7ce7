"""The ``read@<dataset>`` output's file format (``data/read/<dataset>.json``): the dataset's name and folder, the
reader's notes, and every sample record with each frame file's SHA-256. Written by
:mod:`mfdan.data.read_stage`, read by :mod:`mfdan.data.index_stage`."""
from __future__ import annotations

import json
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.core.files import read_json, write_bytes
from mfdan.data.records import Sample


def write_read(out: Path, dataset: str, root: str, notes: list[dict], samples: list[Sample],
               digests: list[list[str]]) -> None:
    rows = [s.to_json() | {"frame_sha256": d} for s, d in zip(samples, digests)]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(out, (json.dumps({"dataset": dataset, "root": root, "notes": notes, "samples": rows},
                                 indent=1) + "\n").encode())


def load_read(path: Path, dataset: str, root: str) -> tuple[list[Sample], list[dict], list[list[str]]]:
    """Samples, notes and frame SHA-256s of ``data/read/<dataset>.json``, checked to be ``root``'s."""
    data = read_json(path, what="the dataset record file",
                     missing=f"records of {dataset} not found; run `dvc repro read@{dataset}`")
    if data.get("dataset") != dataset or data.get("root") != root:
        raise DatasetError(path, f"holds {data.get('dataset')} from {data.get('root')!r}, not {dataset} from "
                                 f"{root!r}; run `dvc repro read@{dataset}`")
    rows = data["samples"]
    return ([Sample.from_json({k: v for k, v in r.items() if k != "frame_sha256"}) for r in rows], data["notes"],
            [r["frame_sha256"] for r in rows])

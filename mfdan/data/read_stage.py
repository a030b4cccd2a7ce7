"""DVC stage ``read@<dataset>``, one per entry of params.yaml ``data.roots``: read that dataset from its native
folder, decode every frame, and write its records with each frame file's SHA-256 to ``data/read/<dataset>.json``.

The SHA-256s make the records change whenever a frame's bytes do, so every stage after ``index`` (which reads
frames through the index) depends on frame content without naming the dataset folders, and a dataset absent
from ``data.roots`` has no stage and no dependency at all.
"""
from __future__ import annotations

import json
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.core.files import write_bytes
from mfdan.core.params import Params
from mfdan.data.config import DataConfig
from mfdan.data.readers import read_dataset
from mfdan.data.records import Sample
from mfdan.data.validate import check_frames


def run(*, params: Params, dataset: str, out: Path) -> str:
    cfg = params.section("data", DataConfig)
    if dataset not in cfg.roots:
        raise ValueError(f"data.roots has no entry {dataset!r} (it has {sorted(cfg.roots)})")
    notes: list[dict] = []
    samples = read_dataset(dataset, cfg.roots[dataset], notes=notes)
    rows = [s.to_json() | {"frame_sha256": digests} for s, digests in zip(samples, check_frames(samples))]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(out, (json.dumps({"dataset": dataset, "root": cfg.roots[dataset], "notes": notes, "samples": rows},
                                 indent=1) + "\n").encode())
    return f"read@{dataset}: {len(samples)} samples from {cfg.roots[dataset]}" + (
        f" ({len(notes)} sheet rows skipped or changed, listed under 'notes')" if notes else "") + f" -> {out}"


def load_read(path: Path, dataset: str, root: str) -> tuple[list[Sample], list[dict], list[list[str]]]:
    """Samples, notes and frame SHA-256s of ``data/read/<dataset>.json``, checked to be ``root``'s."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(path, f"records of {dataset} not found; run `dvc repro read@{dataset}`") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"not a dataset record file (invalid JSON: {exc})") from None
    if data.get("dataset") != dataset or data.get("root") != root:
        raise DatasetError(path, f"holds {data.get('dataset')} from {data.get('root')!r}, not {dataset} from "
                                 f"{root!r}; run `dvc repro read@{dataset}`")
    rows = data["samples"]
    return ([Sample.from_json({k: v for k, v in r.items() if k != "frame_sha256"}) for r in rows], data["notes"],
            [r["frame_sha256"] for r in rows])

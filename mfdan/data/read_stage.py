"""DVC stage ``read@<dataset>``, one per entry of params.yaml ``data.roots``: read that dataset from its native
folder, decode every frame, and write its records with each frame file's SHA-256 to ``data/read/<dataset>.json``.

The SHA-256s make the records change whenever a frame's bytes do, so every stage after ``index`` (which reads
frames through the index) depends on frame content without naming the dataset folders, and a dataset absent
from ``data.roots`` has no stage and no dependency at all.
"""
from __future__ import annotations

from pathlib import Path

from mfdan.core.params import Params
from mfdan.data.config import DataConfig
from mfdan.data.read_file import write_read
from mfdan.data.readers import read_dataset
from mfdan.data.validate import check_frames


def run(*, params: Params, dataset: str, out: Path) -> str:
    cfg = params.section("data", DataConfig)
    if dataset not in cfg.roots:
        raise ValueError(f"data.roots has no entry {dataset!r} (it has {sorted(cfg.roots)})")
    notes: list[dict] = []
    samples = read_dataset(dataset, cfg.roots[dataset], notes=notes)
    write_read(out, dataset, cfg.roots[dataset], notes, samples, check_frames(samples))
    return f"read@{dataset}: {len(samples)} samples from {cfg.roots[dataset]}" + (
        f" ({len(notes)} sheet rows skipped or changed, listed under 'notes')" if notes else "") + f" -> {out}"

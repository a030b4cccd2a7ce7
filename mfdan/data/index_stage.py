"""DVC stage ``index``: the protocol's samples from the ``read@<dataset>`` records (params.yaml ``data``), as the
sample index every later stage reads, plus dataset counts as a DVC metric.

``composite_all`` takes every dataset ``data.roots`` names; any other protocol needs each of its datasets there.
"""
from __future__ import annotations

import json
from pathlib import Path

from mfdan.core.params import Params
from mfdan.data.config import DataConfig
from mfdan.data.index_file import write_index
from mfdan.data.protocols import get_protocol
from mfdan.data.read_file import load_read
from mfdan.data.validate import protocol_datasets, report


def run(*, params: Params, reads: Path, out: Path, metrics: Path) -> str:
    cfg = params.section("data", DataConfig)
    proto = get_protocol(cfg.protocol)
    samples, notes, sha = [], [], {}
    for d in protocol_datasets(proto, cfg.roots, where="params.yaml data.roots"):
        got, got_notes, got_sha = load_read(reads / f"{d}.json", d, cfg.roots[d])
        samples += got
        notes += got_notes
        sha.update({s.key: m for s, m in zip(got, got_sha)})
    used = [d for d in proto.datasets if d in cfg.roots]
    rep = report(cfg.protocol, samples, root=", ".join(cfg.roots[d] for d in used), notes=notes, datasets=used)
    labelled = proto.select(samples)
    write_index(out, proto.name, list(proto.classes), labelled, frame_sha256=sha)
    metrics.parent.mkdir(parents=True, exist_ok=True)
    summary = {k: rep[k] for k in ("protocol", "samples_read", "samples_kept")} | {
        "datasets": used, "subjects": len(rep["subjects"]), "classes": rep["counts"]["total"],
        "reference_complete": rep["reference"]["complete"],
        "label_mismatches": len(rep["reference"]["label_mismatches"]), "sheet_rows_skipped": len(
            [n for n in notes if n["action"] == "skipped"])}
    metrics.write_text(json.dumps(summary, indent=1) + "\n")
    return f"index: {len(labelled)} samples ({proto.name}: {', '.join(used)}) -> {out}"

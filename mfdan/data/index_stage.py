"""DVC stage ``index``: read the protocol's datasets from their native folders (params.yaml ``data``), decode
every frame, apply the protocol, and write the sample index every later stage reads, plus dataset counts as a
DVC metric."""
from __future__ import annotations

import json
from pathlib import Path

from mfdan.core.params import Params
from mfdan.data.config import DataConfig
from mfdan.data.index_file import write_index
from mfdan.data.protocols import get_protocol
from mfdan.data.validate import check_frames, read_for_protocol, report


def run(*, params: Params, out: Path, metrics: Path) -> str:
    cfg = params.section("data", DataConfig)
    proto = get_protocol(cfg.protocol)
    samples = read_for_protocol(cfg.protocol, ".", roots=cfg.roots)
    check_frames(samples)
    rep = report(cfg.protocol, samples, root=", ".join(cfg.roots[d] for d in proto.datasets))
    labelled = proto.select(samples)
    write_index(out, proto.name, list(proto.classes), labelled)
    metrics.parent.mkdir(parents=True, exist_ok=True)
    summary = {k: rep[k] for k in ("protocol", "samples_read", "samples_kept")} | {
        "subjects": len(rep["subjects"]), "classes": rep["counts"]["total"],
        "reference_complete": rep["reference"]["complete"],
        "label_mismatches": len(rep["reference"]["label_mismatches"])}
    metrics.write_text(json.dumps(summary, indent=1) + "\n")
    return f"index: {len(labelled)} samples ({proto.name}) -> {out}"

"""DVC stage ``pack``: the training cache ``cache.h5``: per sample the (u, v, strain) map, label, subject,
source dataset, sample id, apex frame number and the aligned onset's 68 landmarks, in index order. The image input lives in the ``magnify``
stage's own file with the same sample order (``sample_id`` is stored in both and checked on load)."""
from __future__ import annotations

import json
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.core.progress import progress
from mfdan.core.rows import STR, RowWriter, open_rows, read_strings
from mfdan.data.index_file import load_index


def run(*, index: Path, aligned: Path, flow: Path, out: Path) -> str:
    index_data = load_index(index)
    rows = index_data["samples"]
    with open_rows(aligned, ("apex_frame", "landmarks", "sample_id")) as al, open_rows(flow, ("flow", "sample_id")) as fl:
        ids = [r["sample_id"] for r in rows]
        for name, f in (("aligned", al), ("flow", fl)):
            if read_strings(f["sample_id"]) != ids:
                raise DatasetError(f.filename, f"{name} cache does not hold the index's samples in order; rerun it")
        fs = fl["flow"].shape[-1]
        specs = {"flow": ((3, fs, fs), "f4"), "label": ((), "i8"), "subject": ((), STR), "dataset": ((), STR),
                 "sample_id": ((), STR), "apex_frame": ((), "i8"), "landmarks": ((68, 2), "f4")}
        attrs = {"protocol": index_data["protocol"], "classes": json.dumps(index_data["classes"]),
                 "flow_channels": "u,v,strain", "landmarks": "dlib 68 points (x, y) on the aligned onset, pixels", "magnified": "see the magnify stage's file (same sample order)"}
        with RowWriter(out, len(rows), specs, attrs=attrs) as w:
            for i, r in enumerate(progress(rows, desc="pack", unit="clip")):
                w.write(i, flow=fl["flow"][i], label=r["label_index"], subject=r["subject"], dataset=r["dataset"],
                        sample_id=r["sample_id"], apex_frame=al["apex_frame"][i], landmarks=al["landmarks"][i])
    return f"pack: {len(rows)} samples -> {out}"

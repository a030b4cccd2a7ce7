"""DVC stage ``align``: one alignment per clip (estimated on the onset), apex chosen by the policy, aligned
onset and apex written to ``aligned.h5`` with the 68 dlib landmarks of the aligned onset (for every dataset, also
those aligned by ``resize``: what HTNet's facial regions are cut around, so no model re-detects); a JSON report counts methods, fallbacks and, where clips carry an apex
label and the policy spots one, the spotting error in frames. Streams: one clip in flight per worker, rows
written in index order."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mfdan.core.errors import DatasetError
from mfdan.core.parallel import imap_ordered
from mfdan.core.params import Params
from mfdan.core.rows import STR, RowWriter
from mfdan.data.config import DataConfig
from mfdan.data.index_file import load_index, sample_of
from mfdan.data.images import read_image
from mfdan.data.records import resolve_apex
from mfdan.preprocess.alignment import AlignConfig, NoFaceError, estimate_alignment
from mfdan.preprocess.apex_spotting import spot_apex
from mfdan.preprocess.landmarks import PRELOAD, aligned_landmarks
from mfdan.preprocess.optical_flow import FlowConfig


def align_one(job: tuple[dict, AlignConfig, DataConfig, FlowConfig]) -> dict:
    """Align one clip (a worker task): its aligned onset and apex and how they were found."""
    row, cfg, data, flow_cfg = job
    s = sample_of(row)
    onset_raw = read_image(s.frames[s.onset])
    try:
        al = estimate_alignment(onset_raw, s.dataset, cfg)
    except NoFaceError:
        raise DatasetError(s.frames[s.onset], "dlib found no face in this onset frame; set align.fallback: "
                                              "center_crop in params.yaml to use a centre crop instead") from None
    apex, source = resolve_apex(s, data.apex, data.apex_fallback)
    spotted = -1
    if source == "flow_peak":
        frames = [al.apply(read_image(p), cfg.output_size) for p in s.frames[s.onset:s.offset + 1]]
        spotted = s.onset + spot_apex(frames, method=data.apex_flow, flow_cfg=flow_cfg)
        apex = spotted
        onset_img, apex_img = frames[0], frames[apex - s.onset]
    else:
        onset_img = al.apply(onset_raw, cfg.output_size)
        apex_img = al.apply(read_image(s.frames[apex]), cfg.output_size)
    points, landmark_source = aligned_landmarks(onset_img)
    return {"onset": onset_img, "apex": apex_img, "landmarks": points, "landmark_source": landmark_source,
            "apex_index": apex, "apex_frame": s.frame_numbers[apex],
            "apex_source": source, "annotated_apex": -1 if s.apex is None else s.apex, "spotted_apex": spotted,
            "align_method": al.method, "angle": al.angle, "matrix": al.matrix.astype(np.float64),
            "sample_id": s.sample_id}


def run(*, params: Params, index: Path, out: Path, report: Path) -> str:
    cfg = params.section("align", AlignConfig)
    data = params.section("data", DataConfig)
    flow_cfg = params.section("flow", FlowConfig)
    rows = load_index(index)["samples"]
    s = cfg.output_size
    specs = {"onset": ((s, s, 3), "u1"), "apex": ((s, s, 3), "u1"), "landmarks": ((68, 2), "f4"),
             "landmark_source": ((), STR), "apex_index": ((), "i4"),
             "apex_frame": ((), "i8"), "apex_source": ((), STR), "annotated_apex": ((), "i4"),
             "spotted_apex": ((), "i4"), "align_method": ((), STR), "angle": ((), "f8"), "matrix": ((2, 3), "f8"),
             "sample_id": ((), STR)}
    methods: Counter = Counter()
    sources: Counter = Counter()
    landmark_sources: Counter = Counter()
    errors = []
    with RowWriter(out, len(rows), specs, attrs={"size": s, "config": json.dumps(asdict(cfg), sort_keys=True)}) as w:
        jobs = ((row, cfg, data, flow_cfg) for row in rows)
        for i, r in enumerate(imap_ordered(align_one, jobs, workers=cfg.workers, total=len(rows), desc="align",
                                           preload=PRELOAD)):
            w.write(i, **r)
            methods[r["align_method"]] += 1
            sources[r["apex_source"]] += 1
            landmark_sources[r["landmark_source"]] += 1
            if r["spotted_apex"] >= 0 and r["annotated_apex"] >= 0:
                errors.append(abs(r["spotted_apex"] - r["annotated_apex"]))
    rep = {"samples": len(rows), "align_methods": dict(sorted(methods.items())),
           "fallbacks": methods.get("center_crop", 0), "apex_sources": dict(sorted(sources.items())),
           "onset_landmarks": dict(sorted(landmark_sources.items())),
           "apex_spotting": {"clips_with_label": len(errors),
                             "mean_abs_frame_error": float(np.mean(errors)) if errors else None,
                             "max_abs_frame_error": int(max(errors)) if errors else None}}
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(rep, indent=1) + "\n")
    return f"align: {rep['samples']} clips, methods {rep['align_methods']}, apex {rep['apex_sources']}"

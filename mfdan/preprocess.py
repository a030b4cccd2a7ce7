"""The preprocessing stages behind ``pipeline/{align,flow,pack}.py``.

* :func:`run_align`: one alignment per clip (estimated on the onset), apex chosen by the policy, aligned
  onset and apex written to ``aligned.h5``; a JSON report counts methods, fallbacks and, where clips carry
  an apex label and the policy spots one, the spotting error in frames.
* :func:`run_flow`: TV-L1 onset → apex, Eq. 3 strain, resize and normalise → ``flow.h5``.
* :func:`run_pack`: the training cache ``cache.h5``: per sample aligned onset/apex (uint8), (u, v, strain),
  label, subject, source dataset and sample id. The MagNet stage writes its magnified variants into its own
  file with the same sample order (``sample_id`` is stored in both and checked on load).

All three stream: one sample in flight per worker, rows written in index order.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np

from mfdan.alignment import AlignConfig, NoFaceError, estimate_alignment
from mfdan.apex_spotting import spot_apex
from mfdan.cache import STR, RowWriter, read_strings
from mfdan.config import DataConfig
from mfdan.datasets.common import read_image
from mfdan.errors import DatasetError
from mfdan.optical_flow import FlowConfig, compute_flow, flow_input
from mfdan.parallel import imap_ordered
from mfdan.records import Sample, resolve_apex


def load_index(path: str | Path) -> dict:
    """``data/index.json``: ``{"protocol", "classes", "samples": [Sample json + label, label_index]}``."""
    return json.loads(Path(path).read_text())


# --- align -------------------------------------------------------------------------------------------
def align_one(job: tuple[dict, AlignConfig, DataConfig, FlowConfig]) -> dict:
    """Align one clip (a worker task)."""
    row, cfg, data, flow_cfg = job
    s = Sample.from_json({k: v for k, v in row.items() if k not in ("label", "label_index")})
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
        spotted = s.onset + spot_apex(frames, method=data.spotting_flow, flow_cfg=flow_cfg)
        apex = spotted
        onset_img, apex_img = frames[0], frames[apex - s.onset]
    else:
        onset_img = al.apply(onset_raw, cfg.output_size)
        apex_img = al.apply(read_image(s.frames[apex]), cfg.output_size)
    return {"onset": onset_img, "apex": apex_img, "apex_index": apex, "apex_frame": s.frame_numbers[apex],
            "apex_source": source, "annotated_apex": -1 if s.apex is None else s.apex, "spotted_apex": spotted,
            "align_method": al.method, "angle": al.angle, "matrix": al.matrix.astype(np.float64),
            "sample_id": s.sample_id}


def run_align(index_path: Path, out: Path, report: Path, cfg: AlignConfig, data: DataConfig,
              flow_cfg: FlowConfig) -> dict:
    index = load_index(index_path)
    rows = index["samples"]
    s = cfg.output_size
    specs = {"onset": ((s, s, 3), "u1"), "apex": ((s, s, 3), "u1"), "apex_index": ((), "i4"),
             "apex_frame": ((), "i8"), "apex_source": ((), STR), "annotated_apex": ((), "i4"),
             "spotted_apex": ((), "i4"), "align_method": ((), STR), "angle": ((), "f8"), "matrix": ((2, 3), "f8"),
             "sample_id": ((), STR)}
    methods: Counter = Counter()
    sources: Counter = Counter()
    errors = []
    with RowWriter(out, len(rows), specs, attrs={"size": s, "config": json.dumps(asdict(cfg), sort_keys=True)}) as w:
        jobs = ((row, cfg, data, flow_cfg) for row in rows)
        for i, r in enumerate(imap_ordered(align_one, jobs, workers=cfg.workers, total=len(rows), desc="align")):
            w.write(i, **r)
            methods[r["align_method"]] += 1
            sources[r["apex_source"]] += 1
            if r["spotted_apex"] >= 0 and r["annotated_apex"] >= 0:
                errors.append(abs(r["spotted_apex"] - r["annotated_apex"]))
    rep = {"samples": len(rows), "align_methods": dict(sorted(methods.items())),
           "fallbacks": methods.get("center_crop", 0), "apex_sources": dict(sorted(sources.items())),
           "apex_spotting": {"clips_with_label": len(errors),
                             "mean_abs_frame_error": float(np.mean(errors)) if errors else None,
                             "max_abs_frame_error": int(max(errors)) if errors else None}}
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(rep, indent=1) + "\n")
    return rep


# --- flow --------------------------------------------------------------------------------------------
def flow_one(job: tuple[np.ndarray, np.ndarray, FlowConfig]) -> tuple[np.ndarray, float]:
    """(u, v, strain) input and the mean raw flow magnitude for one aligned pair (a worker task)."""
    onset, apex, cfg = job
    flow = compute_flow(onset, apex, cfg)
    return flow_input(flow, cfg), float(np.hypot(flow[..., 0], flow[..., 1]).mean())


def run_flow(aligned: Path, out: Path, cfg: FlowConfig) -> None:
    with h5py.File(aligned, "r") as src:
        n = src["onset"].shape[0]
        ids = read_strings(src["sample_id"])
        specs = {"flow": ((3, cfg.output_size, cfg.output_size), "f4"), "mean_magnitude": ((), "f4"), "sample_id": ((), STR)}
        with RowWriter(out, n, specs, attrs={"config": json.dumps(asdict(cfg), sort_keys=True),
                                             "channels": "u,v,strain"}) as w:
            jobs = ((src["onset"][i], src["apex"][i], cfg) for i in range(n))
            for i, (fl, mag) in enumerate(imap_ordered(flow_one, jobs, workers=cfg.workers, total=n, desc="flow")):
                w.write(i, flow=fl, mean_magnitude=mag, sample_id=ids[i])


# --- pack --------------------------------------------------------------------------------------------
def run_pack(index_path: Path, aligned: Path, flow: Path, out: Path) -> None:
    index = load_index(index_path)
    rows = index["samples"]
    with h5py.File(aligned, "r") as al, h5py.File(flow, "r") as fl:
        ids = [r["sample_id"] for r in rows]
        for name, f in (("aligned", al), ("flow", fl)):
            if read_strings(f["sample_id"]) != ids:
                raise DatasetError(f.filename, f"{name} cache does not hold the index's samples in order; rerun it")
        s = al["onset"].shape[1]
        fs = fl["flow"].shape[-1]
        specs = {"onset": ((s, s, 3), "u1"), "apex": ((s, s, 3), "u1"), "flow": ((3, fs, fs), "f4"),
                 "label": ((), "i8"), "subject": ((), STR), "dataset": ((), STR), "sample_id": ((), STR),
                 "apex_frame": ((), "i8")}
        attrs = {"protocol": index["protocol"], "classes": json.dumps(index["classes"]), "flow_channels": "u,v,strain",
                 "magnified": "see the magnify stage's file (same sample order)"}
        with RowWriter(out, len(rows), specs, attrs=attrs) as w:
            from tqdm import tqdm

            for i, r in enumerate(tqdm(rows, desc="pack", unit="clip", disable=None)):
                w.write(i, onset=al["onset"][i], apex=al["apex"][i], flow=fl["flow"][i], label=r["label_index"],
                        subject=r["subject"], dataset=r["dataset"], sample_id=r["sample_id"],
                        apex_frame=al["apex_frame"][i])

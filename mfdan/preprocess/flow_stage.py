"""DVC stage ``flow``: TV-L1 onset → apex on the aligned pairs, Eq. 3 strain, resized and normalised
(u, v, strain) maps in ``flow.h5``, rows in index order."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mfdan.core.errors import check_finite
from mfdan.core.parallel import imap_ordered
from mfdan.core.params import Params
from mfdan.core.rows import STR, RowWriter, open_rows, read_strings
from mfdan.preprocess.optical_flow import FlowConfig, compute_flow, flow_input


def flow_one(job: tuple[np.ndarray, np.ndarray, FlowConfig]) -> np.ndarray:
    """The (u, v, strain) input of one aligned pair (a worker task)."""
    onset, apex, cfg = job
    return flow_input(compute_flow(onset, apex, cfg), cfg)


def run(*, params: Params, aligned: Path, out: Path) -> str:
    cfg = params.section("flow", FlowConfig)
    with open_rows(aligned, ("onset", "apex", "sample_id")) as src:
        n = src["onset"].shape[0]
        ids = read_strings(src["sample_id"])
        specs = {"flow": ((3, cfg.output_size, cfg.output_size), "f4"), "sample_id": ((), STR)}
        with RowWriter(out, n, specs, attrs={"config": json.dumps(asdict(cfg), sort_keys=True),
                                             "channels": "u,v,strain"}) as w:
            jobs = ((src["onset"][i], src["apex"][i], cfg) for i in range(n))
            for i, fl in enumerate(imap_ordered(flow_one, jobs, workers=cfg.workers, total=n, desc="flow")):
                check_finite(fl, f"{aligned}: flow of sample {ids[i]}")
                w.write(i, flow=fl, sample_id=ids[i])
    return f"flow: {n} samples -> {out}"

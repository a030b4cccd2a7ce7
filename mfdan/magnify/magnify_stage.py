"""DVC stage ``magnify``: K randomly-magnified training variants and one evaluation variant per sample.

Reads the aligned onset/apex pairs (``aligned.h5``), not the flow or the packed cache, so a ``flow`` parameter
change never reruns MagNet. Frames are stored as uint8 (the network's unclipped output is clipped only there)
in ``magnified.h5``, whose ``sample_id`` list equals the aligned file's (the index order), checked on load.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mfdan.core.device import resolve_device
from mfdan.core.files import sha256
from mfdan.core.params import Params
from mfdan.core.progress import progress
from mfdan.core.rows import STR, RowWriter, open_rows, read_strings
from mfdan.magnify.magnet import load_magnet
from mfdan.magnify.magnification import MagnifyConfig, draw_factors, magnify


def run(*, params: Params, aligned: Path, weights: Path, out: Path) -> str:
    cfg = params.section("magnify", MagnifyConfig)
    model, sha = None, ""
    if cfg.method == "magnet":
        model = load_magnet(weights, map_location=resolve_device(cfg.device)).eval()
        sha = sha256(weights)
    with open_rows(aligned, ("onset", "apex", "sample_id")) as src:
        n, s = src["apex"].shape[0], src["apex"].shape[1]
        ids = read_strings(src["sample_id"])
        specs = {"train": ((cfg.variants, s, s, 3), "u1"), "eval": ((s, s, 3), "u1"),
                 "factors": ((cfg.variants,), "f4"), "sample_id": ((), STR)}
        attrs = {"method": cfg.method, "eval_alpha": cfg.eval_alpha, "weights_sha256": sha,
                 "config": json.dumps(asdict(cfg), sort_keys=True)}
        with RowWriter(out, n, specs, attrs=attrs) as w:
            for i in progress(range(n), desc=f"magnify ({cfg.method})", unit="clip"):
                factors = draw_factors(ids[i], cfg)
                frames = magnify(src["onset"][i], src["apex"][i], np.append(factors, cfg.eval_alpha), cfg, model)
                w.write(i, train=frames[:-1], eval=frames[-1], factors=factors, sample_id=ids[i])
    return f"magnify ({cfg.method}): {n} samples -> {out}"

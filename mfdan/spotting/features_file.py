"""The ``features@<dataset>`` output's file format (``long/data/features/<dataset>.h5``): the recordings' records
(``records`` attribute, JSON), the reader's notes, and one group per recording with its features
(:class:`mfdan.spotting.features.VideoFeatures`). Written by :mod:`mfdan.spotting.features_stage`, read by the
``spot``, ``recognise`` and ``evaluate_spotting`` stages."""
from __future__ import annotations

import json
from pathlib import Path

import h5py

from mfdan.data.long_records import LongVideo
from mfdan.spotting.config import KINDS
from mfdan.spotting.features import VideoFeatures


def write_features(h5: h5py.File, name: str, f: VideoFeatures) -> None:
    """One recording's group; no timestamps (``track_times=False``), so the same features give the same bytes."""
    g = h5.create_group(name, track_order=False)

    def put(key: str, data, **kw) -> None:
        g.create_dataset(key, data=data, track_times=False, **kw)

    g.attrs["fps"] = f.fps
    for kind in KINDS:
        g.attrs[f"k_{kind}"] = f.ks[kind]
        put(f"fd_{kind}", f.fd[kind])
        put(f"head_{kind}", f.head[kind])
        if f.flow is not None:
            put(f"flow_{kind}", f.flow[kind], compression="gzip", compression_opts=1)
            put(f"valid_{kind}", f.valid[kind])
    put("face", f.face)
    put("stretch", f.stretch)


def read_features(g: h5py.Group, *, flows: bool = True) -> VideoFeatures:
    n = g["face"].shape[0]
    f = VideoFeatures(n=n, fps=float(g.attrs["fps"]), ks={k: int(g.attrs[f"k_{k}"]) for k in KINDS})
    f.face, f.stretch = g["face"][()], g["stretch"][()]
    f.fd = {k: g[f"fd_{k}"][()] for k in KINDS}
    f.head = {k: g[f"head_{k}"][()] for k in KINDS}
    if flows and "flow_micro" in g:
        f.flow = {k: g[f"flow_{k}"][()] for k in KINDS}
        f.valid = {k: g[f"valid_{k}"][()] for k in KINDS}
    return f


def load(path: Path, *, flows: bool = True) -> list[tuple[LongVideo, VideoFeatures]]:
    """The records and features of one ``features@`` output."""
    with h5py.File(path, "r") as h5:
        records = [LongVideo.from_json(d) for d in json.loads(h5.attrs["records"])]
        return [(r, read_features(h5[r.video], flows=flows)) for r in records]

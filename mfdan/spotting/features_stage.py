"""DVC stage ``features@<dataset>`` (long/dvc.yaml): read a long-video dataset from its native folder, track the
face through every recording and write the per-frame spotting features (:mod:`mfdan.spotting.features`) with
the records to ``data/features/<dataset>.h5`` (the format: :mod:`mfdan.spotting.features_file`). One process per
recording (``spot.workers``)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import h5py
import numpy as np

from mfdan.core.files import temporary_name
from mfdan.core.parallel import imap_ordered, worker_count
from mfdan.core.params import Params
from mfdan.data.long_config import LongDataConfig
from mfdan.data.long_readers import read_long
from mfdan.data.long_records import LongVideo
from mfdan.preprocess import landmarks as lm
from mfdan.spotting.config import SoftNetConfig, SpotConfig
from mfdan.spotting.faces import track
from mfdan.spotting.features import VideoFeatures, compute_features
from mfdan.spotting.features_file import write_features
from mfdan.spotting.video_frames import files_stream


def _one(job: tuple[LongVideo, SpotConfig, SoftNetConfig]) -> tuple[VideoFeatures, float]:
    video, cfg, net = job
    t = time.perf_counter()
    feat = compute_features(track(files_stream(video.frames), cfg), len(video.frames), video.fps, cfg, net)
    return feat, time.perf_counter() - t


def run(*, params: Params, dataset: str, out: Path) -> str:
    data = params.section("long_data", LongDataConfig)
    cfg, net = params.section("spot", SpotConfig), params.section("softnet", SoftNetConfig)
    if dataset not in data.roots:
        raise ValueError(f"long_data.roots has no entry {dataset!r} (it has {sorted(data.roots)})")
    notes: list[str] = []
    videos = read_long(dataset, data.roots[dataset], fps=data.fps.get(dataset), notes=notes)
    frames = sum(len(v.frames) for v in videos)
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(out)
    try:
        write_all(tmp, videos, notes, cfg, net, dataset)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    dt = time.perf_counter() - t0
    faces = 0
    with h5py.File(out, "r") as h5:
        faces = int(sum(np.count_nonzero(h5[v.video]["face"][()]) for v in videos))
    return (f"features@{dataset}: {len(videos)} recordings, {frames} frames ({faces} with a face), "
            f"{frames / max(dt, 1e-9):.1f} frames/s -> {out}")


def write_all(path: Path, videos: list[LongVideo], notes: list[str], cfg: SpotConfig, net: SoftNetConfig,
              dataset: str) -> None:
    with h5py.File(path, "w") as h5:
        h5.attrs["records"] = json.dumps([v.to_json() for v in videos])
        h5.attrs["notes"] = json.dumps(notes)
        jobs = [(v, cfg, net) for v in videos]
        for v, (feat, _) in zip(videos, imap_ordered(_one, jobs, workers=min(len(jobs), worker_count(cfg.workers)),
                                                     total=len(jobs), desc=f"features@{dataset}", unit="video",
                                                     preload=lm.PRELOAD)):
            write_features(h5, v.video, feat)

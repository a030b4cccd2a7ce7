"""DVC stage ``spot`` (long/dvc.yaml): the proposals of every spotter on every recording, to
``data/spots.json``, and their score curves, to ``data/curves.h5``.

Spotters: ``feature_difference`` (training-free, :mod:`mfdan.spotting.feature_difference`), ``softnet``
(learned, leave-one-subject-out within each dataset, :mod:`mfdan.spotting.softnet`) and ``whole_video``:
today's one-clip behaviour of ``mfdan predict`` on a video, one micro interval from the first to the last face
frame, as the reference the spotters must beat.

``data/softnet_loso.json``: SOFTNet's leave-one-subject-out spotting scores (P / R / F1, micro and macro, per
dataset and overall; :func:`mfdan.spotting.scoring.evaluate`), the reference the final spotter's card quotes
(``train_spotter``). It is its own file so that a change of the training-free spotter's settings, which rewrites
``spots.json``, leaves it and the final spotter as they are."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from mfdan.core.files import temporary_name, write_bytes
from mfdan.core.params import Params
from mfdan.core.progress import Progress
from mfdan.spotting import feature_difference, softnet
from mfdan.spotting.config import SoftNetConfig, SpotConfig
from mfdan.spotting.features_file import load
from mfdan.spotting.peaks import Interval
from mfdan.spotting.scoring import evaluate

SPOTTERS = ("feature_difference", "softnet", "whole_video")


def whole_video(face: np.ndarray) -> list[Interval]:
    """One interval over the face frames, apex in the middle: a video as one clip."""
    idx = np.flatnonzero(face)
    if idx.size < 2:
        return []
    return [Interval(onset=int(idx[0]), apex=int((idx[0] + idx[-1]) // 2), offset=int(idx[-1]), kind="micro")]


def spotting_scores(pairs: list[tuple[str, list[Interval], list[Interval]]]) -> dict:
    """P / R / F1 per kind of ``(dataset, truth, proposals)`` per recording: per dataset and ``overall``."""
    scopes = sorted({d for d, _, _ in pairs}) + ["overall"]
    out = {}
    for scope in scopes:
        m = evaluate([(t, p) for d, t, p in pairs if scope in (d, "overall")])
        out[scope] = {kind: {k: v for k, v in m[kind].items() if k not in ("analysis", "strs")} for kind in m}
    return out


def run(*, params: Params, features: list[Path], out: Path, curves_out: Path, loso_out: Path | None = None) -> str:
    cfg, net = params.section("spot", SpotConfig), params.section("softnet", SoftNetConfig)
    spots: dict = {s: {} for s in SPOTTERS}
    counts: dict = {s: {} for s in SPOTTERS}
    curves: dict[str, dict[str, np.ndarray]] = {}
    scored: list[tuple[str, list[Interval], list[Interval]]] = []
    for path in features:
        pairs = load(path)
        recs = []
        for video, feat in pairs:
            key = video.key
            spots["feature_difference"][key] = [iv.to_json() for iv in feature_difference.spot(
                feat, cfg, counts["feature_difference"])]
            curves[f"feature_difference/{key}"] = feature_difference.curves(feat)["micro"]
            spots["whole_video"][key] = [iv.to_json() for iv in whole_video(feat.face)]
            recs.append(softnet.Recording(key=key, subject=video.subject, features=feat, truth=list(video.intervals)))
        with Progress(len({r.subject for r in recs}), desc=f"softnet LOSO {path.stem}", unit="fold") as bar:
            result = softnet.loso_curves(recs, net, progress=lambda s: bar.update(1))
        for video, r in zip((v for v, _ in pairs), recs):
            c = result[r.key]
            proposed = softnet.spot(c, r.features, cfg, net, counts["softnet"])
            spots["softnet"][r.key] = [iv.to_json() for iv in proposed]
            curves[f"softnet/{r.key}"] = c["micro"]
            scored.append((video.dataset, r.truth, proposed))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(out, (json.dumps({"spots": spots, "dropped": counts}, indent=1) + "\n").encode())
    tmp = temporary_name(curves_out)
    try:
        with h5py.File(tmp, "w") as h5:
            for name, c in curves.items():
                h5.create_dataset(name, data=c, track_times=False)
        tmp.replace(curves_out)
    finally:
        tmp.unlink(missing_ok=True)
    if loso_out is not None:
        write_bytes(loso_out, (json.dumps({"spotter": "softnet", "evaluation": "loso", **spotting_scores(scored)},
                                          indent=1, sort_keys=True) + "\n").encode())
    n = {s: sum(len(v) for v in spots[s].values()) for s in SPOTTERS}
    return f"spot: {len(spots['whole_video'])} recordings; proposals {n} -> {out}"

"""DVC stage ``evaluate_spotting`` (long/dvc.yaml): MEGC's scores (:mod:`mfdan.spotting.scoring`) of every
spotter, per dataset and overall, to ``metrics/spotting.json``, and a timeline PNG per recording
(:mod:`mfdan.spotting.timeline`, both learned and training-free curves) under ``plots/timelines/``.

Recognition counts in STRS over the three classes (negative, positive, surprise); a true interval without
one of them (CAS(ME)² others, SAMM without its micro sheet) is still spotted and scored for spotting."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py

from mfdan.core.files import write_bytes
from mfdan.core.params import Params
from mfdan.spotting import timeline
from mfdan.spotting.config import SoftNetConfig, SpotConfig
from mfdan.spotting.features_file import load
from mfdan.spotting.peaks import Interval, masked, threshold
from mfdan.spotting.scoring import evaluate

CLASSES = ("negative", "positive", "surprise")


def _ivs(rows: list[dict]) -> list[Interval]:
    return [Interval(onset=r["onset"], apex=r["apex"], offset=r["offset"], kind=r["kind"],
                     score=r.get("score", float("nan")), label=r.get("label")) for r in rows]


def run(*, params: Params, recognised: Path, features: list[Path], curves: Path, out: Path, plots: Path) -> str:
    cfg = params.section("spot", SpotConfig)
    p = {"feature_difference": cfg.p_micro, "softnet": params.section("softnet", SoftNetConfig).p}
    data = json.loads(recognised.read_text())["recognised"]
    videos = [(v, feat) for path in features for v, feat in load(path, flows=False)]
    metrics: dict = {}
    datasets = sorted({v.dataset for v, _ in videos})
    for spotter, by_video in data.items():
        for scope in (*datasets, "overall"):
            pairs = [(list(v.intervals), _ivs(by_video[v.key])) for v, _ in videos
                     if scope == "overall" or v.dataset == scope]
            metrics.setdefault(scope, {})[spotter] = evaluate(pairs, classes=CLASSES)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(out, (json.dumps(metrics, indent=1, sort_keys=True) + "\n").encode())
    shutil.rmtree(plots, ignore_errors=True)
    with h5py.File(curves, "r") as h5:
        for v, feat in videos:
            for spotter in ("feature_difference", "softnet"):
                c = h5[f"{spotter}/{v.key}"][()]
                spotted = _ivs(data[spotter][v.key])
                macro = [iv for iv in spotted if iv.kind == "macro"] if cfg.mask_macro else []
                img = timeline.draw(c, v.fps, spotted, v.intervals,
                                    threshold=threshold(masked(c, macro), p[spotter]), face=feat.face,
                                    title=f"{v.key} - {spotter}")
                timeline.write(plots / f"{v.dataset}_{v.video}_{spotter}.png", img)
    o = metrics["overall"]
    return "evaluate_spotting: " + "; ".join(
        f"{s} micro F1 {o[s]['micro']['f1']:.3f} STRS {o[s]['micro']['strs']:.3f} macro F1 {o[s]['macro']['f1']:.3f}"
        for s in data) + f" -> {out}"

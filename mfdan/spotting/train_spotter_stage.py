"""DVC stage ``train_spotter`` (long/dvc.yaml): the learned spotter for ``mfdan predict``. SOFTNet's recipe
(:func:`mfdan.spotting.softnet.train`: same inputs, epochs, down-sampling and flip) trained once on **every**
recording of every long-video dataset, one network per kind, written with its card to ``models/spotter/``
(:mod:`mfdan.spotting.spotter_folder`), as ``train_final`` does for recognition.

It holds out no subject, so it has no score of its own: the card quotes the leave-one-subject-out spotting scores of
the same recipe (the ``spot`` stage's ``data/softnet_loso.json``; a LOSO fold trains within one dataset, the final
spotter on all of them)."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.core.files import read_json, sha256
from mfdan.core.params import Params
from mfdan.core.progress import Progress
from mfdan.data.long_config import LongDataConfig
from mfdan.data.provenance import dataset_source, overall
from mfdan.spotting import softnet
from mfdan.spotting.config import SoftNetConfig, SpotConfig
from mfdan.spotting.features_file import load
from mfdan.spotting.spotter_folder import spot_params, write_spotter_dir


def run(*, params: Params, features: list[Path], loso: Path, out: Path) -> str:
    cfg, net = params.section("spot", SpotConfig), params.section("softnet", SoftNetConfig)
    roots = params.section("long_data", LongDataConfig).roots
    if not features:
        raise ValueError("train_spotter: no features@ output to train on (long_data.roots is empty?)")
    reference = read_json(loso, what="SOFTNet's LOSO scores", missing="run `dvc repro long/dvc.yaml:spot` first")
    recs: list[softnet.Recording] = []
    datasets: dict[str, dict] = {}
    hashes: dict[str, str] = {}
    for path in features:
        pairs = load(path)
        if not pairs:
            raise DatasetError(path, "holds no recording")
        name = pairs[0][0].dataset
        hashes[name] = sha256(path)
        for video, feat in pairs:
            if feat.flow is None:
                raise DatasetError(path, f"{video.video}: no SOFTNet inputs stored (written without softnet?)")
            recs.append(softnet.Recording(key=video.key, subject=video.subject, features=feat,
                                          truth=list(video.intervals)))
        videos = [v for v, _ in pairs]
        items = {(v.subject, v.video) for v in videos}
        source = (dataset_source(roots[name], name, items) if name in roots
                  else {"source": "unknown", "why": f"long_data.roots has no {name!r}"})
        datasets[name] = {"recordings": len(videos), "subjects": len({v.subject for v in videos}),
                          "frames": sum(f.n for _, f in pairs),
                          "micro": sum(iv.kind == "micro" for v in videos for iv in v.intervals),
                          "macro": sum(iv.kind == "macro" for v in videos for iv in v.intervals),
                          "fps": sorted({v.fps for v in videos}), **source}
    with Progress(2, desc=f"train_spotter ({len(recs)} recordings)", unit="network") as bar:
        models = softnet.final_models(recs, net, progress=lambda kind: bar.update(1))
    card = {
        "trained_on": {"source": overall(datasets), "datasets": datasets},
        "params": {"spot": spot_params(cfg), "softnet": asdict(net)},
        "features_sha256": hashes,
        "loso_reference": reference,
    }
    write_spotter_dir(out, models, card)
    n = sum(d["recordings"] for d in datasets.values())
    return (f"train_spotter: SOFTNet (micro, macro) on {n} {overall(datasets)} recordings of "
            f"{', '.join(datasets)} -> {out}")

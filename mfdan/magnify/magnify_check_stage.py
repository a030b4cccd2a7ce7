"""DVC stage ``magnify_check``: does the magnified apex the model reads magnify the clip's own motion?

Per clip, the evaluation variant stored in ``magnified.h5`` against the aligned onset and apex, and MagNet's
output at α = 1 (:func:`mfdan.magnify.quality.clip_agreement`); medians over all clips and per dataset against the bar
(:data:`mfdan.magnify.quality.BAR`), beside the same numbers for two-frame linear magnification at the same
factor (the reference whose added change is the true change continued by construction). Writes
``metrics/magnify.json`` and, per dataset, a figure of a few clips (one per class where the data has them):
onset | apex | magnified at the evaluation factor and at the largest training factor | |true change| | the
motion added per unit of factor | everything added. A set that misses the bar is written all the same, with a warning; ``mfdan summary`` repeats it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mfdan.core.device import resolve_device
from mfdan.core.params import Params
from mfdan.core.pictures import write_png
from mfdan.core.progress import progress
from mfdan.core.rows import open_rows, read_strings
from mfdan.data.index_file import load_index
from mfdan.magnify.magnet import load_magnet
from mfdan.magnify.magnification import MagnifyConfig, magnify
from mfdan.magnify.quality import DIFF_GAIN, MEASURES, clip_agreement, figure, sample_row, summarise

FIGURE_CLIPS = 3  #: clips per dataset figure


def figure_rows(samples: list[dict], dataset: str) -> list[int]:
    """Up to :data:`FIGURE_CLIPS` row numbers of ``dataset``: the first clip of each class, in index order, then
    the next clips."""
    rows = [i for i, s in enumerate(samples) if s["dataset"] == dataset]
    first: dict[str, int] = {}
    for i in rows:
        first.setdefault(samples[i]["label"], i)
    picked = sorted(first.values())[:FIGURE_CLIPS]
    picked += [i for i in rows if i not in picked][:FIGURE_CLIPS - len(picked)]
    return sorted(picked)


def run(*, params: Params, index: Path, aligned: Path, magnified: Path, weights: Path, metrics: Path,
        figures: Path) -> str:
    cfg = params.section("magnify", MagnifyConfig)
    samples = load_index(index)["samples"]
    model = None
    if cfg.method == "magnet":
        model = load_magnet(weights, map_location=resolve_device(cfg.device)).eval()
    with open_rows(aligned, ("onset", "apex", "sample_id")) as a, open_rows(magnified, ("eval", "sample_id")) as m:
        ids = read_strings(a["sample_id"])
        if ids != read_strings(m["sample_id"]) or ids != [s["sample_id"] for s in samples]:
            raise ValueError(f"{magnified}: its samples are not {aligned}'s and {index}'s, in their order; "
                             "rerun `dvc repro`")
        alpha = float(m.attrs["eval_alpha"])
        onset, apex, evaluation = a["onset"][()], a["apex"][()], m["eval"][()]
    per_clip, linear, bases = [], [], []
    lin_cfg = MagnifyConfig(method="linear")
    for i in progress(range(len(ids)), desc="magnify_check", unit="clip"):
        base = None  # linear and none return the apex itself at α = 1
        if model is not None:
            base = magnify(onset[i], apex[i], np.array([1.0], np.float32), cfg, model)[0]
        bases.append(base)
        per_clip.append(clip_agreement(onset[i], apex[i], evaluation[i], alpha, base))
        ref = magnify(onset[i], apex[i], np.array([alpha], np.float32), lin_cfg)[0]
        linear.append(clip_agreement(onset[i], apex[i], ref, alpha))
    report = {"method": cfg.method, "alpha": alpha, **summarise(per_clip), "linear_reference": summarise(linear),
              "per_dataset": {}}
    datasets = sorted({s["dataset"] for s in samples})
    high = float(cfg.alpha_range[1])
    for ds in datasets:
        rows = [i for i, s in enumerate(samples) if s["dataset"] == ds]
        summary = summarise([per_clip[i] for i in rows])
        report["per_dataset"][ds] = {k: summary[k] for k in ("clips", *MEASURES, "passes")}
        panels = []
        for i in figure_rows(samples, ds):
            # the evaluation frame as stored (what the model reads), the largest training factor drawn here
            strong = magnify(onset[i], apex[i], np.array([high], np.float32), cfg, model)[0]
            c = per_clip[i]
            caption = f"{samples[i]['sample_id']} ({samples[i]['label']})  r {c['motion_r']:+.2f}  " \
                      f"cos {c['flow_cosine']:+.2f}  x{c['motion_size']:.2f}  {c['reconstruction_db']:.1f} dB"
            panels.append(sample_row(onset[i], apex[i], evaluation[i], strong, caption, alpha=high, gain=DIFF_GAIN,
                                     base=bases[i]))
        title = f"{ds}: magnify.method {cfg.method}, bar {'passed' if summary['passes'] else 'MISSED'}"
        write_png(figures / f"{ds}.png", figure(panels, title, factors=(alpha, high), gain=DIFF_GAIN))
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps(report, indent=1) + "\n")
    if not report["passes"]:
        print(f"warning: the magnified frames do not magnify the clips' motion: {'; '.join(report['failures'])} "
              f"(figures in {figures}/, docs/magnet.md)", file=sys.stderr, flush=True)
    med = {k: report[k]["median"] for k in MEASURES}
    return (f"magnify_check ({cfg.method}, alpha {alpha:g}): {len(ids)} clips, medians: motion r "
            f"{med['motion_r']:+.2f}, size x{med['motion_size']:.2f}, flow cosine {med['flow_cosine']:+.2f}, "
            f"reconstruction {med['reconstruction_db']:.1f} dB -> bar {'passed' if report['passes'] else 'MISSED'}; "
            f"figures in {figures}/")

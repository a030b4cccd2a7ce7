"""DVC stage ``synth`` of long/dvc.yaml: the generated long recordings (:mod:`mfdan.synth.long_videos`)."""
from __future__ import annotations

from pathlib import Path

from mfdan.core.params import Params
from mfdan.core.progress import Progress
from mfdan.synth.long_plan import LongSynthConfig
from mfdan.synth.long_videos import synthesize_long


def run(*, params: Params, out: Path) -> str:
    cfg = params.section("long_synth", LongSynthConfig)
    with Progress(cfg.subjects * cfg.videos_per_subject * len(cfg.layouts), desc="long synth", unit="video") as bar:
        plans = synthesize_long(out, cfg, overwrite=True, progress=lambda _: bar.update(1))
    return f"long synth: {len(plans)} recordings, {sum(p.frames for p in plans)} frames in {out}"

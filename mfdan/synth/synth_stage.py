"""DVC stage ``synth``: write the embedded demo dataset (all three native layouts) from params.yaml ``synth``."""
from __future__ import annotations

from pathlib import Path

from mfdan.core.params import Params
from mfdan.synth.config import SynthConfig
from mfdan.synth.generator import synthesize


def run(*, params: Params, out: Path) -> str:
    plans = synthesize("all", out, params.section("synth", SynthConfig), progress=True, overwrite=True)
    return f"synth: {len(plans)} clips in {out}"

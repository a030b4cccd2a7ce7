"""DVC stage `synth` of long/dvc.yaml: generated long recordings (mfdan.synth.long_synth_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.synth import long_synth_stage


def main(params: Path = typer.Option(Path("params.yaml")), out: Path = typer.Option(...)) -> str:
    return long_synth_stage.run(params=Params.load(params), out=out)


if __name__ == "__main__":
    run(main)

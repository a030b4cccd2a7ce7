"""DVC stage `flow`: TV-L1 + Eq. 3 strain on the aligned pairs (mfdan.preprocess.flow_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.preprocess import flow_stage


def main(params: Path = typer.Option(Path("params.yaml")), aligned: Path = typer.Option(...),
         out: Path = typer.Option(...)) -> str:
    return flow_stage.run(params=Params.load(params), aligned=aligned, out=out)


if __name__ == "__main__":
    run(main)

"""DVC stage `evaluate_spotting` of long/dvc.yaml: MEGC scores and timelines (mfdan.spotting.evaluate_spotting_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.spotting import evaluate_spotting_stage


def main(params: Path = typer.Option(Path("params.yaml")), recognised: Path = typer.Option(...),
         features: Path = typer.Option(...), curves: Path = typer.Option(...), out: Path = typer.Option(...),
         plots: Path = typer.Option(...)) -> str:
    return evaluate_spotting_stage.run(params=Params.load(params), recognised=recognised,
                              features=sorted(features.glob("*.h5")), curves=curves, out=out, plots=plots)


if __name__ == "__main__":
    run(main)

"""DVC stage `magnify_check`: the magnified frames against the clips' own motion, and their figure
(mfdan.magnify.magnify_check_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.magnify import magnify_check_stage


def main(params: Path = typer.Option(Path("params.yaml")), index: Path = typer.Option(...),
         aligned: Path = typer.Option(...), magnified: Path = typer.Option(...), weights: Path = typer.Option(...),
         metrics: Path = typer.Option(...), figures: Path = typer.Option(...)) -> str:
    return magnify_check_stage.run(params=Params.load(params), index=index, aligned=aligned, magnified=magnified,
                                   weights=weights, metrics=metrics, figures=figures)


if __name__ == "__main__":
    run(main)

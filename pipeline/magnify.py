"""DVC stage `magnify`: magnified training and evaluation frames per sample (mfdan.magnify.magnify_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.magnify import magnify_stage


def main(params: Path = typer.Option(Path("params.yaml")), aligned: Path = typer.Option(...),
         weights: Path = typer.Option(...), out: Path = typer.Option(...)) -> str:
    return magnify_stage.run(params=Params.load(params), aligned=aligned, weights=weights, out=out)


if __name__ == "__main__":
    run(main)

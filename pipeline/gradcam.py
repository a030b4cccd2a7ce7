"""DVC stage `gradcam`: Fig. 6 Grad-CAM maps of each fold's held-out samples (mfdan.evaluate.gradcam_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.evaluate import gradcam_stage


def main(params: Path = typer.Option(Path("params.yaml")), aligned: Path = typer.Option(...),
         cache: Path = typer.Option(...), magnified: Path = typer.Option(...), folds_dir: Path = typer.Option(...),
         out: Path = typer.Option(...), grids: Path = typer.Option(...)) -> str:
    return gradcam_stage.run(params=Params.load(params), aligned=aligned, cache=cache, magnified=magnified,
                             folds_dir=folds_dir, out=out, grids=grids)


if __name__ == "__main__":
    run(main)

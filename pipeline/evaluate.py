"""DVC stage `evaluate`: UF1 / UAR over the concatenated fold predictions (mfdan.evaluate.evaluate_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.evaluate import evaluate_stage


def main(params: Path = typer.Option(Path("params.yaml")), cache: Path = typer.Option(...),
         folds_dir: Path = typer.Option(...), metrics: Path = typer.Option(...), confusion: Path = typer.Option(...),
         curves: Path = typer.Option(...)) -> str:
    return evaluate_stage.run(params=Params.load(params), cache=cache, folds_dir=folds_dir, metrics=metrics,
                              confusion=confusion, curves=curves)


if __name__ == "__main__":
    run(main)

"""DVC stage `evaluate`: UF1 / UAR over all folds' predictions concatenated, per dataset and per fold;
confusion matrix and training curves for `dvc plots`."""
from pathlib import Path

import typer

from mfdan.config import load_params
from mfdan.evaluation import evaluate
from mfdan.stage import run


def main(params: Path = typer.Option(Path("params.yaml")), folds_dir: Path = typer.Option(...),
         metrics: Path = typer.Option(...), confusion: Path = typer.Option(...),
         curves: Path = typer.Option(...)) -> None:
    folds = list(load_params(params).get("folds") or [])
    rep = evaluate(folds, folds_dir, metrics, confusion, curves)
    typer.echo(f"evaluate: UF1 {rep['uf1']:.4f}  UAR {rep['uar']:.4f} over {rep['samples']} samples, "
               f"{rep['folds']} folds")


if __name__ == "__main__":
    run(main)

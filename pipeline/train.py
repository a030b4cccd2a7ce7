"""DVC stage `train@<fold>`: leave one subject out (mfdan.train.train_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.train import train_stage


def main(params: Path = typer.Option(Path("params.yaml")), fold: str = typer.Option(...),
         cache: Path = typer.Option(...), magnified: Path = typer.Option(...), out: Path = typer.Option(...)) -> str:
    return train_stage.run(params=Params.load(params), fold=fold, cache=cache, magnified=magnified, out=out)


if __name__ == "__main__":
    run(main)

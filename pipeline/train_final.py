"""DVC stage `train_final`: the fold recipe on every subject, with a model card (mfdan.train.train_final_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.train import train_final_stage


def main(params: Path = typer.Option(Path("params.yaml")), cache: Path = typer.Option(...),
         magnified: Path = typer.Option(...), magnet: Path = typer.Option(...), loso: Path = typer.Option(...),
         out: Path = typer.Option(...)) -> str:
    return train_final_stage.run(params=Params.load(params), cache=cache, magnified=magnified, magnet=magnet, loso=loso,
                           out=out)


if __name__ == "__main__":
    run(main)

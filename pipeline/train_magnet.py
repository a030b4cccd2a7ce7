"""DVC stage `train_magnet`: the user's MagNet checkpoint, or MagNet trained on generated pairs
(mfdan.magnify.train_magnet_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.magnify import train_magnet_stage


def main(params: Path = typer.Option(Path("params.yaml")), checkpoints: Path = typer.Option(...),
         out: Path = typer.Option(...), metrics: Path = typer.Option(...)) -> str:
    return train_magnet_stage.run(params=Params.load(params), checkpoints=checkpoints, out=out, metrics=metrics)


if __name__ == "__main__":
    run(main)

"""DVC stage `train_spotter` of long/dvc.yaml: SOFTNet on every recording, with a card, for `mfdan predict`
(mfdan.spotting.train_spotter_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.spotting import train_spotter_stage


def main(params: Path = typer.Option(Path("params.yaml")), features: Path = typer.Option(...),
         loso: Path = typer.Option(...), out: Path = typer.Option(...)) -> str:
    return train_spotter_stage.run(params=Params.load(params), features=sorted(features.glob("*.h5")), loso=loso,
                                   out=out)


if __name__ == "__main__":
    run(main)

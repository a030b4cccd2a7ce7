"""DVC stage `spot` of long/dvc.yaml: every spotter's proposals (mfdan.spotting.spot_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.spotting import spot_stage


def main(params: Path = typer.Option(Path("params.yaml")), features: Path = typer.Option(...),
         out: Path = typer.Option(...), curves: Path = typer.Option(...),
         loso: Path = typer.Option(None, help="SOFTNet's LOSO spotting scores (for the final spotter's card)")) -> str:
    return spot_stage.run(params=Params.load(params), features=sorted(features.glob("*.h5")), out=out,
                          curves_out=curves, loso_out=loso)


if __name__ == "__main__":
    run(main)

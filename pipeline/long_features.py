"""DVC stage `features@<dataset>` of long/dvc.yaml: faces and spotting features (mfdan.spotting.features_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.spotting import features_stage


def main(params: Path = typer.Option(Path("params.yaml")), dataset: str = typer.Option(...),
         out: Path = typer.Option(...)) -> str:
    return features_stage.run(params=Params.load(params), dataset=dataset, out=out)


if __name__ == "__main__":
    run(main)

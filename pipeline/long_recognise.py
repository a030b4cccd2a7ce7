"""DVC stage `recognise` of long/dvc.yaml: the class of each spotted micro-expression (mfdan.predict.recognise_stage)."""
from pathlib import Path

import typer

from mfdan.core.stage import run
from mfdan.predict import recognise_stage


def main(model: Path = typer.Option(...), spots: Path = typer.Option(...), features: Path = typer.Option(...),
         out: Path = typer.Option(...)) -> str:
    return recognise_stage.run(model_dir=model, spots=spots, features=sorted(features.glob("*.h5")), out=out)


if __name__ == "__main__":
    run(main)

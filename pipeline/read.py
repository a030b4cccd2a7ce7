"""DVC stage `read@<dataset>`: one dataset's records from its native folder (mfdan.data.read_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.data import read_stage


def main(params: Path = typer.Option(Path("params.yaml")), dataset: str = typer.Option(...),
         out: Path = typer.Option(...)) -> str:
    return read_stage.run(params=Params.load(params), dataset=dataset, out=out)


if __name__ == "__main__":
    run(main)

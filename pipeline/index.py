"""DVC stage `index`: the sample index from the `read@<dataset>` records (mfdan.data.index_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.data import index_stage


def main(params: Path = typer.Option(Path("params.yaml")), reads: Path = typer.Option(Path("data/read")),
         out: Path = typer.Option(...), metrics: Path = typer.Option(...)) -> str:
    return index_stage.run(params=Params.load(params), reads=reads, out=out, metrics=metrics)


if __name__ == "__main__":
    run(main)

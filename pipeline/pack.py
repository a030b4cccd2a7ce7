"""DVC stage `pack`: the training cache (mfdan.preprocess.pack_stage)."""
from pathlib import Path

import typer

from mfdan.core.stage import run
from mfdan.preprocess import pack_stage


def main(index: Path = typer.Option(...), aligned: Path = typer.Option(...), flow: Path = typer.Option(...),
         out: Path = typer.Option(...)) -> str:
    return pack_stage.run(index=index, aligned=aligned, flow=flow, out=out)


if __name__ == "__main__":
    run(main)

"""DVC stage `pack`: the training cache (aligned onset/apex, flow + strain, labels, ids) as one HDF5 file."""
from pathlib import Path

import typer

from mfdan.preprocess import run_pack
from mfdan.stage import run


def main(index: Path = typer.Option(...), aligned: Path = typer.Option(...), flow: Path = typer.Option(...),
         out: Path = typer.Option(...)) -> None:
    run_pack(index, aligned, flow, out)
    typer.echo(f"pack: wrote {out}")


if __name__ == "__main__":
    run(main)

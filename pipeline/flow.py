"""DVC stage `flow`: TV-L1 onset -> apex on the aligned pairs, Eq. 3 strain, (u, v, strain) maps."""
from pathlib import Path

import typer

from mfdan.config import load_params, section
from mfdan.optical_flow import FlowConfig
from mfdan.preprocess import run_flow
from mfdan.stage import run


def main(params: Path = typer.Option(Path("params.yaml")), aligned: Path = typer.Option(...),
         out: Path = typer.Option(...)) -> None:
    run_flow(aligned, out, section(load_params(params), "flow", FlowConfig))
    typer.echo(f"flow: wrote {out}")


if __name__ == "__main__":
    run(main)

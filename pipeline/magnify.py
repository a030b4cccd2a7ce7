"""DVC stage `magnify`: K randomly-magnified training variants and one evaluation variant per sample."""
from pathlib import Path

import typer

from mfdan.config import load_params, section
from mfdan.magnification import MagnifyConfig, run_magnify
from mfdan.stage import run


def main(params: Path = typer.Option(Path("params.yaml")), cache: Path = typer.Option(...),
         weights: Path = typer.Option(...), out: Path = typer.Option(...)) -> None:
    cfg = section(load_params(params), "magnify", MagnifyConfig)
    run_magnify(cache, weights, out, cfg)
    typer.echo(f"magnify ({cfg.method}): wrote {out}")


if __name__ == "__main__":
    run(main)

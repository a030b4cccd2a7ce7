"""DVC stage `synth`: write the embedded demo dataset (all three native layouts) from params.yaml's `synth`."""
from pathlib import Path

import typer

from mfdan.config import load_params, section
from mfdan.stage import run
from mfdan.synth import SynthConfig, synthesize


def main(params: Path = typer.Option(Path("params.yaml")), out: Path = typer.Option(...)) -> None:
    cfg = section(load_params(params), "synth", SynthConfig)
    plans = synthesize("all", out, cfg, progress=True, overwrite=True)
    typer.echo(f"synth: {len(plans)} clips in {out}")


if __name__ == "__main__":
    run(main)

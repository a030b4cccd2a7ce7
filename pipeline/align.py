"""DVC stage `align`: one dlib-landmark alignment per clip (on the onset), apex by policy, aligned onset/apex."""
from pathlib import Path

import typer

from mfdan.alignment import AlignConfig
from mfdan.config import DataConfig, load_params, section
from mfdan.optical_flow import FlowConfig
from mfdan.preprocess import run_align
from mfdan.stage import run


def main(params: Path = typer.Option(Path("params.yaml")), index: Path = typer.Option(...),
         out: Path = typer.Option(...), report: Path = typer.Option(...)) -> None:
    p = load_params(params)
    rep = run_align(index, out, report, section(p, "align", AlignConfig), section(p, "data", DataConfig),
                    section(p, "flow", FlowConfig))
    typer.echo(f"align: {rep['samples']} clips, methods {rep['align_methods']}, apex {rep['apex_sources']}")


if __name__ == "__main__":
    run(main)

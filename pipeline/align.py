"""DVC stage `align`: one alignment per clip, apex by policy (mfdan.preprocess.align_stage)."""
from pathlib import Path

import typer

from mfdan.core.params import Params
from mfdan.core.stage import run
from mfdan.preprocess import align_stage


def main(params: Path = typer.Option(Path("params.yaml")), index: Path = typer.Option(...),
         out: Path = typer.Option(...), report: Path = typer.Option(...)) -> str:
    return align_stage.run(params=Params.load(params), index=index, out=out, report=report)


if __name__ == "__main__":
    run(main)

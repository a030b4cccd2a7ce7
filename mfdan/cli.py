"""The ``mfdan`` command line."""
from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from mfdan.errors import DatasetError

app = typer.Typer(
    name="mfdan",
    help="MFDAN micro-expression recognition: native dataset readers, demo data generator, and the "
         "pieces of the DVC pipeline (run the whole pipeline with `dvc repro`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Layout(str, Enum):
    casme2 = "casme2"
    samm = "samm"
    smic = "smic"
    all = "all"


class ValidateTarget(str, Enum):
    casme2 = "casme2"
    samm = "samm"
    smic = "smic"
    composite = "composite"
    casme2_5 = "casme2_5"
    samm_5 = "samm_5"


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


@app.command()
def synth(
    layout: Annotated[Layout, typer.Option(help="Native layout to write; 'all' writes casme2/, samm/, smic/.")],
    out: Annotated[Path, typer.Option(help="Folder to create (must not exist unless --overwrite).")],
    params: Annotated[Optional[Path], typer.Option(help="Take the generator settings from this params.yaml's "
                                                        "'synth' section.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the seed.")] = None,
    subjects: Annotated[Optional[int], typer.Option(help="Override subjects per dataset.")] = None,
    samples_per_subject: Annotated[Optional[int], typer.Option(help="Override clips per subject.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Generate a seeded demo dataset of micro-expression clips in a native layout, sheets included."""
    from dataclasses import replace

    from mfdan.config import load_params, section
    from mfdan.synth import SynthConfig, synthesize

    try:
        cfg = section(load_params(params), "synth", SynthConfig, source=str(params)) if params else SynthConfig()
        overrides = {k: v for k, v in dict(seed=seed, subjects=subjects,
                                           samples_per_subject=samples_per_subject).items() if v is not None}
        cfg = replace(cfg, **overrides)
        plans = synthesize(layout.value, out, cfg, progress=sys.stderr.isatty(), overwrite=overwrite)
    except (ValueError, FileExistsError, DatasetError) as exc:
        _fail(exc)
    typer.echo(f"wrote {len(plans)} clips ({layout.value}) to {out}")


@app.command()
def validate(
    dataset: Annotated[ValidateTarget, typer.Option(help="Dataset, or protocol (composite needs casme2/, samm/, "
                                                         "smic/ under ROOT).")],
    root: Annotated[Path, typer.Option(help="Dataset folder in its native layout.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Read a dataset and print counts per subject and class against the protocol's expectations."""
    from mfdan.validate import format_report
    from mfdan.validate import validate as run_validate

    try:
        rep = run_validate(dataset.value, root)
    except (DatasetError, ValueError) as exc:
        _fail(exc)
    typer.echo(json.dumps(rep, indent=1) if as_json else format_report(rep))


@app.command()
def folds(cache: Annotated[Path, typer.Option(help="The packed cache (data/cache.h5).")] = Path("data/cache.h5")) -> None:
    """Print the LOSO fold list of a packed cache, ready to paste into params.yaml."""
    import h5py

    from mfdan.cache import read_strings
    from mfdan.training import fold_name

    try:
        with h5py.File(cache, "r") as f:
            names = sorted({fold_name(d, s) for d, s in zip(read_strings(f["dataset"]), read_strings(f["subject"]))})
    except (OSError, KeyError) as exc:
        _fail(ValueError(f"{cache}: not a packed cache ({exc})"))
    typer.echo("folds:\n" + "".join(f"  - {n}\n" for n in names), nl=False)


@app.command()
def model(as_json: Annotated[bool, typer.Option("--json", help="Also print a JSON summary.")] = False) -> None:
    """Print MFDAN's parameter count and per-module breakdown at the paper configuration."""
    import sys as _sys

    from mfdan.model import main as model_main

    _sys.argv = ["mfdan.model"] + (["--json"] if as_json else [])
    model_main()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

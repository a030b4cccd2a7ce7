"""The ``mfdan`` command line."""
from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from mfdan.core.errors import DatasetError
from mfdan.data.protocols import DATASETS, PROTOCOLS

app = typer.Typer(
    name="mfdan",
    help="MFDAN micro-expression recognition: native dataset readers, demo data generator, and the "
         "pieces of the DVC pipeline (run the whole pipeline with `dvc repro`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# choice lists come from their one definition: the generator's layouts and the protocol table
Layout = Enum("Layout", {name: name for name in (*DATASETS, "all")}, type=str)
ValidateTarget = Enum("ValidateTarget", {name: name for name in PROTOCOLS}, type=str)


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

    from mfdan.core.params import Params
    from mfdan.synth.generator import SynthConfig, synthesize

    try:
        cfg = Params.load(params).section("synth", SynthConfig) if params else SynthConfig()
        overrides = {k: v for k, v in dict(seed=seed, subjects=subjects,
                                           samples_per_subject=samples_per_subject).items() if v is not None}
        cfg = replace(cfg, **overrides)
        plans = synthesize(layout.value, out, cfg, progress=True, overwrite=overwrite)
    except (ValueError, FileExistsError, FileNotFoundError, DatasetError) as exc:
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
    from mfdan.data.validate import format_report
    from mfdan.data.validate import validate as run_validate

    try:
        rep = run_validate(dataset.value, root)
    except (DatasetError, ValueError) as exc:
        _fail(exc)
    typer.echo(json.dumps(rep, indent=1) if as_json else format_report(rep))


@app.command()
def protocols(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object: protocol -> class -> "
                                                              "count.")] = False) -> None:
    """Print each protocol's reference sample count per class (what a complete copy of the dataset(s) holds;
    casme2 / samm / smic are MFDAN's Table II sets)."""
    from mfdan.data.protocols import reference_counts

    counts = reference_counts()
    if as_json:
        typer.echo(json.dumps(counts))
        return
    for name, per_class in counts.items():
        typer.echo(f"{name:<11} {sum(per_class.values()):>4}  " + "  ".join(f"{c} {n}" for c, n in per_class.items()))


@app.command()
def folds(cache: Annotated[Path, typer.Option(help="The packed cache (data/cache.h5).")] = Path("data/cache.h5")) -> None:
    """Print the LOSO fold list of a packed cache, ready to paste into params.yaml."""
    from mfdan.data.folds import cache_folds, folds_fix

    try:
        names = cache_folds(cache)
    except DatasetError as exc:
        _fail(exc)
    typer.echo(folds_fix(names), nl=False)


@app.command()
def params(
    file: Annotated[Path, typer.Argument(help="A params file (params.yaml or a profile).")] = Path("params.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Check a params file against the registry and print every section as the stages see it (defaults
    filled in). Each section is mirrored by one dataclass; unknown keys and bad values are errors."""
    import yaml

    from mfdan.core.params import Params

    try:
        resolved = Params.load(file).resolved()
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(resolved, indent=1))
    else:
        typer.echo(yaml.safe_dump(json.loads(json.dumps(resolved)), sort_keys=False), nl=False)


@app.command()
def model(as_json: Annotated[bool, typer.Option("--json", help="Also print a JSON summary.")] = False) -> None:
    """Print MFDAN's parameter count and per-module breakdown at the paper configuration."""
    import sys as _sys

    from mfdan.model.network import main as model_main

    _sys.argv = ["mfdan.model"] + (["--json"] if as_json else [])
    model_main()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""Run a `pipeline/` stage script's ``main`` as a small typer command.

Bad input (a :class:`~mfdan.errors.DatasetError` or a ``ValueError`` from params) becomes one clear
``error: ...`` line and exit status 2, instead of a traceback.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

import click
import typer

from mfdan.errors import DatasetError


def run(main: Callable[..., None]) -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(main)
    try:
        app(standalone_mode=False)
    except (DatasetError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: missing or malformed options
        exc.show()
        sys.exit(exc.exit_code)

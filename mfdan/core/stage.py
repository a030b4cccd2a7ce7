"""Run a `pipeline/` stage script's ``main`` as a small typer command.

``main`` parses the stage's options, calls its library entry (``mfdan.<phase>.<name>_stage.run``) and returns
the one-line summary that entry returns; this prints it. Bad input (a :class:`~mfdan.core.errors.DatasetError`
or a ``ValueError`` from params) becomes one clear ``error: ...`` line and exit status 2, an interrupt
(Ctrl-C) exit status 130, never a silent success.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

import click
import typer

from mfdan.core.errors import DatasetError, NonFiniteError


def run(main: Callable[..., str]) -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(main)
    try:
        summary = app(standalone_mode=False)
    except (DatasetError, ValueError, FileNotFoundError, NonFiniteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, click.exceptions.Abort):
        print("error: interrupted; no output of this run was kept", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: missing or malformed options
        exc.show()
        sys.exit(exc.exit_code)
    if isinstance(summary, int) and not isinstance(summary, bool):  # click's own exit codes (130 on Ctrl-C)
        if summary:
            print("error: interrupted; no output of this run was kept", file=sys.stderr)
        sys.exit(summary)
    if summary:
        typer.echo(summary)

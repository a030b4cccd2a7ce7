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


def stop_on_sigterm() -> None:
    """SIGTERM (``kill``, a batch scheduler's time limit) ends the process as Ctrl-C does: the ``finally`` and
    ``except BaseException`` blocks that remove temporary outputs run, instead of the process vanishing with
    them on disk."""
    import os
    import signal
    import threading

    owner = os.getpid()

    def interrupt(signum, frame):  # noqa: ARG001 - the signal handler's signature
        if os.getpid() != owner:  # a forked worker inherited this: it ends as it always did
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def run(main: Callable[..., str]) -> None:
    stop_on_sigterm()
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

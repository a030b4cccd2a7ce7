"""The process that prepares ``mfdan predict``'s clip inputs while the command imports PyTorch.

A two-frame prediction spends most of its wall time starting up: importing PyTorch (1.4–1.9 s on the 2-core
Intel Xeon of docs/benchmarks.md) and reading dlib's detector and 68-point predictor (1.1–1.6 s). Both hold the
GIL, so a thread does not overlap them; a process does. :class:`Preparer` forks before PyTorch is imported; the
child reads the model card's preprocessing sections, loads dlib's models and prepares the clip inputs in order
(:func:`mfdan.predict.prepare.prepare_clip`: read, align, the apex, TV-L1 flow and strain), sending back the
aligned onset and apex and the flow; meanwhile the command imports PyTorch and loads the model, then magnifies
and classifies what arrives (:func:`mfdan.predict.predictor.classify`).

This module imports nothing heavy, so that the fork happens as early as it can: OpenCV and the preprocessing
code are imported by the child. Only on Linux, and only while PyTorch is not imported yet (a caller in the same
process, as the tests' in-process calls, runs everything in one process): elsewhere forking a process that has
loaded OpenCV and NumPy's BLAS is not safe (macOS) or not possible (Windows).
"""
from __future__ import annotations

import multiprocessing
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

Job = Callable[[], Any]  #: reads one clip (a :class:`mfdan.predict.inputs.Clip`); DatasetError on bad input


def available() -> bool:
    """Whether the command may fork now (module docstring)."""
    return (sys.platform.startswith("linux") and "torch" not in sys.modules
            and "fork" in multiprocessing.get_all_start_methods())


class Preparer:
    """A forked process preparing ``jobs`` in order with the preprocessing of the card in ``model_dir``;
    :meth:`start` says whether it could (the card read, dlib loaded), :meth:`results` yields per job
    ``(read seconds, Prepared)`` or the :class:`DatasetError` it raised."""

    def __init__(self, jobs: list[Job], model_dir: Path, *, align_as: str) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, args=(child, jobs, Path(model_dir), align_as), daemon=True,
                                 name="mfdan-predict-prepare")
        self._proc.start()
        child.close()
        self.n = len(jobs)
        self.load_s: float | None = None   #: dlib's models, in the child (beside PyTorch's import here)

    def start(self) -> bool:
        """Wait for the child to be ready: True once it has loaded dlib; False when it could not read the card's
        preprocessing (the caller then prepares in its own process; the full card check names any problem)."""
        msg = self._recv()
        if msg[0] == "nocard":
            self.close()
            return False
        self.load_s = msg[1]
        return True

    def results(self) -> Iterator[Any]:
        for _ in range(self.n):
            msg = self._recv()
            yield msg[1] if msg[0] == "error" else (msg[1], msg[2])

    def _recv(self) -> tuple:
        try:
            msg = self._conn.recv()
        except EOFError:
            self._proc.join(5)
            raise RuntimeError(f"the preparing process ended (exit code {self._proc.exitcode}) before every "
                               "input was prepared") from None
        if msg[0] == "crash":
            raise RuntimeError(f"preparing an input failed:\n{msg[1]}")
        return msg

    def close(self, *, kill: bool = False) -> None:
        """Wait for the child to end (``kill``: end it now, its work unwanted)."""
        self._conn.close()
        if kill:
            self._proc.kill()
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


def _serve(conn, jobs: list[Job], model_dir: Path, align_as: str) -> None:
    """The child: the card's sections and dlib's models, then each job's clip read and prepared, sent in order."""
    try:
        from mfdan.core.errors import DatasetError
        from mfdan.predict.prepare import card_sections, prepare_clip
        from mfdan.preprocess.landmarks import load_models

        sections = card_sections(model_dir)
        if sections is None:
            conn.send(("nocard",))
            return
        t = time.perf_counter()
        load_models()
        conn.send(("load", time.perf_counter() - t))
        for read in jobs:
            try:
                t = time.perf_counter()
                clip = read()
                read_s = time.perf_counter() - t
                conn.send(("ok", read_s, prepare_clip(clip, align=sections.align, flow=sections.flow,
                                                      apex_policy=sections.apex_policy, align_as=align_as,
                                                      landmarks=sections.landmarks)))
            except DatasetError as exc:
                conn.send(("error", exc))
    except (BrokenPipeError, KeyboardInterrupt):  # the command has gone (or Ctrl-C): nothing to send it
        pass
    except Exception:  # noqa: BLE001 - reported by the command, which stops
        conn.send(("crash", traceback.format_exc()))
    finally:
        conn.close()

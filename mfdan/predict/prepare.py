"""``mfdan predict``'s preprocessing of one clip without PyTorch — alignment, the apex, TV-L1 flow and strain —
and a forked process that runs it while the command imports PyTorch.

A two-frame prediction spends most of its wall time starting up: importing PyTorch (1.5–1.8 s on the 2-core
CPUs of docs/benchmarks.md) and reading dlib's detector and 68-point predictor (1.1–1.3 s). Both hold the GIL,
so a thread does not overlap them; a process does. :class:`Preparer` forks before PyTorch is imported; the child
loads dlib's models and prepares the clip inputs in order (:func:`prepare_clip`), sending back the aligned onset
and apex and the flow; meanwhile the command imports PyTorch and loads the model, then magnifies and classifies
what arrives (:func:`mfdan.predict.predictor.classify`). The in-process path
(:func:`mfdan.predict.predictor.predict_clip`) runs the same :func:`prepare_clip`, so both give the same bytes
(tests/test_predict.py). On other systems than Linux, and when PyTorch is imported already (a caller in the same
process, as the tests' in-process calls), everything runs in one process.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from mfdan.core.errors import DatasetError, check_finite
from mfdan.predict.inputs import Clip
from mfdan.preprocess.alignment import AlignConfig, NoFaceError, estimate_alignment
from mfdan.preprocess.apex_spotting import spot_apex
from mfdan.preprocess.optical_flow import FlowConfig, compute_flow, flow_input

#: the architectures that read dlib's landmarks of the aligned onset (their ``inputs``; tests/test_predict.py)
LANDMARK_ARCHS = ("htnet",)
#: model_card's CARD and DATA_KEYS, which it cannot lend without importing PyTorch (tests/test_predict.py)
CARD = "card.json"
DATA_KEYS = ("apex", "apex_fallback", "spotting_flow")


@dataclass
class Prepared:
    """One clip after the pipeline's preprocessing: what the network's side needs, and nothing heavier."""

    input: str                       #: the clip's source, as the user gave it
    onset: str | int                 #: the onset frame's file (two-frame input) or index
    apex: str | int
    apex_source: str                 #: ``given`` or ``flow_peak``
    onset_img: np.ndarray            #: aligned onset, H×W×3 uint8
    apex_img: np.ndarray             #: aligned apex
    flow: np.ndarray                 #: (3, S, S) float32: u, v, strain as the flow stage stores them
    landmarks: np.ndarray | None = None  #: dlib's 68 points on the aligned onset (LANDMARK_ARCHS only)
    seconds: dict[str, float] = field(default_factory=dict)


def prepare_clip(clip: Clip, *, align: AlignConfig, flow: FlowConfig, apex_policy: dict[str, str], align_as: str,
                 landmarks: bool = False) -> Prepared:
    """Alignment estimated once on the onset and applied to every frame used (as ``align``), the apex spotted with
    the pipeline's ``flow_peak`` policy when none is given, TV-L1 flow and strain (as ``flow``); a
    :class:`DatasetError` names the file at fault."""
    seconds: dict[str, float] = {}
    size = align.output_size
    t = time.perf_counter()
    try:  # one transform per clip, estimated on the onset
        al = estimate_alignment(clip.frames[clip.onset], align_as, align)
    except NoFaceError:
        raise DatasetError(clip.names[clip.onset], "dlib found no face in this onset frame") from None
    if clip.apex is None:  # flow_peak over the frames read from the onset on
        numbers = sorted(i for i in clip.frames if i >= clip.onset)  # frame numbers, the onset first
        frames = [al.apply(clip.frames[i], size) for i in numbers]
        seconds["align"] = time.perf_counter() - t
        t = time.perf_counter()
        k = spot_apex(frames, method=apex_policy["spotting_flow"], flow_cfg=flow)  # position in `numbers`
        apex = numbers[k]
        onset_img, apex_img = frames[0], frames[k]
        seconds["spot"] = time.perf_counter() - t
        source = "flow_peak"
    else:
        apex = clip.apex
        onset_img, apex_img = al.apply(clip.frames[clip.onset], size), al.apply(clip.frames[apex], size)
        seconds["align"] = time.perf_counter() - t
        source = "given"

    t = time.perf_counter()
    uvs = flow_input(compute_flow(onset_img, apex_img, flow), flow)
    check_finite(uvs, f"{clip.source}: flow")
    seconds["flow"] = time.perf_counter() - t
    points = None
    if landmarks:  # as the align stage stores them: dlib on the aligned onset
        from mfdan.preprocess.landmarks import aligned_landmarks

        points = aligned_landmarks(onset_img)[0]

    def where(i: int) -> str | int:
        return clip.names[i] if clip.kind == "frames" else i

    return Prepared(input=clip.source, onset=where(clip.onset), apex=where(apex), apex_source=source,
                    onset_img=onset_img, apex_img=apex_img, flow=uvs, landmarks=points, seconds=seconds)


@dataclass(frozen=True)
class Sections:
    """What :func:`prepare_clip` needs from a model card, read without PyTorch."""

    align: AlignConfig
    flow: FlowConfig
    apex_policy: dict[str, str]
    landmarks: bool


def card_sections(model_dir: Path) -> Sections | None:
    """The card's preprocessing sections, or None when the card cannot be read so (the full load,
    :func:`mfdan.predict.model_card.load_final`, then names the problem)."""
    from mfdan.core.params import from_dict

    try:
        card = json.loads((Path(model_dir) / CARD).read_text())
        p = card["params"]
        return Sections(align=from_dict(AlignConfig, p["align"], where="card"),
                        flow=from_dict(FlowConfig, p["flow"], where="card"),
                        apex_policy={k: p["data"][k] for k in DATA_KEYS},
                        landmarks=p.get("arch", "mfdan") in LANDMARK_ARCHS)
    except Exception:  # noqa: BLE001 - any problem is load_final's to report, with the file named
        return None


Job = Callable[[], Clip]


class Preparer:
    """A forked process that loads dlib's models and prepares ``jobs`` (each a function reading one clip) in
    order; :meth:`results` yields, per job, ``(read seconds, Prepared)`` or the :class:`DatasetError` it raised.
    Start it before PyTorch is imported (module docstring)."""

    def __init__(self, jobs: list[Job], sections: Sections, *, align_as: str) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, args=(child, jobs, sections, align_as), daemon=True,
                                 name="mfdan-predict-prepare")
        self._proc.start()
        child.close()
        self.n = len(jobs)
        self.load_s: float | None = None   #: dlib's models, in the child (beside PyTorch's import here)

    @staticmethod
    def available() -> bool:
        """Linux only: elsewhere forking a process that has loaded OpenCV and NumPy's BLAS is not safe (macOS) or
        not possible (Windows), and everything runs in one process."""
        return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()

    def results(self) -> Iterator[tuple[float, Prepared] | DatasetError]:
        for _ in range(self.n):
            try:
                msg = self._conn.recv()
            except EOFError:
                self._proc.join(5)
                raise RuntimeError(f"the preparing process ended (exit code {self._proc.exitcode}) before "
                                   "every input was prepared") from None
            if msg[0] == "load":
                self.load_s = msg[1]
                msg = self._conn.recv()
            if msg[0] == "crash":
                raise RuntimeError(f"preparing an input failed:\n{msg[1]}")
            yield msg[1] if msg[0] == "error" else (msg[1], msg[2])

    def close(self, *, kill: bool = False) -> None:
        """Wait for the child to end (``kill``: end it now, its work unwanted)."""
        self._conn.close()
        if kill:
            self._proc.kill()
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


def _serve(conn, jobs: list[Job], sections: Sections, align_as: str) -> None:
    """The child: dlib's models, then each job's clip read and prepared, sent in order."""
    try:
        from mfdan.preprocess.landmarks import load_models

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

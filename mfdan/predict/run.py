"""A prediction run: what ``mfdan predict`` does, as a library.

:class:`Request` holds what the user asked for; :func:`plan` turns it into one job per input (a clip to read,
or a long recording to spot in) and raises :class:`UsageError` for options that do not fit together;
:class:`PredictionRun` loads the model and yields, per input, one :class:`Outcome`: its answers (one for a
clip, one per spotted micro-expression of a long recording), or the error that stopped it.
:mod:`mfdan.predict.render` turns answers into text or JSON lines.

Start-up order matters for a two-frame prediction (docs/predict.md): the clip inputs are read, aligned and turned
into flow by a process forked *before* PyTorch is imported (:mod:`mfdan.predict.preparer`), so this module
imports nothing heavy at its top; PyTorch and the model code are imported in :meth:`PredictionRun.open`.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from mfdan.core.errors import DatasetError
from mfdan.predict import preparer as forked


class UsageError(ValueError):
    """Options that do not fit together (the command line answers with exit status 2)."""


def margin(probabilities: dict[str, float]) -> float:
    """The largest probability minus the second largest (the largest alone for one class)."""
    top = sorted(probabilities.values(), reverse=True)
    return float(top[0] - (top[1] if len(top) > 1 else 0.0))


@dataclass
class Request:
    """What to predict, and how (the ``mfdan predict`` options, same names)."""

    inputs: list[Path] = field(default_factory=list)  #: clip folders or video files
    model_dir: Path = Path("models/final")
    onset: Optional[str] = None    #: a frame file (two-frame form, with ``apex``) or a frame index
    apex: Optional[str] = None
    align_as: str = "casme2"       #: whose alignment policy: casme2 | samm | smic | ...
    cam: Optional[Path] = None     #: folder for Grad-CAM overlays and magnification panels
    timeline: Optional[Path] = None  #: folder for long recordings' timeline PNGs
    device: str = "auto"
    spot: bool = False             #: spot every input, whatever its length
    whole: bool = False            #: never spot: every video is one clip
    fps: Optional[float] = None    #: frame rate of a frame folder to spot in, or a video's override
    spotter: str = "auto"          #: long recordings: auto (softnet when a spotter folder is there) | lbp | softnet
    spotter_model: Optional[Path] = None  #: the learned spotter's folder (None: long/models/spotter)
    min_margin: float = 0.1        #: an answer whose top two probabilities are closer than this is unsure
    drop_unsure: bool = False      #: leave unsure answers out (said on stderr) instead of flagging them


@dataclass
class Answer:
    """One recognised micro-expression: a clip's, or one spotted interval's of a long recording."""

    input: str
    label: str
    probabilities: dict[str, float]
    onset: str | int               #: a frame file (two-frame input) or a frame index
    apex: str | int
    #: ``given`` (by the user), ``flow_peak`` (the apex spotted in a clip) or ``interval`` (the whole interval
    #: spotted in a long recording; then ``offset`` and the ``*_s`` times are set)
    apex_source: str
    offset: Optional[int] = None
    times_s: Optional[tuple[float, float, float]] = None   #: onset, apex, offset in seconds (``interval``)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  #: how its input was read (a video's miscounted header)
    spotter: Optional[str] = None  #: which spotter found the interval: softnet | feature_difference (``interval``)
    spotter_trained_on: Optional[str] = None  #: the learned spotter's data: generated | real | mixed | unknown
    #: the recognition model's data, from its card (:mod:`mfdan.data.provenance`): generated | real | mixed | unknown
    trained_on: str = "unknown"
    unsure: bool = False           #: its margin is under ``--min-margin``

    @property
    def margin(self) -> float:
        """The top probability minus the second: how far the answer is from a coin flip between two classes."""
        return margin(self.probabilities)

    def record(self, timings: bool = False) -> dict[str, Any]:
        """The JSON line. A clip: ``{"input", "label", "probabilities", "margin", "unsure", "onset", "apex",
        "trained_on"}`` (+ ``seconds``); a spotted interval: ``{"input", "onset", "apex", "offset", "onset_s",
        "apex_s", "offset_s", "spotter", "label", "probabilities", "margin", "unsure", "trained_on"}`` (+
        ``"spotter_trained_on"`` for SOFTNet's); either with ``"notes"`` when its input was read with something
        to say."""
        judged = {"label": self.label, "probabilities": self.probabilities, "margin": round(self.margin, 6),
                  "unsure": self.unsure}
        if self.apex_source == "interval":
            assert self.times_s is not None
            out = {"input": self.input, "onset": self.onset, "apex": self.apex, "offset": self.offset,
                   **dict(zip(("onset_s", "apex_s", "offset_s"), self.times_s)), "spotter": self.spotter,
                   **judged, "trained_on": self.trained_on}
            if self.spotter_trained_on is not None:
                out["spotter_trained_on"] = self.spotter_trained_on
        else:
            out = {"input": self.input, **judged, "onset": self.onset, "apex": self.apex,
                   "trained_on": self.trained_on}
            if timings:
                out["seconds"] = {k: round(v, 4) for k, v in self.seconds.items()}
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass
class Outcome:
    """One input's result: its answers, or the error that stopped it; ``notes`` are said on stderr."""

    input: str
    answers: list[Answer] = field(default_factory=list)
    error: Optional[str] = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Job:
    """One input: a clip (``read`` returns a :class:`mfdan.predict.inputs.Clip`) or a long recording to spot."""

    source: str
    read: Optional[Callable[[], Any]] = None
    spot: Optional[Path] = None


def _frame_index(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--{name} {value!r}: with clip folders or videos, --{name} is a frame index "
                         "(an integer)") from None


def _read_input(p: Path, first: int, peak: int | None):
    from mfdan.predict.inputs import read_input  # OpenCV: imported by the preparing process, when forked

    return read_input(p, first, peak)


def _two_frames(a: str, b: str):
    from mfdan.predict.inputs import two_frames

    return two_frames(a, b)


def writable_folder(option: str, folder: Path) -> None:
    """An output folder option checked before any work: a folder, or a path whose nearest existing parent is a
    folder this process may write in (it is created when the first file is written)."""
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(f"{option} {folder}: exists and is not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {folder}: this folder is not writable")
        return
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {folder}: {parent} is a file, so the folder cannot be made")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {folder}: cannot be made ({parent} is not writable)")


def plan(req: Request) -> list[Job]:
    """One job per input, in order: a video longer than ``spot.short_video`` (or any input, with ``spot``) is
    spotted in unless ``whole`` or a frame index was given; the two-frame form is one clip. Every option is
    checked here, before any work: output folders, the frame rate, the order of onset and apex."""
    if req.spot and req.whole:
        raise UsageError("--spot and --whole exclude each other")
    if req.fps is not None and not (math.isfinite(req.fps) and req.fps > 0):
        raise UsageError(f"--fps {req.fps}: a frame rate is a positive number")
    if not (math.isfinite(req.min_margin) and 0 <= req.min_margin <= 1):
        raise UsageError(f"--min-margin {req.min_margin}: a probability difference, from 0 (flag nothing) to 1")
    if req.spotter not in ("auto", "lbp", "softnet"):
        raise UsageError(f"--spotter {req.spotter!r}: one of auto, lbp, softnet")
    if req.spotter_model is not None and req.spotter == "lbp":
        raise UsageError("--spotter-model names a learned spotter: leave out --spotter lbp")
    for option, folder in (("--cam", req.cam), ("--timeline", req.timeline)):
        if folder is not None:
            writable_folder(option, folder)
    if req.inputs:
        first, peak = _frame_index("onset", req.onset) or 0, _frame_index("apex", req.apex)
        if first < 0 or (peak is not None and peak < 0):
            raise UsageError("--onset / --apex: frame indices start at 0")
        if peak is not None and peak < first:
            raise UsageError(f"--apex {peak} comes before --onset {first}")
        if req.onset is not None or req.apex is not None:
            if req.spot:
                raise UsageError("--spot finds onsets and apexes itself: leave out --onset / --apex")
            long = [False] * len(req.inputs)
        elif req.whole:
            long = [False] * len(req.inputs)
        else:
            from mfdan.spotting.config import SpotConfig
            from mfdan.spotting.video_frames import is_long

            short = SpotConfig().short_video
            long = [req.spot or (p.is_file() and is_long(p, short)) for p in req.inputs]
        return [Job(str(p), spot=p) if is_spot else Job(str(p), read=lambda p=p: _read_input(p, first, peak))
                for p, is_spot in zip(req.inputs, long)]
    if req.onset is not None and req.apex is not None:
        onset, apex = req.onset, req.apex
        return [Job(onset, read=lambda: _two_frames(onset, apex))]
    raise UsageError("give clip folders or video files, or two frames as --onset FILE --apex FILE")


class PredictionRun:
    """``with PredictionRun(req) as run:`` loads the model (a :class:`DatasetError` or ``ValueError`` names what
    is wrong with the model folder or ``--cam``), then ``for outcome in run`` yields one :class:`Outcome` per
    input, in order. ``run.classes`` are the model's class names; ``run.notes`` what to tell the user once, after
    opening (a model trained on generated data, a card too old to say, which spotter long recordings get)."""

    def __init__(self, req: Request) -> None:
        self.req = req
        self.jobs = plan(req)
        self._preparer: forked.Preparer | None = None
        self._opened = False
        self._started: dict[str, float] = {}
        self._taken: set[str] = set()   #: overlay names used so far
        self.classes: tuple[str, ...] = ()
        self.notes: list[str] = []
        self.spotter: Any = None        #: the learned spotter (mfdan.spotting.spotter_folder), or None
        self.trained_on = "unknown"     #: the recognition model's data (its card)

    def __len__(self) -> int:
        return len(self.jobs)

    def __enter__(self) -> "PredictionRun":
        try:
            self.open()
        except BaseException:
            self.close(kill=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(kill=exc_type is not None)

    def open(self) -> None:
        """Fork the preparing process (before PyTorch is imported: the module docstring), then import PyTorch,
        load the model folder and dlib's models (here, or in the preparing process)."""
        req = self.req
        clips = [job.read for job in self.jobs if job.read is not None]  # long recordings are spotted here
        if clips and forked.available():
            self._preparer = forked.Preparer(clips, req.model_dir, align_as=req.align_as)
        t = time.perf_counter()
        from mfdan.core.device import resolve_device  # torch: most of a prediction's start-up
        from mfdan.predict.model_card import load_final

        self._started["import"] = time.perf_counter() - t  # once per run: reported with the first input
        t = time.perf_counter()
        self.device = resolve_device(req.device)
        self.fm = load_final(req.model_dir, self.device)
        self.classes = tuple(self.fm.classes)
        from mfdan.data.provenance import knowledge

        known = knowledge(self.fm.card, req.model_dir, what="the recognition model", unit="clip")
        self.trained_on = known.source
        self.notes += [known.note] if known.note else []
        if any(job.spot is not None for job in self.jobs) or req.spotter == "softnet":
            from mfdan.predict.long_recording import DEFAULT_SPOTTER_DIR, choose_spotter

            self.spotter = choose_spotter(req.spotter, req.spotter_model)
            if self.spotter is not None:
                self.notes += [self.spotter.knowledge.note] if self.spotter.knowledge.note else []
            elif req.spotter == "auto" and any(job.spot is not None for job in self.jobs):
                self.notes.append(f"note: spotting with the training-free LBP spotter: no learned spotter in "
                                  f"{req.spotter_model or DEFAULT_SPOTTER_DIR} (`dvc repro long/dvc.yaml` trains one)")
        if req.cam is not None:
            from mfdan.evaluate.gradcam import supports_cam

            if not supports_cam(self.fm.model):
                raise ValueError(f"--cam: the {self.fm.card['params'].get('arch', 'mfdan')} model in "
                                 f"{req.model_dir} has no spatial map for Grad-CAM; run without --cam")
        self._started["load"] = time.perf_counter() - t  # the model folder
        if self._preparer is not None and not self._preparer.start():  # it could not read the card's sections
            self._preparer = None
        if self._preparer is None or len(clips) < len(self.jobs):
            from mfdan.preprocess.landmarks import load_models

            t = time.perf_counter()
            load_models()  # dlib's detector and landmark predictor, once, here
            self._started["dlib"] = time.perf_counter() - t
        else:
            self._started["dlib"] = self._preparer.load_s  # in the preparing process, beside PyTorch's import
        self._opened = True

    def close(self, *, kill: bool = False) -> None:
        """End the preparing process: waited for when every input was prepared, ended at once otherwise."""
        if self._preparer is not None:
            self._preparer.close(kill=kill)
            self._preparer = None

    def __iter__(self) -> Iterator[Outcome]:
        if not self._opened:
            raise RuntimeError("PredictionRun: open it first (`with PredictionRun(request) as run:`)")
        prepared = self._preparer.results() if self._preparer is not None else None
        for job in self.jobs:
            try:
                if job.spot is not None:
                    yield self._judged(self._spotted(job.spot))
                else:
                    answer = self._clip(job, prepared)
                    yield self._judged(Outcome(job.source, answers=[answer], notes=list(answer.notes)))
            except DatasetError as exc:
                yield Outcome(job.source, error=str(exc))

    def _dropped(self, probabilities: dict[str, float]) -> bool:
        return self.req.drop_unsure and margin(probabilities) < self.req.min_margin

    def _judged(self, out: Outcome) -> Outcome:
        """Each answer marked with the model's data and ``unsure`` under ``--min-margin``; with
        ``--drop-unsure`` the unsure ones left out, and said in one note."""
        req = self.req
        for a in out.answers:
            a.trained_on = self.trained_on
            a.unsure = a.margin < req.min_margin
        if req.drop_unsure:
            dropped = [a for a in out.answers if a.unsure]
            if dropped:
                out.answers = [a for a in out.answers if not a.unsure]
                said = ", ".join(f"{a.label} {a.margin:.3f}" + (f" at {a.onset}-{a.offset}" if a.offset is not None
                                                                  else "") for a in dropped)
                out.notes.append(f"{out.input}: {len(dropped)} answer{'s' if len(dropped) > 1 else ''} under "
                                 f"--min-margin {req.min_margin:g} dropped (--drop-unsure): {said}")
        return out

    def _clip(self, job: Job, prepared: Iterator[Any] | None) -> Answer:
        from mfdan.predict.predictor import classify, predict_clip

        cam = self.req.cam is not None
        if prepared is not None:
            got = next(prepared)
            if isinstance(got, DatasetError):
                raise got
            read_s, prep = got
            p = classify(self.fm, prep, cam=cam, device=self.device)
        else:
            t = time.perf_counter()
            clip = job.read()
            read_s = time.perf_counter() - t
            p = predict_clip(self.fm, clip, align_as=self.req.align_as, cam=cam, device=self.device)
        seconds = {**self._started, "read": read_s, **p.seconds}
        self._started = {}
        if cam and not self._dropped(p.probabilities):  # no overlay for an answer --drop-unsure leaves out
            from mfdan.predict.predictor import cam_name, write_cam

            write_cam(self.req.cam, cam_name(job.source, self._taken), p)
        return Answer(input=p.input, label=p.label, probabilities=p.probabilities, onset=p.onset, apex=p.apex,
                      apex_source=p.apex_source, seconds=seconds, notes=list(p.notes))

    def _spotted(self, path: Path) -> Outcome:
        """A long recording: spot, recognise each micro-expression, and draw its timeline on request."""
        from mfdan.predict.predictor import cam_name, write_cam
        from mfdan.spotting.config import SpotConfig
        from mfdan.predict.long_recording import spot_recording

        req = self.req
        res = spot_recording(self.fm, path, SpotConfig(), fps=req.fps, cam=req.cam is not None, device=self.device,
                             spotter=self.spotter)
        out = Outcome(str(path), notes=list(res.notes))
        s = lambda i: round(i / res.fps, 4)  # noqa: E731
        for iv, p in res.answers:
            out.answers.append(Answer(input=str(path), label=p.label, probabilities=p.probabilities, onset=iv.onset,
                                      apex=iv.apex, offset=iv.offset, apex_source="interval",
                                      times_s=(s(iv.onset), s(iv.apex), s(iv.offset)), seconds=p.seconds,
                                      notes=list(res.notes), spotter=res.spotter,
                                      spotter_trained_on=(self.spotter.knowledge.source if self.spotter is not None
                                                          else None)))
            if req.cam is not None and not self._dropped(p.probabilities):
                write_cam(req.cam, cam_name(f"{path.stem}_{iv.onset}", self._taken), p)
        if not res.answers:
            out.notes.append(f"{path}: no micro-expression spotted by {res.spotter} ({res.n} frames, {int(res.face.sum())} with a "
                             "face" + (f", {res.unrecognised} without a face at the onset" if res.unrecognised
                                       else "") + ")")
        if req.timeline is not None:
            from mfdan.spotting import timeline as tl

            kept = [iv for iv, p in res.answers if not self._dropped(p.probabilities)]  # as the answers printed
            img = tl.draw(res.curve, res.fps, kept + res.macro, threshold=res.threshold, face=res.face,
                          title=str(path))
            tl.write(req.timeline / f"{path.stem or 'recording'}.png", img)
        return out

"""What a generated long recording will be, before a pixel is drawn: the ``long_synth`` section
(:class:`LongSynthConfig`, long/params.yaml), each recording's names in its release's style and its events
(:class:`Event`: micro- and macro-expressions, blinks, head turns, spans without a face), placed one after another
at random gaps, in random order (:func:`plan_recording`). :mod:`mfdan.synth.long_videos` renders and writes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np

from mfdan.core.params import AtLeast, Increasing, NON_NEGATIVE, POSITIVE
from mfdan.data.long_protocols import LONG_DATASETS, RELEASE_FPS
from mfdan.synth.action_units import EMOTION_AUS
from mfdan.synth.config import SynthConfig, seeded_rng

#: the clip layout whose camera each long-video release shares (frame size, colour): CAS(ME)²'s 640×480
#: colour is CASME II's raw geometry, the SAMM long videos are SAMM's 2040×1088 grey
CAMERA = {"casme_sq": "casme2", "samm_lv": "samm"}
#: CAS(ME)² video codes and names in the release's naming style (``naming rule2``)
CASME_SQ_VIDEOS = (("0101", "disgustingteeth"), ("0401", "anger1"), ("0502", "happy2"), ("0503", "surprise1"))
EMOTIONS = {"casme_sq": ("positive", "negative", "surprise"),
            "samm_lv": ("happiness", "anger", "surprise", "disgust", "contempt")}
MACRO_EMOTIONS = ("happiness", "surprise", "disgust")
#: each event kind's duration range, seconds
DURATIONS = {"micro": (0.25, 0.45), "macro": (0.8, 1.6), "blink": (0.1, 0.2), "head": (0.4, 0.8)}


@dataclass(frozen=True)
class LongSynthConfig:
    """Mirrors the ``long_synth`` section of long/params.yaml."""

    seed: Annotated[int, NON_NEGATIVE] = 0
    subjects: Annotated[int, AtLeast(1)] = 3
    videos_per_subject: Annotated[int, AtLeast(1)] = 1
    seconds: Annotated[float, AtLeast(4)] = 16.0
    fps: Annotated[float, NON_NEGATIVE] = 0.0          #: 0: the release's (30 / 200)
    geometry: str = "release"                          #: release | compact
    frame_size: Annotated[int, AtLeast(128)] = 160     #: compact only
    micro: Annotated[int, NON_NEGATIVE] = 3            #: per recording
    macro: Annotated[int, NON_NEGATIVE] = 1
    blinks: Annotated[int, NON_NEGATIVE] = 3
    head_turns: Annotated[int, NON_NEGATIVE] = 1
    face_gaps: bool = True
    gap: Annotated[float, POSITIVE] = 1.0              #: seconds without a face
    amplitude: Annotated[tuple[float, float], POSITIVE, Increasing(strict=False)] = (1.2, 2.4)
    macro_amplitude: Annotated[tuple[float, float], POSITIVE, Increasing(strict=False)] = (4.0, 7.0)
    noise: Annotated[float, NON_NEGATIVE] = 1.5
    jitter: Annotated[float, NON_NEGATIVE] = 0.1
    faces: tuple[str, ...] = ("astronaut",)
    layouts: tuple[str, ...] = LONG_DATASETS

    def __post_init__(self) -> None:
        if self.geometry not in ("release", "compact"):
            raise ValueError(f"long_synth.geometry must be release or compact, not {self.geometry!r}")
        if not self.layouts or set(self.layouts) - set(LONG_DATASETS):
            raise ValueError(f"long_synth.layouts must be names of {LONG_DATASETS}, not {list(self.layouts)}")

    def rate(self, layout: str) -> float:
        return self.fps or RELEASE_FPS[layout]

    def clip_config(self) -> SynthConfig:
        """The clip generator's config for the faces, seeds, noise and jitter of these recordings."""
        return SynthConfig(seed=self.seed, geometry=self.geometry, frame_size=self.frame_size, faces=self.faces,
                           noise=self.noise, jitter=self.jitter)


@dataclass(frozen=True)
class Event:
    kind: str            #: micro | macro | blink | head | absent
    onset: int           #: 0-based frame indices, inclusive
    apex: int
    offset: int
    emotion: str = ""
    aus: tuple[str, ...] = ()
    amplitude: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)  #: head turns: the displacement it ends at, px


@dataclass(frozen=True)
class RecordingPlan:
    layout: str
    subject: str         #: SAMM: 006; CAS(ME)²: the subject folder s15
    participant: int     #: CAS(ME)²'s participant number (naming rule1)
    video: str           #: the folder name
    name: str            #: CAS(ME)²: the video name (disgustingteeth); SAMM: the video (006_1)
    frames: int
    fps: float
    events: tuple[Event, ...]


def plan_layout(layout: str, cfg: LongSynthConfig) -> list[RecordingPlan]:
    """Every recording of ``layout``: ``videos_per_subject`` for each of ``subjects``."""
    return [plan_recording(layout, s, v, cfg) for s in range(cfg.subjects) for v in range(cfg.videos_per_subject)]


def plan_recording(layout: str, s: int, v: int, cfg: LongSynthConfig) -> RecordingPlan:
    """Recording ``v`` of subject number ``s`` (0-based): its events."""
    fps = cfg.rate(layout)
    n = int(round(cfg.seconds * fps))
    participant, subject, video, name = _names(layout, s, v)
    rng = seeded_rng(cfg.clip_config(), "long", layout, video, "plan")
    kinds = ["micro"] * cfg.micro + ["macro"] * cfg.macro + ["blink"] * cfg.blinks + ["head"] * cfg.head_turns
    rng.shuffle(kinds)
    absent, start, end = _face_gap(s * cfg.videos_per_subject + v, n, fps, cfg)
    events = absent + _place_events(kinds, start, end, fps, layout, rng, cfg)
    return RecordingPlan(layout, subject, participant, video, name, n, fps, tuple(events))


def _names(layout: str, s: int, v: int) -> tuple[int, str, str, str]:
    """(participant, subject, video folder, video name) in the release's naming."""
    if layout == "casme_sq":
        code, name = CASME_SQ_VIDEOS[v % len(CASME_SQ_VIDEOS)]
        return s + 1, f"s{15 + s}", f"{15 + s}_{code}{name}", name
    subject = f"{6 + s:03d}"
    return s + 1, subject, f"{subject}_{v + 1}", f"{subject}_{v + 1}"


def _face_gap(k: int, n: int, fps: float, cfg: LongSynthConfig) -> tuple[list[Event], int, int]:
    """Recording number ``k``'s span without a face (with ``face_gaps``: at the start of even-numbered
    recordings, at the end of odd ones), and the frames [start, end) the face is there."""
    if not cfg.face_gaps:
        return [], 0, n
    g = int(round(cfg.gap * fps))
    if k % 2 == 0:
        return [Event("absent", 0, 0, g - 1)], g, n
    return [Event("absent", n - g, n - g, n - 1)], 0, n - g


def _place_events(kinds: list[str], start: int, end: int, fps: float, layout: str, rng: np.random.Generator,
                  cfg: LongSynthConfig) -> list[Event]:
    """The events of ``kinds`` in that order, each after a random gap, while they fit before ``end``."""
    events: list[Event] = []
    t = start + int(round(0.6 * fps))
    micro_i = 0
    for kind in kinds:
        t += int(round(rng.uniform(0.5, 1.1) * fps))
        length = max(3, int(round(rng.uniform(*DURATIONS[kind]) * fps)))
        if t + length >= end - int(round(0.4 * fps)):
            break
        apex = t + int(round(length * rng.uniform(0.35, 0.6)))
        if kind == "micro":
            emotion = EMOTIONS[layout][micro_i % len(EMOTIONS[layout])]
            micro_i += 1
            events.append(Event(kind, t, apex, t + length - 1, emotion, EMOTION_AUS[emotion],
                                float(rng.uniform(*cfg.amplitude))))
        elif kind == "macro":
            emotion = MACRO_EMOTIONS[int(rng.integers(len(MACRO_EMOTIONS)))]
            events.append(Event(kind, t, apex, t + length - 1, emotion, EMOTION_AUS[emotion],
                                float(rng.uniform(*cfg.macro_amplitude))))
        elif kind == "blink":
            events.append(Event(kind, t, apex, t + length - 1, aus=("AU45",), amplitude=float(rng.uniform(2.5, 4.0))))
        else:
            events.append(Event(kind, t, t + length - 1, t + length - 1, shift=(0.0, 0.0)))
        t += length
    return events

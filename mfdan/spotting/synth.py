"""Procedural long recordings in the native CAS(ME)² (``casme_sq``) and SAMM long-video (``samm_lv``) layouts.

Each recording is one subject's face (an identity of :mod:`mfdan.synth.generator`: a real photo, placed,
warped and lit per subject) over ``seconds`` of video at ``fps``, with events placed one after another at
random gaps, in random order:

* **micro-expressions** (``micro``, 0.25–0.45 s, the AU patterns of the clip generator at ``amplitude``),
  coded in the sheet with their emotion;
* **macro-expressions** (``macro``, 0.8–1.6 s, ``macro_amplitude``), coded as macro;
* **blinks** (AU45, 0.1–0.2 s) and **head turns** (a smooth shift of 4–7 % of the face that stays), which the
  sheets do not code, as the releases do not;
* **a face that is not there**: with ``face_gaps``, even-numbered recordings start with ``gap`` s without the
  face and odd-numbered ones end so (the face window shows an empty, evenly lit scene).

Frames: CAS(ME)² ``rawpic/s15/15_0101disgustingteeth/img001.jpg`` (640×480 colour at 30 fps in ``release``
geometry), SAMM ``SAMM_longvideos/006_1/006_1_0001.jpg`` (2040×1088 grey at 200 fps); ``compact`` writes
``frame_size`` squares at ``fps`` (tests). Sheets as :mod:`mfdan.data.long_readers.casme_sq` and
:mod:`mfdan.data.long_readers.samm_lv` read them; ``synth_manifest.json`` lists every event, coded or not, so
evaluations can tell which movement a false alarm came from. Same config, same bytes.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np

from mfdan.core.files import written_folder
from mfdan.core.params import AtLeast, Increasing, NON_NEGATIVE, POSITIVE
from mfdan.data.long_records import LONG_DATASETS, RELEASE_FPS
from mfdan.preprocess import landmarks as lm
from mfdan.synth import exact
from mfdan.synth.generator import (EMOTION_AUS, SynthConfig, _rng, _save_xlsx, make_identity, motion_field,
                                   temporal_profile, write_image)

#: the clip layout whose camera each long-video release shares (frame size, colour): CAS(ME)²'s 640×480
#: colour is CASME II's raw geometry, the SAMM long videos are SAMM's 2040×1088 grey
CAMERA = {"casme_sq": "casme2", "samm_lv": "samm"}
#: CAS(ME)² video codes and names in the release's naming style (``naming rule2``)
CASME_SQ_VIDEOS = (("0101", "disgustingteeth"), ("0401", "anger1"), ("0502", "happy2"), ("0503", "surprise1"))
EMOTIONS = {"casme_sq": ("positive", "negative", "surprise"),
            "samm_lv": ("happiness", "anger", "surprise", "disgust", "contempt")}
MACRO_EMOTIONS = ("happiness", "surprise", "disgust")


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


DURATIONS = {"micro": (0.25, 0.45), "macro": (0.8, 1.6), "blink": (0.1, 0.2), "head": (0.4, 0.8)}


def plan_recording(layout: str, s: int, v: int, cfg: LongSynthConfig) -> RecordingPlan:
    """Recording ``v`` of subject number ``s`` (0-based): its events."""
    fps = cfg.rate(layout)
    n = int(round(cfg.seconds * fps))
    if layout == "casme_sq":
        participant, subject = s + 1, f"s{15 + s}"
        code, name = CASME_SQ_VIDEOS[v % len(CASME_SQ_VIDEOS)]
        video = f"{15 + s}_{code}{name}"
    else:
        participant, subject = s + 1, f"{6 + s:03d}"
        name = video = f"{subject}_{v + 1}"
    rng = _rng(cfg.clip_config(), "long", layout, video, "plan")
    kinds = ["micro"] * cfg.micro + ["macro"] * cfg.macro + ["blink"] * cfg.blinks + ["head"] * cfg.head_turns
    rng.shuffle(kinds)
    events: list[Event] = []
    start, end = 0, n
    k = s * cfg.videos_per_subject + v
    if cfg.face_gaps:
        g = int(round(cfg.gap * fps))
        if k % 2 == 0:
            events.append(Event("absent", 0, 0, g - 1))
            start = g
        else:
            events.append(Event("absent", n - g, n - g, n - 1))
            end = n - g
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
    return RecordingPlan(layout, subject, participant, video, name, n, fps, tuple(events))


def frame_relpath(plan: RecordingPlan, i: int) -> Path:
    """Where 0-based frame ``i`` lives (the releases number frames from 1)."""
    if plan.layout == "casme_sq":
        return Path("rawpic") / plan.subject / plan.video / f"img{i + 1:03d}.jpg"
    return Path("SAMM_longvideos") / plan.video / f"{plan.video}_{i + 1:04d}.jpg"


def render(plan: RecordingPlan, cfg: LongSynthConfig, face: str):
    """The recording's frames, one at a time (H×W×3 RGB, or H×W grey, uint8)."""
    ccfg = cfg.clip_config()
    ident = make_identity(CAMERA[plan.layout], plan.subject, ccfg, face)
    rng = _rng(ccfg, "long", plan.layout, plan.video, "render")
    x0, y0, x1, y1 = ident.geometry.window()
    gx, gy = exact.grid(x1 - x0, y1 - y0)
    gx, gy = gx + x0, gy + y0
    still = ident.image.astype(np.float32)
    face_side = ident.geometry.face
    fields, moves = [], []
    base = np.zeros(2)
    for e in plan.events:
        if e.kind in ("micro", "macro", "blink"):
            unit = motion_field(ident.points - [x0, y0], e.aus, x1 - x0, y1 - y0)
            w = np.zeros(plan.frames)
            w[e.onset:e.offset + 1] = temporal_profile(e.offset - e.onset + 1, e.apex - e.onset)
            fields.append((e.amplitude * unit, w))
        elif e.kind == "head":
            ang = rng.uniform(0, 2 * math.pi)
            size = rng.uniform(0.04, 0.07) * face_side
            shift = np.array([math.cos(ang), math.sin(ang)]) * size
            moves.append((e.onset, e.offset, base.copy(), base + shift))
            base = base + shift
    absent = [(e.onset, e.offset) for e in plan.events if e.kind == "absent"]
    for i in range(plan.frames):
        img = still.copy()
        if any(a <= i <= b for a, b in absent):
            flat = float(still[y0:y1, x0:x1].mean())
            img[y0:y1, x0:x1] = flat
        else:
            head = np.zeros(2)
            for a, b, s0, s1 in moves:  # each turn ramps smoothly from a to b and stays
                t = min(1.0, max(0.0, (i - a) / max(1, b - a)))
                head = head + (s1 - s0) * (0.5 - 0.5 * math.cos(math.pi * t))
            d = np.zeros((2, y1 - y0, x1 - x0))
            for f, w in fields:
                if w[i] > 0:
                    d = d + w[i] * f
            jx, jy = rng.normal(0, cfg.jitter, size=2)
            img[y0:y1, x0:x1] = exact.sample_cubic(ident.image, gx - d[0] - head[0] - jx, gy - d[1] - head[1] - jy)
        noise = rng.standard_normal(size=img.shape, dtype=np.float32)
        noise *= np.float32(cfg.noise)
        img += noise
        yield np.clip(img, 0, 255).round().astype(np.uint8)


def plan_layout(layout: str, cfg: LongSynthConfig) -> list[RecordingPlan]:
    return [plan_recording(layout, s, v, cfg) for s in range(cfg.subjects) for v in range(cfg.videos_per_subject)]


def _write_sheets(layout: str, plans: list[RecordingPlan], root: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    coded = [(p, e) for p in plans for e in p.events if e.kind in ("micro", "macro")]
    if layout == "casme_sq":
        ws.title = "CASFEcode_final"
        counts: dict[str, int] = {}
        for p, e in coded:
            counts[p.video] = counts.get(p.video, 0) + 1
            ws.append([p.participant, f"{p.name}_{counts[p.video]}", e.onset + 1, e.apex + 1, e.offset + 1,
                       "+".join(a.removeprefix("AU") for a in e.aus), e.emotion if e.kind == "micro" else "others",
                       f"{e.kind}-expression", e.emotion])
        rule1 = book.create_sheet("naming rule1")
        for i, p in enumerate(sorted({(p.subject, p.participant) for p in plans}, key=lambda x: x[1])):
            rule1.append([i + 1, p[0], p[1]])
        rule2 = book.create_sheet("naming rule2")
        for code, name in CASME_SQ_VIDEOS:
            rule2.append([code, name])
        _save_xlsx(book, root / "CAS(ME)^2code_final.xlsx")
        return
    ws.title = "FACS_Movement_Only"
    ws.append(["SAMM Long Videos (synthetic, written by mfdan synth)"])
    ws.append([])
    ws.append(["Onset, Apex and Offset are frame numbers of each video folder."])
    ws.append([])
    ws.append(["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
               "Action Units", "Notes"])
    micro = openpyxl.Workbook()
    mws = micro.active
    mws.append(["Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Estimated Emotion"])
    counts = {}
    for p, e in coded:
        counts[p.video] = counts.get(p.video, 0) + 1
        filename = f"{p.video}_{counts[p.video]}"
        ws.append([int(p.subject), filename, 1, e.onset + 1, e.apex + 1, e.offset + 1, e.offset - e.onset + 1,
                   "Micro - 1/2" if e.kind == "micro" else "Macro", "+".join(e.aus), None])
        if e.kind == "micro":
            mws.append([int(p.subject), filename, e.onset + 1, e.apex + 1, e.offset + 1, e.emotion.capitalize()])
    _save_xlsx(book, root / "SAMM_LongVideos_V3_Release.xlsx")
    _save_xlsx(micro, root / "SAMM_Micro_FACS_Codes_v2.xlsx")


def synthesize_long(out: str | Path, cfg: LongSynthConfig = LongSynthConfig(), *, layout: str | None = None,
                    overwrite: bool = False, progress=None) -> list[RecordingPlan]:
    """Write ``out/<layout>/`` for each of ``cfg.layouts`` or, given one ``layout``, that layout into ``out``
    itself; built in a temporary sibling and renamed into place when complete."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists (pass overwrite=True / --overwrite to replace it)")
    single = layout is not None
    layouts = (layout,) if single else cfg.layouts
    plans_all = []
    with written_folder(out) as tmp:
        for layout in layouts:
            root = tmp if single else tmp / layout
            root.mkdir(parents=True, exist_ok=True)
            plans = plan_layout(layout, cfg)
            for j, p in enumerate(plans):
                absent = [(e.onset, e.offset) for e in p.events if e.kind == "absent"]
                ident_face = cfg.faces[j % len(cfg.faces)]
                for i, img in enumerate(render(p, cfg, ident_face)):
                    if i % 25 == 0 and not any(a <= i <= b for a, b in absent):
                        if lm.detect_face(img) is None:
                            raise RuntimeError(f"long synth: dlib finds no face in {layout}/{frame_relpath(p, i)}")
                    write_image(root / frame_relpath(p, i), img, CAMERA[layout])
                if progress:
                    progress(f"{layout}/{p.video}")
            _write_sheets(layout, plans, root)
            manifest = {"layout": layout, "config": asdict(cfg),
                        "recordings": [asdict(p) for p in plans]}
            (root / "synth_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
            plans_all += plans
    return plans_all


def encode_video(files: list[Path], path: str | Path, fps: float) -> Path:
    """The frames ``files`` as one video file (MJPG in .avi, which every OpenCV build writes and reads)."""
    path = Path(path)
    first = cv2.imread(str(files[0]))
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write this video")
    try:
        for f in files:
            writer.write(cv2.imread(str(f)))
    finally:
        writer.release()
    return path

"""Procedural long recordings in the native CAS(ME)² (``casme_sq``) and SAMM long-video (``samm_lv``) layouts:
:func:`synthesize_long`.

Each recording is one subject's face (an identity of :mod:`mfdan.synth.face`: a real photo, placed, warped and
lit per subject) over ``seconds`` of video at ``fps``, with events placed one after another at random gaps, in
random order (:mod:`mfdan.synth.long_plan`):

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
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from mfdan.core.files import written_folder
from mfdan.preprocess import landmarks as lm
from mfdan.synth import exact
from mfdan.synth.action_units import motion_field, temporal_profile
from mfdan.synth.config import seeded_rng
from mfdan.synth.face import Identity, make_identity
from mfdan.synth.long_plan import CAMERA, CASME_SQ_VIDEOS, Event, LongSynthConfig, RecordingPlan, plan_layout
from mfdan.synth.render import with_sensor_noise
from mfdan.synth.writers import save_xlsx, write_image


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
                _write_recording(p, cfg, cfg.faces[j % len(cfg.faces)], root)
                if progress:
                    progress(f"{layout}/{p.video}")
            _write_sheets(layout, plans, root)
            manifest = {"layout": layout, "config": asdict(cfg),
                        "recordings": [asdict(p) for p in plans]}
            (root / "synth_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
            plans_all += plans
    return plans_all


def _write_recording(plan: RecordingPlan, cfg: LongSynthConfig, face: str, root: Path) -> None:
    """The recording's frames under ``root``; dlib must find the face in every 25th frame that shows one."""
    absent = [(e.onset, e.offset) for e in plan.events if e.kind == "absent"]
    for i, img in enumerate(render(plan, cfg, face)):
        if i % 25 == 0 and not any(a <= i <= b for a, b in absent):
            if lm.detect_face(img) is None:
                raise RuntimeError(f"long synth: dlib finds no face in {plan.layout}/{frame_relpath(plan, i)}")
        write_image(root / frame_relpath(plan, i), img, CAMERA[plan.layout])


def frame_relpath(plan: RecordingPlan, i: int) -> Path:
    """Where 0-based frame ``i`` lives (the releases number frames from 1)."""
    if plan.layout == "casme_sq":
        return Path("rawpic") / plan.subject / plan.video / f"img{i + 1:03d}.jpg"
    return Path("SAMM_longvideos") / plan.video / f"{plan.video}_{i + 1:04d}.jpg"


def render(plan: RecordingPlan, cfg: LongSynthConfig, face: str) -> Iterator[np.ndarray]:
    """The recording's frames, one at a time (H×W×3 RGB, or H×W grey, uint8): the face window re-sampled with
    every expression and blink under way, the head turns so far and per-frame jitter (or, where the face is
    absent, filled with the window's mean), over the identity's static frame, plus sensor noise."""
    ccfg = cfg.clip_config()
    ident = make_identity(CAMERA[plan.layout], plan.subject, ccfg, face)
    rng = seeded_rng(ccfg, "long", plan.layout, plan.video, "render")
    x0, y0, x1, y1 = ident.geometry.window()
    gx, gy = ident.geometry.window_grid()
    still = ident.image.astype(np.float32)
    fields, moves = _event_motion(plan, ident, rng)
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
        yield with_sensor_noise(img, rng, cfg.noise)


def _event_motion(plan: RecordingPlan, ident: Identity, rng: np.random.Generator
                  ) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[int, int, np.ndarray, np.ndarray]]]:
    """Each expression's and blink's displacement field (px at its peak) with its weight per frame, and each
    head turn as (first frame, last frame, shift before, shift after); the turns' directions and sizes are
    drawn from ``rng``, in event order."""
    x0, y0, x1, y1 = ident.geometry.window()
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
            size = rng.uniform(0.04, 0.07) * ident.geometry.face
            shift = np.array([math.cos(ang), math.sin(ang)]) * size
            moves.append((e.onset, e.offset, base.copy(), base + shift))
            base = base + shift
    return fields, moves


def _write_sheets(layout: str, plans: list[RecordingPlan], root: Path) -> None:
    """The release's coding sheets, one row per coded (micro or macro) event."""
    coded = [(p, e) for p in plans for e in p.events if e.kind in ("micro", "macro")]
    if layout == "casme_sq":
        _write_casme_sq_sheet(plans, coded, root)
    else:
        _write_samm_lv_sheets(coded, root)


def _write_casme_sq_sheet(plans: list[RecordingPlan], coded: list[tuple[RecordingPlan, Event]], root: Path) -> None:
    """``CAS(ME)^2code_final.xlsx``: the codes (sheet ``CASFEcode_final``) and the release's two naming rules
    (participant → subject folder, video code → name)."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
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
    save_xlsx(book, root / "CAS(ME)^2code_final.xlsx")


def _write_samm_lv_sheets(coded: list[tuple[RecordingPlan, Event]], root: Path) -> None:
    """``SAMM_LongVideos_V3_Release.xlsx`` (every coded movement, sheet ``FACS_Movement_Only``) and
    ``SAMM_Micro_FACS_Codes_v2.xlsx`` (the micro-expressions' emotions)."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
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
    counts: dict[str, int] = {}
    for p, e in coded:
        counts[p.video] = counts.get(p.video, 0) + 1
        filename = f"{p.video}_{counts[p.video]}"
        ws.append([int(p.subject), filename, 1, e.onset + 1, e.apex + 1, e.offset + 1, e.offset - e.onset + 1,
                   "Micro - 1/2" if e.kind == "micro" else "Macro", "+".join(e.aus), None])
        if e.kind == "micro":
            mws.append([int(p.subject), filename, e.onset + 1, e.apex + 1, e.offset + 1, e.emotion.capitalize()])
    save_xlsx(book, root / "SAMM_LongVideos_V3_Release.xlsx")
    save_xlsx(micro, root / "SAMM_Micro_FACS_Codes_v2.xlsx")


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

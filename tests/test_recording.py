"""A recording smoke test (issue 47 item 5): a short video written here through OpenCV's writer, in two
codecs and containers (MJPG in .avi, mp4v in .mp4), of a real face photo that ships in a package
(:func:`mfdan.synth.face.face_photo`: scikit-image's astronaut, matplotlib's Grace Hopper) that moves its head,
blinks, leaves the picture and comes back, and makes one expression (the synth's AU warps,
:mod:`mfdan.synth.action_units`) — run through ``mfdan predict`` as a user runs it (the command, in its own
process, on the small model folder the predict tests write) and its answers checked against where the face and
the expression are: no interval on a frame without the whole face nor on the head turn (passes), and one that is
a hit (IoU ≥ 0.5, MEGC's criterion) on the expression — a known failure today (a strict xfail naming its causes:
the smile is hit in 1 of the 4 recordings).

The events are placed in time by :data:`PLAN` (30 fps, 640×480, a camera's geometry); everything is drawn from
fixed seeds, so the video's bytes are the same on every run of one OpenCV build.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from mfdan.data.long_records import Interval
from mfdan.preprocess import landmarks as lm
from mfdan.spotting.scoring import iou
from mfdan.synth.action_units import motion_field, temporal_profile
from mfdan.synth.face import face_photo
from tests.test_predict import make_model_dir

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT, FPS = 640, 480, 30.0
FACE_SIDE = 140.0      #: the face area's side in the frame, px (a webcam at arm's length)
NOISE = 1.5            #: sensor noise, grey levels (sd), the same on the three channels of a pixel


@dataclass(frozen=True)
class Plan:
    """When each event happens, in frames (inclusive ranges)."""

    frames: int = 240
    blink: tuple[int, int] = (24, 29)                  #: AU45, eyelids down and up
    turn: tuple[int, int] = (50, 62)                   #: the head moves and rolls, then stays
    expression: tuple[int, int, int] = (96, 102, 108)  #: onset, apex, offset of AU6 + AU12 (a smile, 0.43 s)
    leave: tuple[int, int] = (140, 150)                #: the face slides out of the picture...
    back: tuple[int, int] = (180, 190)                 #: ...and back in
    aus: tuple[str, ...] = ("AU6", "AU12")
    amplitude: float = 4.0       #: the expression's peak displacement, photo px
    blink_amplitude: float = 6.0
    turn_shift: tuple[float, float] = (14.0, 6.0)      #: px
    turn_roll: float = 3.0       #: degrees
    away: float = 460.0          #: how far left the face goes to be out of the picture, px


PLAN = Plan()


def _ramp(i: int, span: tuple[int, int]) -> float:
    """0 before ``span``, 1 after it, a smooth (cosine) step across it."""
    a, b = span
    t = min(1.0, max(0.0, (i - a) / (b - a)))
    return 0.5 - 0.5 * math.cos(math.pi * t)


def _weights(span: tuple[int, ...], n: int) -> np.ndarray:
    """Per frame: the event's weight (0 outside it, 1 at its apex; :func:`temporal_profile`)."""
    onset, apex, offset = span if len(span) == 3 else (span[0], (span[0] + span[1]) // 2, span[1])
    w = np.zeros(n)
    w[onset:offset + 1] = temporal_profile(offset - onset + 1, apex - onset)
    return w


def record(path: Path, fourcc: str, face: str, plan: Plan = PLAN, seed: int = 0) -> np.ndarray:
    """Write the recording to ``path`` with the codec ``fourcc``; returns per frame the face's landmark box in the
    frame (x0, y0, x1, y1), as placed (the photo's own landmarks moved with the head)."""
    photo = face_photo(face)
    img = photo.image
    h, w = img.shape[:2]
    found = lm.detect_face(img, upsample=1)
    assert found is not None, face
    points = lm.landmarks(img, found[0])                       # the photo's 68 landmarks, photo px
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    smile = plan.amplitude * motion_field(points, plan.aus, w, h).astype(np.float32)
    blink = plan.blink_amplitude * motion_field(points, ("AU45",), w, h).astype(np.float32)
    w_smile, w_blink = _weights(plan.expression, plan.frames), _weights(plan.blink, plan.frames)
    scale = FACE_SIDE / photo.side
    centre = np.array(photo.centre)
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (WIDTH, HEIGHT))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    boxes = np.zeros((plan.frames, 4))
    try:
        for i in range(plan.frames):
            moved = img
            if w_smile[i] or w_blink[i]:
                d = np.float32(w_smile[i]) * smile + np.float32(w_blink[i]) * blink  # (2, h, w): the face's motion
                moved = cv2.remap(img, gx - d[0], gy - d[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            turn = _ramp(i, plan.turn)
            away = plan.away * (_ramp(i, plan.leave) - _ramp(i, plan.back))
            # the head: the photo scaled to FACE_SIDE, rolled and shifted about the face's centre, placed in the
            # middle of the frame, a little sway (0.3 px) on top
            at = np.array([WIDTH / 2, HEIGHT * 0.45]) + turn * np.array(plan.turn_shift) - [away, 0.0]
            at = at + 0.3 * np.array([math.sin(i / 9.0), math.cos(i / 11.0)])
            m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), turn * plan.turn_roll, scale)
            m[:, 2] += at - centre
            frame = cv2.warpAffine(moved, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=(118, 112, 104))  # a wall behind
            noise = np.rint(NOISE * rng.standard_normal((HEIGHT, WIDTH, 1), dtype=np.float32)).astype(np.int16)
            frame = np.clip(frame + noise, 0, 255).astype(np.uint8)  # luminance noise, as a sensor's
            placed = points @ m[:, :2].T + m[:, 2]
            boxes[i] = (*placed.min(axis=0), *placed.max(axis=0))
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return boxes


def predict(model: Path, videos: list[Path], cwd: Path) -> tuple[subprocess.CompletedProcess, dict[str, list[dict]]]:
    """``mfdan predict --model MODEL VIDEO... --json`` in its own process, as a user runs it; its JSON lines per
    input. It runs in ``cwd``, where no learned spotter is saved (``long/models/spotter`` is relative to the working
    folder), so the spotter is the training-free one whatever the repository holds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    res = subprocess.run([sys.executable, "-m", "mfdan", "predict", "--model", str(model), *map(str, videos), "--json"],
                         capture_output=True, text=True, timeout=300, cwd=cwd, env=env)
    rows: dict[str, list[dict]] = {str(v): [] for v in videos}
    for line in res.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            rows[r["input"]].append(r)
    return res, rows


@dataclass
class Recording:
    video: Path
    whole: np.ndarray                  #: bool per frame: the face's 68 landmarks all inside the picture
    rows: list[dict]                   #: predict's JSON lines for it, one per spotted interval

    @property
    def intervals(self) -> list[tuple[int, int]]:
        return [(r["onset"], r["offset"]) for r in self.rows]


#: (codec, container, face photo, noise seed): two codecs, two faces, two draws of the sensor noise each
CASES = [("MJPG", ".avi", "astronaut", 0), ("MJPG", ".avi", "astronaut", 1),
         ("mp4v", ".mp4", "grace_hopper", 0), ("mp4v", ".mp4", "grace_hopper", 1)]


@pytest.fixture(scope="module")
def answered(tmp_path_factory) -> tuple[subprocess.CompletedProcess, list[Recording]]:
    """The recordings of :data:`CASES` and what one ``mfdan predict`` over all of them answers."""
    tmp = tmp_path_factory.mktemp("recordings")
    videos, wholes = [], []
    for fourcc, suffix, face, seed in CASES:
        video = tmp / f"{face}_{seed}{suffix}"
        boxes = record(video, fourcc, face, seed=seed)
        cap = cv2.VideoCapture(str(video))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == PLAN.frames and cap.get(cv2.CAP_PROP_FPS) == FPS
        cap.release()
        whole = (boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] < WIDTH) & (boxes[:, 3] < HEIGHT)
        assert not whole[PLAN.leave[1]:PLAN.back[0] + 1].any() and whole[:PLAN.leave[0]].all()  # the plan holds
        videos.append(video)
        wholes.append(whole)
    res, rows = predict(make_model_dir(tmp / "final"), videos, tmp)
    return res, [Recording(v, w, rows[str(v)]) for v, w in zip(videos, wholes)]


def test_no_answer_where_the_face_is_not_whole_nor_on_the_head_turn(answered):
    res, recordings = answered
    assert res.returncode == 0, res.stderr
    assert any(rec.rows for rec in recordings), "nothing spotted in any recording: the checks below would be empty"
    for rec in recordings:
        for r in rec.rows:
            assert r["onset"] <= r["apex"] <= r["offset"] < PLAN.frames
            assert r["onset_s"] == pytest.approx(r["onset"] / FPS, abs=1e-3)
            assert rec.whole[r["onset"]:r["offset"] + 1].all(), \
                f"{rec.video.name} {rec.intervals}: an answer where the face is not whole ({PLAN.leave}-{PLAN.back})"
            assert r["offset"] < PLAN.turn[0] or r["onset"] > PLAN.turn[1], \
                f"{rec.video.name} {rec.intervals}: an answer on the head turn {PLAN.turn}"


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "main spots this 0.43 s smile in 1 of 4 recordings. Astronaut: the macro channel takes the recording's "
    "strongest movement, the smile, for a macro-expression where its 1.2 s window fits one alignment stretch, and "
    "mask_macro / drop_in_macro then remove the micro proposal (spotting/peaks.py; off, 5 of 5 noise seeds are "
    "hits). Grace Hopper: with the head still, dlib's eye corners and nose bridge move by up to 2.7 % of the "
    "face over a window (7 of 31 quiet windows over the 1.5 % head-motion gate; on the smile a median 2.0 %), "
    "stretches break at the 3 % realign, and the tracker's box, moved with the landmarks between detections, "
    "drifts 20-40 px (spotting/faces.py): 0 of 5 noise seeds are hits"))
def test_the_expression_is_answered(answered):
    _, recordings = answered
    truth = Interval(*PLAN.expression)
    missed = [f"{rec.video.name} {rec.intervals}" for rec in recordings
              if not any(iou(Interval(r["onset"], r["apex"], r["offset"]), truth) >= 0.5 for r in rec.rows)]
    assert not missed, f"no hit (IoU >= 0.5, MEGC's) on the expression {PLAN.expression}: {'; '.join(missed)}"

"""Faces over a whole recording: where there is one, and one alignment per stretch of it.

dlib's HOG detector runs on every ``detect_every``-th frame, scaled down to ``detect_width`` (the landmark
model runs at full size); between two detections the 68-point model follows the face from the previous
frame's box, moved with the landmarks. A frame is kept as a face frame only once the next detection confirms
the face is still there: when a detection finds none, the frames since the last detection that found one are
dropped with it, so a face that leaves takes at most ``detect_every`` frames with it and no frame without a
face is ever part of an answer. The stream is consumed one frame at a time (at most ``detect_every`` frames
wait for their confirmation), so a long recording is never held whole.

Face frames are grouped into *stretches*, each with one alignment (as the pipeline's one transform per clip,
:func:`mfdan.preprocess.alignment.points_alignment`, from the stretch's first landmarks). A stretch ends where
the face is lost, and where the head has moved: when the rigid landmarks (eye corners 36, 39, 42, 45 and the
nose bridge 27–30), mapped through the stretch's alignment, are on average ``realign`` × the aligned side away
from where they were at its start. Features (:mod:`mfdan.spotting.features`) never compare frames of two
stretches, so neither a lost face nor a head turn can look like an expression.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from mfdan.preprocess import landmarks as lm
from mfdan.preprocess.alignment import Alignment, points_alignment
from mfdan.spotting.config import SpotConfig

RIGID = np.array([27, 28, 29, 30, 36, 39, 42, 45])  #: nose bridge and eye corners: move with the head, not with AUs


@dataclass
class FaceFrame:
    """One frame of the recording and what the tracker found in it."""

    index: int
    image: np.ndarray                     #: the raw frame (H×W×3 uint8 RGB)
    points: np.ndarray | None = None      #: 68×2 landmarks in frame pixels; None: no face
    stretch: int | None = None            #: which alignment stretch (None: no face)
    alignment: Alignment | None = None
    rigid: np.ndarray | None = None       #: the rigid landmarks through the stretch's alignment, aligned px

    @property
    def has_face(self) -> bool:
        return self.stretch is not None

    def aligned_grey(self, size: int) -> np.ndarray:
        """The aligned face, ``size``×``size`` uint8 grey."""
        assert self.alignment is not None
        return cv2.cvtColor(self.alignment.apply(self.image, size), cv2.COLOR_RGB2GRAY)


def _detect(image: np.ndarray, cfg: SpotConfig) -> tuple[int, int, int, int] | None:
    """The top face's box in frame pixels, found on the frame scaled to ``detect_width``."""
    h, w = image.shape[:2]
    scale = min(1.0, cfg.detect_width / w)
    small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else image
    found = lm.detect_face(small, upsample=cfg.upsample)
    if found is None:
        return None
    return tuple(int(round(v / scale)) for v in found[0])  # type: ignore[return-value]


class _Stretches:
    """Assigns confirmed face frames, in order, to alignment stretches."""

    def __init__(self, cfg: SpotConfig) -> None:
        self.cfg, self.count = cfg, 0
        self.alignment: Alignment | None = None
        self.start: np.ndarray | None = None

    def end(self) -> None:
        self.alignment = None

    def place(self, f: FaceFrame) -> FaceFrame:
        assert f.points is not None
        side = self.cfg.face_size
        if self.alignment is not None:
            m = self.alignment.matrix
            rigid = f.points[RIGID] @ m[:, :2].T + m[:, 2]
            if float(np.linalg.norm(rigid - self.start, axis=1).mean()) > self.cfg.realign * side:
                self.alignment = None  # the head moved: a new stretch from this frame
        if self.alignment is None:
            self.alignment = points_alignment(f.points, side, self.cfg.margin)
            m = self.alignment.matrix
            self.start = f.points[RIGID] @ m[:, :2].T + m[:, 2]
            self.count += 1
        m = self.alignment.matrix
        f.stretch, f.alignment = self.count - 1, self.alignment
        f.rigid = f.points[RIGID] @ m[:, :2].T + m[:, 2]
        return f


def track(stream: Iterable[tuple[int, np.ndarray]], cfg: SpotConfig) -> Iterator[FaceFrame]:
    """Every frame of ``stream`` (``(index, RGB)``), in order, with its face (or none), as described above."""
    stretches = _Stretches(cfg)
    pending: list[FaceFrame] = []   # tracked since the last detection, awaiting the next one
    box: tuple[int, int, int, int] | None = None
    centre: np.ndarray | None = None  # landmark centroid when `box` was placed
    for i, image in stream:
        if i % cfg.detect_every == 0:
            found = _detect(image, cfg)
            if found is None:  # the face is gone: so are the frames since the last detection that saw it
                for f in pending:
                    yield FaceFrame(f.index, f.image)
                pending, box = [], None
                stretches.end()
                yield FaceFrame(i, image)
                continue
            for f in pending:  # confirmed
                yield stretches.place(f)
            pending = []
            box = found
            pts = lm.landmarks(image, box)
            centre = pts.mean(axis=0)
            yield stretches.place(FaceFrame(i, image, points=pts))
            continue
        if box is None:
            yield FaceFrame(i, image)
            continue
        pts = lm.landmarks(image, box)
        shift = np.round(pts.mean(axis=0) - centre).astype(int)  # follow the face with the landmarks
        box = (box[0] + shift[0], box[1] + shift[1], box[2] + shift[0], box[3] + shift[1])
        centre = centre + shift
        pending.append(FaceFrame(i, image, points=pts))
    # the recording ends between detections: the last frames have no confirmation; keep them only if a
    # detection on the last one still finds the face
    if pending:
        if _detect(pending[-1].image, cfg) is not None:
            for f in pending:
                yield stretches.place(f)
        else:
            for f in pending:
                yield FaceFrame(f.index, f.image)

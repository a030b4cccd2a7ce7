"""Face alignment with dlib's 68 landmarks: eye-line rotation and a square crop, **one transform per clip**.

The transform is estimated once, on the onset frame, and applied to onset, apex and every other frame used,
so alignment can never create motion between them (per-frame re-detection jitters the crop by a few pixels,
which TV-L1 then reports as expression).

Estimation: top-scoring frontal face (dlib HOG detector) → 68 landmarks → eye centres (means of points
36–41 and 42–47) → rotation about the eye midpoint that makes the eye line horizontal → the square box
around the rotated landmarks, grown by ``margin`` → scaled to ``size``. Per-dataset crop policy:
``pre_crop`` centre-crops the raw frame first (SAMM: 420×420 of the 2040×1088 frame), and ``method:
resize`` skips detection and scales the (pre-cropped) frame: SAMM's paper setting, "using center cropping, we
cut the image to 420 × 420" (Sec. IV-B), and SMIC-HS, whose release is already face crops.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated

import cv2
import numpy as np

from mfdan.core.params import AtLeast, NON_NEGATIVE
from mfdan.preprocess import landmarks as lm

METHODS = ("landmarks", "resize")
FALLBACKS = ("error", "center_crop")


@dataclass(frozen=True)
class AlignConfig:
    """Mirrors params.yaml ``align``."""

    output_size: Annotated[int, AtLeast(16)] = 224                #: output side, px (not `size`: DVC's run-cache ignores that key)
    margin: Annotated[float, NON_NEGATIVE] = 0.15                  #: the landmark box grows by this fraction on each side
    #: dlib detector upsampling: 0 finds faces from ~80 px (the releases' are ≥ 150 px; the rotation recovery
    #: test passes within 0.4°), each step up doubles the frame and finds half-size faces, ~4× slower
    upsample: Annotated[int, NON_NEGATIVE] = 0
    #: per dataset: ``landmarks`` (detect, undo the roll, crop the landmark box) or ``resize`` (scale the whole
    #: frame, after ``pre_crop``). SAMM's ``resize`` after the 420 px centre crop is the paper's (Sec. IV-B);
    #: ``samm: landmarks`` adds our landmark crop after it, a documented switch.
    #: CAS(ME)³, MMEW and CASME are released as whole camera frames (1280×720, 1920×1080; CASME 1280×720 and
    #: 640×480), so their faces are found by landmarks, as CASME II's raw frames are (docs/datasets.md).
    method: dict[str, str] = field(default_factory=lambda: {"casme2": "landmarks", "samm": "resize",
                                                            "smic": "resize", "casme3": "landmarks",
                                                            "mmew": "landmarks", "casme": "landmarks"})
    pre_crop: Annotated[dict[str, int], NON_NEGATIVE] = field(default_factory=lambda: {
        "casme2": 0, "samm": 420, "smic": 0, "casme3": 0, "mmew": 0, "casme": 0})
    fallback: str = "error"               #: no face found: ``error``, or ``center_crop`` (logged and counted)
    workers: Annotated[int, NON_NEGATIVE] = 0                      #: processes (0 = all cores)

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.method.items() if v not in METHODS}
        if bad:
            raise ValueError(f"align.method values must be in {METHODS}: {bad}")
        if self.fallback not in FALLBACKS:
            raise ValueError(f"align.fallback must be one of {FALLBACKS}, not {self.fallback!r}")


class NoFaceError(RuntimeError):
    pass


@dataclass(frozen=True)
class Alignment:
    """The affine map from raw-frame pixels to the aligned crop (2×3), and how it was found."""

    matrix: np.ndarray
    angle: float            #: eye-line angle in the raw frame, degrees (the rotation undone)
    method: str             #: ``landmarks``, ``resize`` or ``center_crop`` (fallback)
    score: float = float("nan")

    def apply(self, frame: np.ndarray, size: int) -> np.ndarray:
        """The aligned crop of ``frame`` (size×size, same channels)."""
        return cv2.warpAffine(frame, self.matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def centre_crop_matrix(h: int, w: int, side: int) -> np.ndarray:
    """Translation taking the centred ``side``×``side`` square (clamped to the frame) to the origin."""
    side = min(side, h, w)
    return np.array([[1.0, 0.0, -(w - side) / 2], [0.0, 1.0, -(h - side) / 2]])


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """outer ∘ inner for 2×3 affine matrices."""
    a = np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]])
    return a[:2]


def _scale_to(side_in: float, size: int, x0: float, y0: float) -> np.ndarray:
    s = size / side_in
    return np.array([[s, 0.0, -s * x0], [0.0, s, -s * y0]])


def estimate_alignment(frame: np.ndarray, dataset: str, cfg: AlignConfig) -> Alignment:
    """The clip transform from its onset ``frame`` (H×W×3 or H×W uint8)."""
    h, w = frame.shape[:2]
    pre_side = cfg.pre_crop.get(dataset, 0)
    if pre_side:  # centre-crop the raw frame first (clamped to the frame)
        pre = centre_crop_matrix(h, w, pre_side)
        h = w = min(pre_side, h, w)
        work = cv2.warpAffine(frame, pre, (w, h))
    else:
        pre, work = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), frame
    if cfg.method.get(dataset, "landmarks") == "resize":  # already a face crop: scale the whole frame
        m = _compose(np.array([[cfg.output_size / w, 0.0, 0.0], [0.0, cfg.output_size / h, 0.0]]), pre)
        return Alignment(matrix=m, angle=0.0, method="resize")
    found = lm.detect_face(work, upsample=cfg.upsample)
    if found is None:
        if cfg.fallback == "center_crop":
            side = min(h, w)
            m = _compose(_scale_to(side, cfg.output_size, (w - side) / 2, (h - side) / 2), pre)
            return Alignment(matrix=m, angle=0.0, method="center_crop")
        raise NoFaceError("dlib found no face in the onset frame")
    box, score = found
    return points_alignment(lm.landmarks(work, box), cfg.output_size, cfg.margin, pre=pre, score=score)


def points_alignment(pts: np.ndarray, output_size: int, margin: float, *, pre: np.ndarray | None = None,
                     score: float = float("nan")) -> Alignment:
    """The transform from 68 landmarks ``pts`` (x, y in the frame ``pre`` maps from; identity when None):
    rotation about the eye midpoint that levels the eye line, then the square landmark box grown by
    ``margin``, scaled to ``output_size``. :func:`estimate_alignment`'s last step, and the long-video face
    tracker's (:mod:`mfdan.spotting.faces`), which has the landmarks already."""
    left, right = lm.eye_centres(pts)
    angle = math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))
    centre = (left + right) / 2
    rot = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, 1.0)  # undoes the roll
    rotated = pts @ rot[:, :2].T + rot[:, 2]
    x0, y0 = rotated.min(axis=0)
    x1, y1 = rotated.max(axis=0)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    crop = _scale_to(side, output_size, cx - side / 2, cy - side / 2)
    if pre is None:
        pre = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return Alignment(matrix=_compose(_compose(crop, rot), pre), angle=angle, method="landmarks", score=score)

"""dlib face detection and the 68-point landmark model (iBUG 300-W indexing).

The predictor file ships in the ``face-recognition-models`` package; we locate it with
``importlib.util.find_spec`` because importing that package needs ``pkg_resources``.
"""
from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

from mfdan.core.face_points import LEFT_EYE, RIGHT_EYE

#: what process pools preload so their workers start with both dlib models (mfdan/preprocess/dlib_models.py)
PRELOAD = ("mfdan.preprocess.dlib_models",)


def predictor_path() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed; it ships the 68-landmark predictor")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise RuntimeError(f"{path}: 68-landmark predictor missing from face-recognition-models")
    return path


@cache
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


@cache
def _predictor():
    import dlib

    return dlib.shape_predictor(str(predictor_path()))


def load_models() -> None:
    """Load the detector and the 68-landmark predictor now (once per process; ~0.3 s for the predictor file)."""
    _detector()
    _predictor()


def detect_face(image: np.ndarray, upsample: int = 0) -> tuple[tuple[int, int, int, int], float] | None:
    """The top-scoring frontal face as ``((left, top, right, bottom), score)``, or ``None``.

    ``image``: H×W (grey) or H×W×3 (RGB) uint8.
    """
    rects, scores, _ = _detector().run(np.ascontiguousarray(image), upsample, 0.0)
    if not rects:
        return None
    best = int(np.argmax(scores))
    r = rects[best]
    return (r.left(), r.top(), r.right(), r.bottom()), float(scores[best])


def landmarks(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """68×2 float landmark coordinates (x, y) inside face ``box``."""
    import dlib

    shape = _predictor()(np.ascontiguousarray(image), dlib.rectangle(*box))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the two eyes (image-left first) from 68 landmarks: means of points 36–41 and 42–47."""
    return points[LEFT_EYE].mean(axis=0), points[RIGHT_EYE].mean(axis=0)


LANDMARK_SIDE = 256   #: an aligned face smaller than this is enlarged to it before detection (dlib's HOG needs ~80 px)
FRAME_BOX_INSET = 0.1  #: no face detected on the aligned onset: the predictor reads the frame inset by this fraction


def aligned_landmarks(image: np.ndarray) -> tuple[np.ndarray, str]:
    """68 landmarks (x, y) of an aligned face, in pixels of ``image`` (68×2 float32), and how the face box was
    found: ``detected`` (dlib's detector on the frame, enlarged to ``LANDMARK_SIDE`` when smaller) or
    ``frame_box`` (none found: an aligned frame is the face, so the box is the frame inset by
    ``FRAME_BOX_INSET``). What HTNet's regions are cut around (the ``align`` stage stores them per clip)."""
    import cv2

    side = image.shape[0]
    scale = max(1.0, LANDMARK_SIDE / side)
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale > 1 else image
    found = detect_face(big, 0)
    if found is not None:
        box, source = found[0], "detected"
    else:
        n = big.shape[0]
        d = int(round(FRAME_BOX_INSET * n))
        box, source = (d, d, n - 1 - d, n - 1 - d), "frame_box"
    return (landmarks(big, box) / scale).astype(np.float32), source

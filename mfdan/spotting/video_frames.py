"""A long recording as a stream of frames: ``(index, H×W×3 uint8 RGB)``, one at a time.

Two sources: a video file OpenCV decodes (:func:`video_stream`) and an ordered list of frame files
(:func:`files_stream`, a dataset's frame folder). Neither holds the recording in memory. :func:`video_info`
reads the header. **What decodes is the recording**: containers estimate their frame count (duration × rate,
edit lists, variable frame rate), so a header that declares more or fewer frames than OpenCV decodes is a note
(:func:`count_note`), never a refusal; decoding that stops early (a damaged file) keeps the frames before it,
with a note saying where it stopped. A file OpenCV cannot open, or of which no frame decodes, is an error
naming it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from mfdan.core.errors import DatasetError
from mfdan.data.images import read_image



def count_note(path: str | Path, declared: int, decoded: int) -> str | None:
    """What to say when a video's header and its decoded frames disagree (None when they agree or the header says
    nothing)."""
    if not declared or declared == decoded:
        return None
    if decoded < declared:
        return (f"{path}: {decoded} frames decode where its header declares {declared} (a miscounted header, or "
                f"a damaged file that stops there): frames 0-{decoded - 1} are the recording")
    return f"{path}: {decoded} frames decode where its header declares {declared} (a miscounted header): all are used"


def _rgb(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB if bgr.ndim == 3 else cv2.COLOR_GRAY2RGB)


def open_video(path: str | Path) -> cv2.VideoCapture:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "video file not found")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise DatasetError(path, "OpenCV cannot open this video (unreadable, damaged or not a video)")
    return cap


def video_info(path: str | Path) -> tuple[int, float]:
    """``(declared frame count, frames per second)`` from the video's header (0 where it says nothing)."""
    cap = open_video(path)
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()


def is_long(path: Path, short_video: float) -> bool:
    """Whether a video file lasts more than ``short_video`` seconds (``spot.short_video``, by its header); a file
    OpenCV cannot open is not (reading it as a clip then reports it, with the other inputs still answered)."""
    try:
        n, fps = video_info(path)
    except DatasetError:
        return False
    return n > max(1.0, short_video * (fps or 30.0))


def video_stream(path: str | Path, *, stop: int | None = None,
                 notes: list[str] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Every frame of a video file that decodes (up to frame ``stop``, excluded), in order; read to its end, a
    header that miscounts them is said in ``notes`` (:func:`count_note`)."""
    path = Path(path)
    cap = open_video(path)
    declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    n = 0
    try:
        while stop is None or n < stop:
            ok, bgr = cap.read()
            if not ok:
                break
            yield n, _rgb(bgr)
            n += 1
    finally:
        cap.release()
    if n == 0:
        raise DatasetError(path, "OpenCV decodes no frame from this video (unreadable, damaged or not a video)")
    note = count_note(path, declared, n) if stop is None else None
    if note and notes is not None:
        notes.append(note)


def files_stream(files: Sequence[Path], *, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """The frames of ``files`` in order (a folder's frames, sorted by the caller), all of one size."""
    shape = None
    for i, p in enumerate(files[:stop]):
        img = read_image(p)
        if shape is not None and img.shape != shape:
            raise DatasetError(p, f"size {img.shape[1]}x{img.shape[0]} differs from the first frame's "
                                  f"{shape[1]}x{shape[0]} ({files[0]}); a recording is one camera's frames")
        shape = img.shape
        yield i, img


def decode(path: str | Path, wanted: Callable[[int], bool], *, stop: int | None = None,
           notes: list[str] | None = None) -> tuple[dict[int, np.ndarray], int]:
    """The frames ``n`` (< ``stop``; to the end when None) of a video file for which ``wanted(n)``, decoded (RGB);
    the others only grabbed. Returns them and how many frames were seen; read to its end, a header that
    miscounts them is said in ``notes``."""
    out: dict[int, np.ndarray] = {}
    cap = open_video(path)
    declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    n = 0
    try:
        while stop is None or n < stop:
            if wanted(n):
                ok, bgr = cap.read()
                if not ok:
                    break
                out[n] = _rgb(bgr)
            elif not cap.grab():
                break
            n += 1
    finally:
        cap.release()
    note = count_note(path, declared, n) if stop is None and n else None
    if note and notes is not None:
        notes.append(note)
    return out, n


def read_frames(source: str | Path | Sequence[Path], wanted: set[int]) -> dict[int, np.ndarray]:
    """Just the frames numbered in ``wanted`` (RGB), the others skipped without decoding where possible."""
    if not wanted:
        return {}
    if isinstance(source, (str, Path)):
        out, _ = decode(source, wanted.__contains__, stop=max(wanted) + 1)
        missing = sorted(wanted - set(out))
        if missing:
            raise DatasetError(source, f"truncated: frame {missing[0]} is not in the video")
        return out
    return {n: read_image(source[n]) for n in sorted(wanted)}

"""The three input forms of ``mfdan predict``, each read into a :class:`Clip`: the frames prediction uses (RGB
uint8, as the pipeline reads dataset frames), by index, with the onset index and, when given, the apex index.

* two frames: ``--onset FILE --apex FILE``;
* a clip folder: its image files in natural order (``img2`` before ``img10``), so the native CASME II, SAMM
  and SMIC-HS clip folders work as they are;
* a video file: the frames OpenCV decodes.

``--onset N`` / ``--apex N`` index the frames of a folder or video (0 = the first); without ``--apex`` the
apex is spotted later (:mod:`mfdan.predict.predictor`) among the frames from the onset to the last. Only the
frames used are decoded: the onset and the apex when the apex is given (a video is read no further than the
later of the two), the onset to the last frame otherwise. Every problem is a :class:`DatasetError` naming the
file."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfdan.core.errors import DatasetError
from mfdan.data.images import read_image
from mfdan.spotting.video_frames import decode

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


@dataclass
class Clip:
    """One input to predict: the frames it uses (H×W×3 uint8 RGB, by index in the clip), onset index, apex index
    (None = spot it among the frames from the onset on, which are then all in ``frames``)."""

    source: str                     #: what the user passed (a folder, a video, or the onset file)
    frames: dict[int, np.ndarray]
    onset: int
    apex: int | None
    names: dict[int, str]           #: per frame read: its file, or ``<video>:<index>``
    kind: str = "clip"              #: ``frames`` (two files), ``clip`` (a folder) or ``video``
    notes: tuple[str, ...] = ()     #: what the user should know about how it was read (a miscounted header)


def natural_key(name: str) -> list:
    """Sort key that orders embedded numbers by value: ``img2`` < ``img10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _check_order(path: str | Path, onset: int, apex: int | None) -> None:
    if onset < 0:
        raise DatasetError(path, f"onset index {onset} is negative")
    if apex is not None and apex < 0:
        raise DatasetError(path, f"apex index {apex} is negative")
    if apex == onset:
        raise DatasetError(path, f"apex index {apex} equals the onset index: no motion to measure")


def _check_range(path: str | Path, n: int, onset: int, apex: int | None) -> None:
    """``n``: the clip's frame count (or, for a video read no further than the later index, a lower bound)."""
    if n < 2:
        raise DatasetError(path, f"{n} frame{'s' if n != 1 else ''}: a clip needs at least 2 (onset and apex)")
    if onset >= n:
        raise DatasetError(path, f"onset index {onset} is out of range: the clip has {n} frames (0..{n - 1})")
    if apex is not None and apex >= n:
        raise DatasetError(path, f"apex index {apex} is out of range: the clip has {n} frames (0..{n - 1})")
    if apex is None and onset == n - 1:
        raise DatasetError(path, f"onset index {onset} is the last frame: no frame after it to spot an apex in")


def _used(i: int, onset: int, apex: int | None) -> bool:
    """Whether prediction reads frame ``i``: the onset and the apex, or (apex spotted) the onset onwards."""
    return i in (onset, apex) if apex is not None else i >= onset


def two_frames(onset: str | Path, apex: str | Path) -> Clip:
    """``--onset FILE --apex FILE``."""
    frames = [read_image(onset), read_image(apex)]
    if frames[0].shape != frames[1].shape:
        raise DatasetError(apex, f"size {frames[1].shape[1]}x{frames[1].shape[0]} differs from the onset frame's "
                                 f"{frames[0].shape[1]}x{frames[0].shape[0]} ({onset})")
    return Clip(source=str(onset), frames=dict(enumerate(frames)), onset=0, apex=1,
                names={0: str(onset), 1: str(apex)}, kind="frames")


def clip_folder(path: str | Path, onset: int = 0, apex: int | None = None) -> Clip:
    """A folder of frames in natural order; only the frames used are read."""
    path = Path(path)
    _check_order(path, onset, apex)
    files = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: natural_key(p.name))
    _check_range(path, len(files), onset, apex)
    frames = {i: read_image(p) for i, p in enumerate(files) if _used(i, onset, apex)}
    if len({f.shape for f in frames.values()}) > 1:
        raise DatasetError(path, "its frames differ in size; a clip is one camera's frames")
    return Clip(source=str(path), frames=frames, onset=onset, apex=apex,
                names={i: str(files[i]) for i in frames})


def video(path: str | Path, onset: int = 0, apex: int | None = None) -> Clip:
    """The frames of a video file OpenCV can decode: those used are decoded, the others only grabbed, and with
    a given apex nothing after the later of onset and apex is read."""
    path = Path(path)
    _check_order(path, onset, apex)
    notes: list[str] = []
    frames, n = decode(path, lambda i: _used(i, onset, apex), stop=None if apex is None else max(onset, apex) + 1,
                       notes=notes)
    if n == 0:
        raise DatasetError(path, "OpenCV decodes no frame from this video (unreadable, damaged or not a video)")
    _check_range(path, n, onset, apex)
    return Clip(source=str(path), frames=frames, onset=onset, apex=apex,
                names={i: f"{path}:{i}" for i in frames}, kind="video", notes=tuple(notes))


def read_input(path: str | Path, onset: int = 0, apex: int | None = None) -> Clip:
    """A positional input: a clip folder or a video file."""
    path = Path(path)
    if path.is_dir():
        return clip_folder(path, onset, apex)
    if not path.exists():
        raise DatasetError(path, "no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise DatasetError(path, "a single image is not a clip: pass two frames as --onset FILE --apex FILE, "
                                 "or a folder of frames")
    return video(path, onset, apex)

"""Native readers of the long-video datasets (:mod:`mfdan.data.long_protocols`), each returning
:class:`mfdan.data.long_records.LongVideo`: CAS(ME)² and the SAMM long videos."""
from __future__ import annotations

from pathlib import Path

from mfdan.data.long_protocols import LONG_DATASETS
from mfdan.data.long_readers import casme_sq, samm_lv
from mfdan.data.long_records import LongVideo
from mfdan.data.readers.common import check_frame_files

READERS = {"casme_sq": casme_sq.read, "samm_lv": samm_lv.read}
assert tuple(READERS) == LONG_DATASETS, "one reader per long-video dataset, in LONG_DATASETS order"


def read_long(dataset: str, root: str | Path, *, fps: float | None = None,
              notes: list[str] | None = None) -> list[LongVideo]:
    """The recordings of long-video ``dataset`` under ``root`` (its native layout), held to the clip readers'
    rules: every frame a regular file inside ``root`` (:func:`mfdan.data.readers.common.check_frame_files`); the
    readers themselves refuse a sheet row repeating a recording's interval and a recording folder with no row."""
    if dataset not in READERS:
        raise ValueError(f"unknown long-video dataset {dataset!r}; known: {list(LONG_DATASETS)}")
    videos = READERS[dataset](root, notes=notes, fps=fps)
    check_frame_files(((v.video, v.frames) for v in videos), Path(root))
    return videos

"""What the two long-video readers share: a recording's frame files, and a coded interval checked against it."""
from __future__ import annotations

import re
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.data.readers.common import frame_index
from mfdan.data.long_records import Interval


def frame_root(root: Path, subdirs: tuple[str, ...], folder_re: str, what: str) -> Path:
    """The first of ``root/subdir`` holding a folder whose name matches ``folder_re`` (``what`` names them)."""
    for sub in subdirs:
        cand = root / sub
        if cand.is_dir() and any(p.is_dir() and re.fullmatch(folder_re, p.name) for p in cand.iterdir()):
            return cand
    raise DatasetError(root, f"no {what} found (looked in {[str(root / s) for s in subdirs]})")


def recording_frames(folder: Path, pattern: re.Pattern[str]) -> tuple[tuple[Path, ...], int]:
    """The frame files of ``folder`` in frame-number order, which must run 1, 2, ... without a gap, and the
    first number (1)."""
    found = frame_index(folder, pattern)
    if not found:
        raise DatasetError(folder, "no frame files in this recording's folder")
    numbers = sorted(found)
    first = numbers[0]
    for want, got in zip(range(first, first + len(numbers)), numbers):
        if want != got:
            raise DatasetError(folder, f"missing frame {want} (frames run {first}..{numbers[-1]} with gaps)")
    return tuple(found[n] for n in numbers), first


def coded_interval(sheet: Path, row: int, onset: int, apex: int | None, offset: int, first: int, n: int, *,
                   kind: str, label: str | None, video: Path) -> Interval:
    """An interval in frame numbers (``first`` = the recording's first) as 0-based indices, or one error naming
    the sheet row: zero-length, reversed, or past the recording's ``n`` frames."""
    if offset == onset:
        raise DatasetError(sheet, f"zero-length interval: onset and offset are both frame {onset}", row=row)
    if offset < onset:
        raise DatasetError(sheet, f"offset frame {offset} comes before onset frame {onset}", row=row)
    if onset < first:
        raise DatasetError(sheet, f"onset frame {onset} is before the recording's first frame {first}", row=row)
    last = first + n - 1
    if offset > last:
        raise DatasetError(sheet, f"interval {onset}..{offset} runs past the end of {video} (its last frame is "
                                  f"{last})", row=row)
    if apex is None or not onset <= apex <= offset:
        apex = (onset + offset) // 2
    return Interval(onset=onset - first, apex=apex - first, offset=offset - first, kind=kind, label=label)

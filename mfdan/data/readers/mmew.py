"""MMEW reader, micro-expressions (Ben et al., "Video-based facial micro-expression analysis: a survey of
datasets, features and algorithms", TPAMI 2021; the dataset's site dpailab.com/database.html).

Layout, as the loaders that read the release use it (``meb``: tvaranka/meb; asiyabb/MMEW_exp1)::

    ROOT/MMEW_Micro_Exp.xlsx                                coding sheet: Subject, Filename, OnsetFrame,
                                                            ApexFrame, OffsetFrame, Action Units,
                                                            Estimated Emotion, remarks
    ROOT/Micro_Expression/happiness/S03-01-002/1.jpg        frames <n>.jpg, one folder per emotion
    ROOT/Micro_Expression/S03/happiness/S03-01-002/1.jpg    (some copies: a subject level above the emotion)

``Micro_Expression/`` may also sit in ``MMEW_Final/``. The sheet's ``others`` clips live in the folder
``repression`` in copies that have one (the site lists the folders happiness, surprise, disgust, repression,
fear, sadness, anger), else in ``others``. A clip's folder must agree with its sheet emotion: it is found
under that emotion's folder only.
"""
from __future__ import annotations

import re
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.data.readers.common import (FirstRows, coded_rows, coded_sample, find_sheet, frame_index)
from mfdan.data.records import Sample

NAME = "mmew"
SHEET_GLOBS = ("MMEW_Micro_Exp*.xlsx", "MMEW_Micro_Exp*.csv", "MMEW_Final/MMEW_Micro_Exp*.xlsx",
               "MMEW*Micro*.xlsx", "MMEW*Micro*.csv")
FRAME_DIRS = ("Micro_Expression", "MMEW_Final/Micro_Expression", "MMEW/Micro_Expression")
COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename", "File name"),
    "onset": ("OnsetFrame", "Onset Frame", "Onset"),
    "apex": ("ApexFrame", "Apex Frame", "Apex"),
    "offset": ("OffsetFrame", "Offset Frame", "Offset"),
    "aus": ("Action Units", "AU", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
}
#: sheet emotion -> the folder names that may hold its clips, in order of preference
FOLDERS = {"others": ("repression", "others")}
FRAME_RE = re.compile(r"^(\d+)\.\w+$")
SUBJECT_RE = re.compile(r"^[Ss]?(\d+)$")


def canonical_subject(sheet: Path, row: int, cell: str) -> str:
    """``'3'``, ``'03'``, ``'S03'`` -> ``'S03'`` (the folder and file-name spelling)."""
    m = SUBJECT_RE.match(cell.strip())
    if not m:
        raise DatasetError(sheet, f"subject {cell!r} is not an MMEW subject (S03, or a number)", row=row)
    return f"S{int(m.group(1)):02d}"


def frame_root(root: Path) -> Path:
    for d in FRAME_DIRS:
        if (root / d).is_dir():
            return root / d
    raise DatasetError(root, f"no Micro_Expression folder found (looked in {[str(root / d) for d in FRAME_DIRS]})")


def read(root: str | Path, *, sheet: str | Path | None = None) -> list[Sample]:
    """All MMEW micro-expression samples under ``root``, in sheet order."""
    root = Path(root)
    sheet = Path(sheet) if sheet else find_sheet(root, SHEET_GLOBS)
    base = frame_root(root)
    samples: list[Sample] = []
    seen = FirstRows()
    for r in coded_rows(NAME, sheet, COLUMNS, canonical_subject):
        seen.check(r, (r.subject, r.clip), f"clip {r.clip}")
        tried = [base / sub / folder / r.clip for folder in FOLDERS.get(r.emotion, (r.emotion,))
                 for sub in ("", r.subject)]
        clip_dir = next((p for p in tried if p.is_dir()), None)
        if clip_dir is None:
            raise DatasetError(tried[0], f"clip folder of row {r.row} of {sheet.name} ({r.emotion}) not found "
                                         f"(looked in {', '.join(str(p.parent) for p in tried)})")
        samples.append(coded_sample(NAME, r, r.clip, clip_dir, frame_index(clip_dir, FRAME_RE), template="{n}.jpg"))
    return samples

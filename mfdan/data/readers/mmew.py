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
from mfdan.data.readers.common import (apex_index, check_emotion, clip_folder_name, coded_span, find_sheet,
                                       frame_index, frame_span)
from mfdan.data.records import Sample
from mfdan.data.sheets import read_sheet

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
    first_row: dict[tuple[str, str], int] = {}
    for row, cells in read_sheet(sheet, COLUMNS):
        subject = canonical_subject(sheet, row, cells["subject"])
        clip = clip_folder_name(sheet, row, cells["filename"].strip())
        onset, apex, offset = coded_span(sheet, row, cells)
        emotion = check_emotion(NAME, sheet, row, cells["emotion"])
        if (subject, clip) in first_row:
            raise DatasetError(sheet, f"rows {first_row[(subject, clip)]} and {row} both describe clip {clip}", row=row)
        first_row[(subject, clip)] = row
        tried = [base / sub / folder / clip for folder in FOLDERS.get(emotion, (emotion,)) for sub in ("", subject)]
        clip_dir = next((p for p in tried if p.is_dir()), None)
        if clip_dir is None:
            raise DatasetError(tried[0], f"clip folder of row {row} of {sheet.name} ({emotion}) not found "
                                         f"(looked in {', '.join(str(p.parent) for p in tried)})")
        paths, numbers = frame_span(clip_dir, frame_index(clip_dir, FRAME_RE), onset, offset, template="{n}.jpg",
                                    row_ref=(sheet, row))
        samples.append(Sample(
            dataset=NAME, subject=subject, sample_id=clip, frames=paths, frame_numbers=numbers, onset=0,
            apex=apex_index(sheet, row, onset, apex, offset), offset=len(paths) - 1, emotion=emotion,
            action_units=cells["aus"],
        ))
    return samples

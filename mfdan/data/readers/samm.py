"""SAMM reader (Davison et al., IEEE TAC 2018).

Layout::

    ROOT/SAMM_Micro_FACS_Codes_v2.xlsx    coding sheet (a preamble of rows precedes the header)
    ROOT/006/006_1_2/006_05562.jpg        frames, named SUBJECT_FRAMENUMBER

The frame folders may also sit one level down, in ``SAMM/``.
"""
from __future__ import annotations

import re
from pathlib import Path

from mfdan.data.readers.common import find_frame_root, find_sheet, read_coded
from mfdan.data.records import Sample

NAME = "samm"
SHEET_GLOBS = ("SAMM_Micro_FACS_Codes*.xlsx", "SAMM_Micro_FACS_Codes*.csv", "SAMM*Codes*.xlsx", "SAMM*.csv")
FRAME_DIRS = ("", "SAMM")
COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename", "File name"),
    "onset": ("Onset Frame", "OnsetFrame", "Onset"),
    "apex": ("Apex Frame", "ApexFrame", "Apex"),
    "offset": ("Offset Frame", "OffsetFrame", "Offset"),
    "aus": ("Action Units", "Action Unit", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion", "Label"),
}
FRAME_RE = re.compile(r"^\d+_(\d+)\.\w+$")
SUBJECT_DIR_RE = re.compile(r"^\d{3}$")


def subject_folder(cell: str) -> str:
    """``'6'`` or ``'006'`` -> ``'006'``."""
    if not cell.isdigit():
        raise ValueError(f"subject {cell!r} is not a SAMM subject number")
    return f"{int(cell):03d}"


def read(root: str | Path, *, sheet: str | Path | None = None, strict_folders: bool = True) -> list[Sample]:
    """All SAMM micro-movement samples under ``root``, in sheet order."""
    root = Path(root)
    return read_coded(
        name=NAME, sheet=Path(sheet) if sheet else find_sheet(root, SHEET_GLOBS), columns=COLUMNS,
        frame_root=find_frame_root(root, FRAME_DIRS, SUBJECT_DIR_RE), subject_re=SUBJECT_DIR_RE,
        subject_folder=subject_folder, frame_re=FRAME_RE, prefer=None, only_preferred=False,
        template="{subject}_{n:05d}.jpg", strict_folders=strict_folders,
    )

"""CASME II reader (Yan et al., PLoS ONE 2014).

Layout::

    ROOT/CASME2-coding-*.xlsx             (or .csv) coding sheet
    ROOT/sub01/EP02_01f/img46.jpg         raw release (CASME2_RAW_selected), or
    ROOT/sub01/EP02_01f/reg_img46.jpg     cropped release (Cropped)

The frame folders may also sit one level down, in ``CASME2_RAW_selected/`` or ``Cropped/``.
"""
from __future__ import annotations

import re
from pathlib import Path

from mfdan.data.readers.common import find_frame_root, find_sheet, read_coded
from mfdan.data.records import Sample

NAME = "casme2"
SHEET_GLOBS = ("CASME2-coding-*.xlsx", "CASME2-coding-*.csv", "CASME2*coding*.xlsx", "CASME2*coding*.csv")
FRAME_DIRS = ("", "CASME2_RAW_selected", "CASME2_RAW", "Cropped", "CASME2_Cropped")
COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename", "File name"),
    "onset": ("OnsetFrame", "Onset Frame", "Onset"),
    "apex": ("ApexFrame", "Apex Frame", "Apex", "ApexFrame1"),
    "offset": ("OffsetFrame", "Offset Frame", "Offset"),
    "aus": ("Action Units", "Action Unit", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion", "Label"),
}
FRAME_RE = re.compile(r"^(?:reg_)?img(\d+)\.\w+$")
SUBJECT_DIR_RE = re.compile(r"^sub(\d+)$")


def subject_folder(cell: str) -> str:
    """``'1'``, ``'01'`` or ``'sub01'`` -> ``'sub01'``."""
    text = cell.removeprefix("sub")
    if not text.isdigit():
        raise ValueError(f"subject {cell!r} is not a CASME II subject number")
    return f"sub{int(text):02d}"


def read(root: str | Path, *, sheet: str | Path | None = None, variant: str = "auto",
         strict_folders: bool = True) -> list[Sample]:
    """All CASME II samples under ``root``, in sheet order.

    ``variant``: ``raw`` (``img*.jpg``), ``cropped`` (``reg_img*.jpg``) or ``auto`` (raw where present).
    ``strict_folders``: a subject folder with no row in the sheet is an error.
    """
    root = Path(root)
    prefer = {"auto": "img", "raw": "img", "cropped": "reg_img"}[variant]
    return read_coded(
        name=NAME, sheet=Path(sheet) if sheet else find_sheet(root, SHEET_GLOBS), columns=COLUMNS,
        frame_root=find_frame_root(root, FRAME_DIRS, SUBJECT_DIR_RE), subject_re=SUBJECT_DIR_RE,
        subject_folder=subject_folder, frame_re=FRAME_RE, prefer=prefer, only_preferred=variant != "auto",
        template=prefer + "{n}.jpg", strict_folders=strict_folders,
    )

"""CASME reader (Yan et al., "CASME database: a dataset of spontaneous micro-expressions collected from
neutralized faces", FG 2013).

Layout, as released (two sections, two cameras; the layout ``meb`` and other loaders read)::

    ROOT/CASME-coded-20190721.xls               one coding sheet for both sections, or
    ROOT/Section A.xls, ROOT/Section B.xls      one per section (also inside CASME_A/, CASME_B/)
    ROOT/CASME_A/Section A/sub01/EP01_5/EP01_5-1.jpg     Section A: sub01-sub07, 1280x720 at 60 fps
    ROOT/CASME_B/Section B/sub08/EP01_12/EP01_12-1.jpg   Section B: sub08-sub19, 640x480 at 60 fps

Frames are ``<Filename>-<n>.jpg`` (the cropped release ``reg_<Filename>-<n>.jpg``). The sheets' columns are
Subject, Filename, OnsetF, ApexF1, ApexF2, OffsetF, AU, Emotion (ApexF1 is the apex; ApexF2, a second apex
frame, is ``\\`` where there is none and is not read). Emotions as coded: happiness (the 2019 sheet's name for the
paper's amusement), disgust, repression, surprise, sadness, tense, fear and ``comtempt`` (sic).
"""
from __future__ import annotations

import re
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.data.readers.common import (FirstRows, coded_rows, coded_sample, frame_index)
from mfdan.data.records import Sample

NAME = "casme"
COMBINED_GLOBS = ("CASME-coded*.xls", "CASME-coded*.xlsx", "CASME-coded*.csv", "CASME*coding*.xls*", "CASME*coding*.csv")
SECTION_SHEETS = ("Section A", "Section B")
SHEET_DIRS = ("", "CASME_A", "CASME_B")
FRAME_DIRS = ("", "CASME_A/Section A", "CASME_B/Section B", "Section A", "Section B", "CASME_A", "CASME_B")
COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename", "File name"),
    "onset": ("OnsetF", "OnsetFrame", "Onset Frame"),
    "apex": ("ApexF1", "ApexFrame", "Apex Frame", "ApexF"),
    "offset": ("OffsetF", "OffsetFrame", "Offset Frame"),
    "aus": ("AU", "Action Units", "AUs"),
    "emotion": ("Emotion", "Estimated Emotion"),
}
SUBJECT_DIR_RE = re.compile(r"^sub(\d+)$")
SHEET_SUFFIXES = (".xls", ".xlsx", ".csv")


def sheets(root: Path) -> list[Path]:
    """The combined coding sheet if present, else the two section sheets (both must be there)."""
    for d in SHEET_DIRS:
        for g in COMBINED_GLOBS:
            hits = sorted((root / d).glob(g)) if (root / d).is_dir() else []
            if hits:
                return [hits[0]]
    found = []
    for section in SECTION_SHEETS:
        hit = next((root / d / f"{section}{s}" for d in SHEET_DIRS for s in SHEET_SUFFIXES
                    if (root / d / f"{section}{s}").is_file()), None)
        if hit is None:
            raise DatasetError(root, f"no CASME coding sheet found (looked for {', '.join(COMBINED_GLOBS)}, or "
                                     f"'{section}.xls' here or in {', '.join(SHEET_DIRS[1:])}/)")
        found.append(hit)
    return found


def subject_folders(root: Path) -> dict[str, Path]:
    """``sub01`` -> its folder, over both sections' frame folders; a subject in two places is an error."""
    out: dict[str, Path] = {}
    for d in FRAME_DIRS:
        base = root / d
        if not base.is_dir():
            continue
        for p in sorted(base.iterdir()):
            if p.is_dir() and SUBJECT_DIR_RE.match(p.name):
                name = f"sub{int(p.name[3:]):02d}"
                if name in out and out[name] != p:
                    raise DatasetError(p, f"subject {name} also found at {out[name]}")
                out[name] = p
    if not out:
        raise DatasetError(root, f"no CASME subject folders found (looked in {[str(root / d) for d in FRAME_DIRS]})")
    return out


def subject_folder(sheet: Path, row: int, cell: str) -> str:
    """``'1'``, ``'01'`` or ``'sub01'`` -> ``'sub01'``."""
    text = cell.strip().lower().removeprefix("sub")
    if not text.isdigit():
        raise DatasetError(sheet, f"subject {cell!r} is not a CASME subject number", row=row)
    return f"sub{int(text):02d}"


def read(root: str | Path, *, variant: str = "auto") -> list[Sample]:
    """All CASME samples under ``root``, in sheet order (Section A's sheet first).

    ``variant``: ``raw`` (``EP01_5-1.jpg``), ``cropped`` (``reg_EP01_5-1.jpg``) or ``auto`` (raw where present).
    """
    root = Path(root)
    folders = subject_folders(root)
    prefer = {"auto": "", "raw": "", "cropped": "reg_"}[variant]
    samples: list[Sample] = []
    seen = FirstRows()
    for sheet in sheets(root):
        for r in coded_rows(NAME, sheet, COLUMNS, subject_folder):
            seen.check(r, (r.subject, r.clip), f"clip {r.subject}/{r.clip}")
            if r.subject not in folders:
                raise DatasetError(root / r.subject, f"subject folder of row {r.row} of {sheet.name} not found")
            clip_dir = folders[r.subject] / r.clip
            if not clip_dir.is_dir():
                raise DatasetError(clip_dir, f"clip folder of row {r.row} of {sheet.name} not found")
            pattern = re.compile(rf"^(?:reg_)?{re.escape(r.clip)}-(\d+)\.\w+$")
            index = frame_index(clip_dir, pattern, prefer=prefer or r.clip)
            if variant == "cropped":
                index = {n: p for n, p in index.items() if p.name.startswith("reg_")}
            elif variant == "raw":
                index = {n: p for n, p in index.items() if not p.name.startswith("reg_")}
            samples.append(coded_sample(NAME, r, r.clip, clip_dir, index, template=f"{prefer}{r.clip}-{{n}}.jpg"))
    return samples

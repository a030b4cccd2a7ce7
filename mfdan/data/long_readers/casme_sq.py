"""CAS(ME)² long videos (Qu, Wang, Yan, Li, Zhao and Fu, IEEE TAC 2018), ``casme_sq`` in spotting code.

Layout (as the release, and as the MEGC 2020 baseline's and SOFTNet's loaders read it)::

    ROOT/CAS(ME)^2code_final.xlsx          coding workbook, three worksheets, no header rows:
        1 (CASFEcode_final): participant, <video name>_<n>, onset, apex, offset, AUs, emotion,
                             micro-expression | macro-expression, self-reported emotion
        2 (naming rule1):    _, subject folder (s15), participant
        3 (naming rule2):    video code (0101, a 4-digit text), video name (disgustingteeth)
    ROOT/rawpic/s15/15_0101disgustingteeth/img1.jpg     frames, 1-based, at 30 fps

The frame folder of a row is the subject folder's folder starting ``<n>_<code>``. Placeholders, as those
loaders treat them: an offset of 0 means the expression ends at its apex (offset = apex), an apex of 0 or
outside the interval is the middle frame. A zero-length or reversed interval, one past the video's last
frame, or one a row has already coded (same recording, onset and offset), is an error naming the row(s); a
subject or recording folder that no row names is an error naming the folder (as the clip readers'
:func:`mfdan.data.readers.common.check_folders`).
"""
from __future__ import annotations

import re
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.data.long_protocols import RELEASE_FPS, THREE_CLASS_LONG
from mfdan.data.long_readers.common import coded_interval, frame_root, recording_frames
from mfdan.data.long_records import LongVideo
from mfdan.data.readers.common import FirstRows, check_folders, find_sheet
from mfdan.data.sheets import parse_frame, sheet_cells

NAME = "casme_sq"
SHEET_GLOBS = ("CAS(ME)^2code_final*.xlsx", "CAS(ME)2code_final*.xlsx", "*code_final*.xlsx")
FRAME_DIRS = ("rawpic", "", "CAS(ME)^2/rawpic")
FRAME_RE = re.compile(r"^img(\d+)\.\w+$")
SUBJECT_DIR_RE = re.compile(r"^s\d+$")
ANY_DIR_RE = re.compile(r"")
TYPES = {"micro-expression": "micro", "macro-expression": "macro"}


def read(root: str | Path, *, notes: list[str] | None = None, fps: float | None = None) -> list[LongVideo]:
    """Every coded recording under ``root``, in sheet order of first appearance; ``fps``: the frame rate when it
    is not the release's (generated recordings at a compact rate)."""
    root = Path(root)
    sheet = find_sheet(root, SHEET_GLOBS)
    frames_at = frame_root(root, FRAME_DIRS, r"s\d+", "subject folders s<NN>")
    subjects = {}
    for row, cells in sheet_cells(sheet, 1):  # naming rule1: _, folder, participant
        if len(cells) >= 3 and re.fullmatch(r"s\d+", cells[1]) and cells[2].isdigit():
            subjects[int(cells[2])] = cells[1]
    codes = {}
    for row, cells in sheet_cells(sheet, 2):  # naming rule2: code, name
        if len(cells) >= 2 and re.fullmatch(r"\d{1,4}", cells[0]) and cells[1]:
            codes[cells[1].lower()] = cells[0].zfill(4)
    if not subjects or not codes:
        raise DatasetError(sheet, "its 'naming rule1' and 'naming rule2' worksheets (subject folders, video codes) "
                                  "are missing or empty")
    videos: dict[Path, dict] = {}
    seen = FirstRows()
    for row, cells in sheet_cells(sheet, 0):
        if len(cells) < 8 or not cells[0].isdigit():
            continue  # a title row
        participant, name = int(cells[0]), cells[1].rsplit("_", 1)[0].lower()
        if participant not in subjects:
            raise DatasetError(sheet, f"participant {participant} is not in 'naming rule1'", row=row)
        if name not in codes:
            raise DatasetError(sheet, f"video {cells[1]!r}: {name!r} is not in 'naming rule2'", row=row)
        kind = TYPES.get(cells[7].strip().lower())
        if kind is None:
            raise DatasetError(sheet, f"expression type {cells[7]!r} is not one of {sorted(TYPES)}", row=row)
        emotion = cells[6].strip().lower()
        if emotion not in THREE_CLASS_LONG[NAME]:
            raise DatasetError(sheet, f"unknown emotion {cells[6]!r} (known: {sorted(THREE_CLASS_LONG[NAME])})", row=row)
        subject_dir = frames_at / subjects[participant]
        if not subject_dir.is_dir():
            raise DatasetError(subject_dir, f"subject folder of participant {participant} not found")
        hits = sorted(p for p in subject_dir.iterdir() if p.is_dir() and p.name.split("_", 1)[-1].startswith(codes[name]))
        if not hits:
            raise DatasetError(subject_dir / f"{subjects[participant][1:]}_{codes[name]}{name}",
                               f"recording folder not found (sheet row {row})")
        folder = hits[0]
        if folder not in videos:
            frames, first = recording_frames(folder, FRAME_RE)
            videos[folder] = {"subject": subjects[participant], "frames": frames, "first": first, "iv": [], "em": []}
        v = videos[folder]
        onset = parse_frame(sheet, row, "onset", cells[2])
        apex = parse_frame(sheet, row, "apex", cells[3], optional=True) or None
        offset = parse_frame(sheet, row, "offset", cells[4])
        if offset == 0 and apex is not None:
            offset = apex
            if notes is not None:
                notes.append(f"{sheet.name} row {row}: offset 0 read as the apex, frame {apex}")
        seen.check_row(sheet, row, (folder.name, onset, offset),
                       f"interval {onset}..{offset} of recording {subjects[participant]}/{folder.name}")
        v["iv"].append(coded_interval(sheet, row, onset, apex, offset, v["first"], len(v["frames"]), kind=kind,
                                      label=THREE_CLASS_LONG[NAME][emotion] if kind == "micro" else None,
                                      video=folder))
        v["em"].append(emotion)
    if not videos:
        raise DatasetError(sheet, "no coded intervals in its first worksheet")
    check_folders(frames_at, SUBJECT_DIR_RE, {v["subject"] for v in videos.values()}, sheet)
    for subject in sorted({v["subject"] for v in videos.values()}):
        check_folders(frames_at / subject, ANY_DIR_RE, {f.name for f in videos if f.parent.name == subject}, sheet,
                      "recording folder")
    return [LongVideo(dataset=NAME, subject=v["subject"], video=folder.name, frames=v["frames"],
                      fps=fps or RELEASE_FPS[NAME], intervals=tuple(v["iv"]), emotions=tuple(v["em"]))
            for folder, v in videos.items()]

"""SAMM long videos (Yap, See, Hong, Davison, Khan and Khor, "SAMM Long Videos", FG 2020), ``samm_lv``.

Layout (as the release, and as SOFTNet's and the MEGC 2020 baseline's loaders read it)::

    ROOT/SAMM_LongVideos_V3_Release.xlsx   coding sheet (V1/V2 too): a preamble, then the header row
        Subject, Filename (006_1_2: video 006_1, its 2nd interval), Inducement Code, Onset, Apex, Offset,
        Duration, Type (Macro | Micro - 1/2), Action Units, Notes
    ROOT/SAMM_longvideos/006_1/006_1_0001.jpg           frames, 1-based, at 200 fps
    ROOT/SAMM_Micro_FACS_Codes_v2.xlsx                   optional: the micro sheet's emotions

The long-video sheet has no emotion; as MEAN's loader (genbing99/MEAN_Spot-then-recognize), a micro row takes
the Estimated Emotion of the same Filename in the SAMM micro-expression sheet when that is in ``ROOT``.
Placeholders: an offset of 0 means the expression ends at its apex, an apex of −1 or outside the interval is
the middle frame, and a Macro row with onset 0 is left out (SOFTNet's and MEAN's "extremely long"
movements), each listed in ``notes``. A row repeating a recording's onset and offset is an error naming both
rows; a recording folder that no row names is an error naming the folder (as the clip readers').
"""
from __future__ import annotations

import re
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.data.long_protocols import RELEASE_FPS, THREE_CLASS_LONG
from mfdan.data.long_readers.common import coded_interval, frame_root, recording_frames
from mfdan.data.long_records import LongVideo
from mfdan.data.readers.common import FirstRows, check_folders, clip_folder_name, find_sheet
from mfdan.data.sheets import parse_frame, read_sheet

NAME = "samm_lv"
SHEET_GLOBS = ("SAMM_LongVideos*.xlsx", "SAMM_LongVideos*.csv")
MICRO_SHEET_GLOBS = ("SAMM_Micro_FACS_Codes*.xlsx",)
FRAME_DIRS = ("SAMM_longvideos", "SAMM_longvideos/SAMM_longvideos", "")
FRAME_RE = re.compile(r"^\d+_\d+_(\d+)\.\w+$")
RECORDING_DIR_RE = re.compile(r"^\d{3}_\d+$")
COLUMNS = {"subject": ("Subject",), "filename": ("Filename",), "onset": ("Onset",), "apex": ("Apex",),
           "offset": ("Offset",), "type": ("Type",)}


def _emotions(root: Path) -> dict[str, str]:
    """Filename → estimated emotion (lower case) from the SAMM micro sheet, if there is one."""
    try:
        sheet = find_sheet(root, MICRO_SHEET_GLOBS)
    except DatasetError:
        return {}
    rows = read_sheet(sheet, {"filename": ("Filename",), "emotion": ("Estimated Emotion", "Emotion")})
    return {c["filename"]: c["emotion"].strip().lower() for _, c in rows}


def _number(sheet: Path, row: int, field: str, text: str) -> int | None:
    """A frame cell, which SAMM may write as a float; −1 (no apex) is None."""
    t = text.strip()
    try:
        if float(t) == -1:
            return None
        t = str(int(round(float(t))))
    except ValueError:
        pass
    return parse_frame(sheet, row, field, t)


def read(root: str | Path, *, notes: list[str] | None = None, fps: float | None = None) -> list[LongVideo]:
    """Every coded recording under ``root``, in sheet order of first appearance; ``fps``: the frame rate when it
    is not the release's (generated recordings at a compact rate)."""
    root = Path(root)
    sheet = find_sheet(root, SHEET_GLOBS)
    frames_at = frame_root(root, FRAME_DIRS, r"\d{3}_\d+", "recording folders <subject>_<n>")
    emotions = _emotions(root)
    videos: dict[str, dict] = {}
    named: set[str] = set()  # recordings the sheet names, those whose every row is left out too
    seen = FirstRows()
    for row, c in read_sheet(sheet, COLUMNS):
        name = clip_folder_name(sheet, row, c["filename"])
        video = name.rsplit("_", 1)[0] if name.count("_") >= 2 else name
        named.add(video)
        kind = "macro" if c["type"].strip().lower().startswith("macro") else (
            "micro" if c["type"].strip().lower().startswith("micro") else None)
        if kind is None:
            raise DatasetError(sheet, f"Type {c['type']!r} is neither Macro nor Micro", row=row)
        onset = _number(sheet, row, "Onset", c["onset"])
        apex = _number(sheet, row, "Apex", c["apex"])
        offset = _number(sheet, row, "Offset", c["offset"])
        if onset == 0 and kind == "macro":
            if notes is not None:
                notes.append(f"{sheet.name} row {row}: Macro {name} with onset 0 left out (an extremely long movement)")
            continue
        if offset == 0 and apex is not None:
            offset = apex
            if notes is not None:
                notes.append(f"{sheet.name} row {row}: offset 0 read as the apex, frame {apex}")
        if video not in videos:
            folder = frames_at / video
            if not folder.is_dir():
                raise DatasetError(folder, f"recording folder not found (sheet row {row})")
            frames, first = recording_frames(folder, FRAME_RE)
            videos[video] = {"subject": video.split("_")[0], "frames": frames, "first": first, "iv": [], "em": [],
                             "folder": folder}
        v = videos[video]
        seen.check_row(sheet, row, (video, onset, offset), f"interval {onset}..{offset} of recording {video}")
        emotion = emotions.get(name, "") if kind == "micro" else ""
        label = THREE_CLASS_LONG[NAME].get(emotion) if emotion else None
        v["iv"].append(coded_interval(sheet, row, onset, apex, offset, v["first"], len(v["frames"]), kind=kind,
                                      label=label, video=v["folder"]))
        v["em"].append(emotion)
    if not videos:
        raise DatasetError(sheet, "no coded intervals")
    check_folders(frames_at, RECORDING_DIR_RE, named, sheet, "recording folder")
    return [LongVideo(dataset=NAME, subject=v["subject"], video=video, frames=v["frames"], fps=fps or RELEASE_FPS[NAME],
                      intervals=tuple(v["iv"]), emotions=tuple(v["em"])) for video, v in videos.items()]

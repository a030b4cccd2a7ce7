"""CAS(ME)³ Part A reader, micro-expressions (Li et al., "CAS(ME)³: A third generation facial spontaneous
micro-expression database with depth information and high ecological validity", TPAMI 2022).

Layout, as the release and its label sheet (jingtingEmmaLi/CAS-ME-3, ``cas(me)3_part_A_ME_label_JpgIndex_v2``)
give it::

    ROOT/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   label sheet: Subject, Filename, Onset, Apex, Offset, AU,
                                                     Objective class, Emotion (one row per micro-expression)
    ROOT/spNO.1/a/color/355.jpg                      RGB frames of task video ``a``, numbered from 1
    ROOT/spNO.1/a/depth/355.png                      depth (not read)
    ROOT/Part_A_ME_clip/frame/spNO.1_a_355/355.jpg   or the micro-expression clip release, one folder per row

The subject folders may also sit in ``data/part_A_split/part_A/`` (the full-video release, as ``meb`` reads it),
``part_A/``, ``Part_A/`` or ``RGB/``. A task video holds several micro-expressions, so a sample is the sheet's
onset..offset span of its video; its id is ``<subject>_<video>_<onset>`` (``spNO.1_e_62``), the clip
release's folder name. The v2 sheet's known errors are corrected by :data:`ERRATA` (each correction is listed
in ``notes``); beyond those, an Offset of 0 (the offset not coded) skips the row and an apex outside
onset..offset keeps the clip without an apex (``data.apex_fallback`` applies), both listed in ``notes``. A
Filename ``J`` names folder ``j`` where only that exists; ``Others`` is ``others``.
"""
from __future__ import annotations

import re
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.data.readers.common import (check_emotion, clip_folder_name, coded_span, find_frame_root, find_sheet,
                                       frame_index, frame_span)
from mfdan.data.records import Sample
from mfdan.data.sheets import read_sheet

NAME = "casme3"
SHEET_GLOBS = ("cas(me)3_part_A_ME_label*.xlsx", "cas(me)3_part_A_ME_label*.csv", "*part_A*ME*label*.xlsx",
               "*part_A*ME*label*.xls", "*part_A*ME*label*.csv")
FRAME_DIRS = ("", "data/part_A_split/part_A", "part_A/data/part_A_split/part_A", "part_A", "Part_A", "RGB")
CLIP_DIRS = ("Part_A_ME_clip/frame", "Part_A_ME_clip/Part_A_ME_clip/frame", "frame")
#: Corrections of the v2 label sheet's known errors, as the ``meb`` benchmark applies them (Varanka et al.;
#: tvaranka/meb, meb/datasets/datasets.py, ``Casme3A``): (subject, video, onset, apex, offset as coded) ->
#: the corrected (onset, apex, offset). Frame 0 does not exist (frames start at 1); an offset of 0 is not coded.
ERRATA: dict[tuple[str, str, int, int, int], tuple[int, int, int]] = {
    ("spNO.149", "d", 112, 83, 358): (112, 123, 358),        # apex before onset
    ("spNO.214", "c", 5, 5, 3460): (5, 5, 34),               # offset 3460 frames after onset
    ("spNO.216", "d", 3647, 2668, 2694): (2647, 2668, 2694),  # onset after apex and offset
    ("spNO.216", "e", 0, 0, 25): (1, 1, 25),                 # frame 0
    ("spNO.40", "e", 1812, 1824, 0): (1812, 1824, 1845),     # offset not coded
    ("spNO.40", "e", 2327, 2363, 0): (2327, 2363, 2403),     # offset not coded
}
COLUMNS = {
    "subject": ("Subject", "sub"),
    "filename": ("Filename", "File name"),
    "onset": ("Onset", "OnsetFrame", "Onset Frame"),
    "apex": ("Apex", "ApexFrame", "Apex Frame"),
    "offset": ("Offset", "OffsetFrame", "Offset Frame"),
    "aus": ("AU", "Action Units", "AUs"),
    "emotion": ("emotion", "Emotion", "Estimated Emotion"),
}
FRAME_RE = re.compile(r"^(\d+)\.\w+$")
SUBJECT_DIR_RE = re.compile(r"^spNO\.(\d+)$")


def clip_root(root: Path) -> Path | None:
    """The clip release's ``frame/`` folder, if ``root`` holds that release."""
    return next((root / d for d in CLIP_DIRS if (root / d).is_dir()), None)


def read(root: str | Path, *, sheet: str | Path | None = None, notes: list[dict] | None = None) -> list[Sample]:
    """All coded CAS(ME)³ Part A micro-expressions under ``root``, in sheet order; ``notes`` (if given)
    receives one entry per row corrected, changed or skipped (see the module's docstring)."""
    root = Path(root)
    sheet = Path(sheet) if sheet else find_sheet(root, SHEET_GLOBS)
    clips = clip_root(root)
    frame_root = None if clips else find_frame_root(root, FRAME_DIRS, SUBJECT_DIR_RE)
    notes = [] if notes is None else notes
    samples: list[Sample] = []
    first_row: dict[tuple[str, str, int], int] = {}
    indexes: dict[Path, dict[int, Path]] = {}
    for row, cells in read_sheet(sheet, COLUMNS):
        subject = cells["subject"].strip()
        if not SUBJECT_DIR_RE.match(subject):
            raise DatasetError(sheet, f"subject {subject!r} is not a CAS(ME)³ subject (spNO.N)", row=row)
        video = clip_folder_name(sheet, row, cells["filename"].strip())
        onset, apex, offset = coded_span(sheet, row, cells)
        emotion = check_emotion(NAME, sheet, row, cells["emotion"])
        sample_id = f"{subject}_{video}_{onset}"
        fix = ERRATA.get((subject, video, onset, apex, offset))
        if fix:
            notes.append({"sheet": str(sheet), "row": row, "sample": sample_id, "action": "corrected",
                          "why": f"onset, apex, offset {onset}, {apex}, {offset} -> {fix[0]}, {fix[1]}, {fix[2]} "
                                 f"(known error of the v2 sheet, as meb corrects it)"})
            onset, apex, offset = fix
        if offset == 0:
            notes.append({"sheet": str(sheet), "row": row, "sample": sample_id, "action": "skipped",
                          "why": "Offset 0: the offset frame is not coded"})
            continue
        key = (subject, video.lower(), onset)
        if key in first_row:
            raise DatasetError(sheet, f"rows {first_row[key]} and {row} both describe the micro-expression of "
                                      f"{subject}/{video} starting at frame {onset}", row=row)
        first_row[key] = row
        if clips is not None:
            clip_dir = clips / sample_id
        else:
            clip_dir = frame_root / subject / video / "color"
            if not clip_dir.is_dir() and (frame_root / subject / video.lower() / "color").is_dir():
                clip_dir = frame_root / subject / video.lower() / "color"
        if not clip_dir.is_dir():
            raise DatasetError(clip_dir, f"frame folder of row {row} of {sheet.name} not found")
        if clip_dir not in indexes:
            indexes[clip_dir] = frame_index(clip_dir, FRAME_RE)
        paths, numbers = frame_span(clip_dir, indexes[clip_dir], onset, offset, template="{n}.jpg",
                                    row_ref=(sheet, row))
        if apex is not None and not onset <= apex <= offset:
            notes.append({"sheet": str(sheet), "row": row, "sample": sample_id, "action": "apex dropped",
                          "why": f"Apex {apex} is outside onset..offset ({onset}..{offset}); data.apex_fallback applies"})
            apex = None
        samples.append(Sample(
            dataset=NAME, subject=subject, sample_id=sample_id, frames=paths, frame_numbers=numbers, onset=0,
            apex=None if apex is None else apex - onset, offset=len(paths) - 1, emotion=emotion,
            action_units=cells["aus"],
        ))
    return samples

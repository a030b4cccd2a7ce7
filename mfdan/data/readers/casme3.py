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
from dataclasses import replace
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.data.readers.common import (FirstRows, coded_rows, coded_sample, find_frame_root, find_sheet, frame_index)
from mfdan.data.records import Sample

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
    seen = FirstRows()
    indexes: dict[Path, dict[int, Path]] = {}
    for r in coded_rows(NAME, sheet, COLUMNS, subject_cell):
        sample_id = f"{r.subject}_{r.clip}_{r.onset}"

        def note(action: str, why: str) -> None:
            notes.append({"sheet": str(sheet), "row": r.row, "sample": sample_id, "action": action, "why": why})

        fix = ERRATA.get((r.subject, r.clip, r.onset, r.apex, r.offset))
        if fix:
            note("corrected", f"onset, apex, offset {r.onset}, {r.apex}, {r.offset} -> {fix[0]}, {fix[1]}, {fix[2]} "
                              "(known error of the v2 sheet, as meb corrects it)")
            r = replace(r, onset=fix[0], apex=fix[1], offset=fix[2])
        if r.offset == 0:
            note("skipped", "Offset 0: the offset frame is not coded")
            continue
        seen.check(r, (r.subject, r.clip.lower(), r.onset),
                   f"the micro-expression of {r.subject}/{r.clip} starting at frame {r.onset}")
        if clips is not None:
            clip_dir = clips / sample_id
        else:
            clip_dir = frame_root / r.subject / r.clip / "color"
            if not clip_dir.is_dir() and (frame_root / r.subject / r.clip.lower() / "color").is_dir():
                clip_dir = frame_root / r.subject / r.clip.lower() / "color"
        if not clip_dir.is_dir():
            raise DatasetError(clip_dir, f"frame folder of row {r.row} of {sheet.name} not found")
        if clip_dir not in indexes:
            indexes[clip_dir] = frame_index(clip_dir, FRAME_RE)
        if r.apex is not None and not r.onset <= r.apex <= r.offset:
            note("apex dropped", f"Apex {r.apex} is outside onset..offset ({r.onset}..{r.offset}); "
                                 "data.apex_fallback applies")
            r = replace(r, apex=None)
        samples.append(coded_sample(NAME, r, sample_id, clip_dir, indexes[clip_dir], template="{n}.jpg"))
    return samples


def subject_cell(sheet: Path, row: int, cell: str) -> str:
    """The sheet's subject as it is (``spNO.1``), refused unless it is a CAS(ME)³ subject."""
    subject = cell.strip()
    if not SUBJECT_DIR_RE.match(subject):
        raise DatasetError(sheet, f"subject {subject!r} is not a CAS(ME)³ subject (spNO.N)", row=row)
    return subject

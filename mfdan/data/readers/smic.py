"""SMIC-HS reader (Li et al., FG 2013): labels come from the folder tree, there is no sheet.

Layout::

    ROOT/HS/s1/micro/negative/s1_ne_01/image0NNNNNN.bmp     (or reg_image*.bmp, cropped variant)

``ROOT`` may also be the ``HS`` folder itself. Clips hold onset..offset frames only and have no apex
annotation, so records carry ``apex=None``. Subjects and sample ids are given the MEGC2019 spelling
(``s1`` -> ``s01``, ``s1_ne_01`` -> ``s01_ne_01``).
"""
from __future__ import annotations

import re
from pathlib import Path

from mfdan.data.readers.common import frame_index, frame_span
from mfdan.core.errors import DatasetError
from mfdan.data.records import Sample

NAME = "smic"
CLASSES = ("negative", "positive", "surprise")
FRAME_RE = re.compile(r"^(?:reg_)?image(\d+)\.\w+$")
SUBJECT_DIR_RE = re.compile(r"^s(\d+)$")
CLIP_RE = re.compile(r"^s(\d+)_(ne|po|sur)_(\d+)$")
CLASS_CODE = {"negative": "ne", "positive": "po", "surprise": "sur"}


def canonical_subject(folder: str) -> str:
    """``'s1'`` -> ``'s01'``."""
    return f"s{int(folder[1:]):02d}"


def canonical_sample(clip: str) -> str:
    """``'s1_ne_01'`` -> ``'s01_ne_01'``."""
    m = CLIP_RE.match(clip)
    assert m is not None
    return f"s{int(m.group(1)):02d}_{m.group(2)}_{m.group(3)}"


def native_subject(canonical: str) -> str:
    """``'s01'`` -> ``'s1'`` (the folder name)."""
    return f"s{int(canonical[1:])}"


def native_sample(canonical: str) -> str:
    """``'s01_ne_01'`` -> ``'s1_ne_01'``."""
    subj, rest = canonical.split("_", 1)
    return f"{native_subject(subj)}_{rest}"


def hs_root(root: Path) -> Path:
    """``ROOT/HS`` if it exists, else ``ROOT`` when it holds subject folders."""
    for cand in (root / "HS", root):
        if cand.is_dir() and any(SUBJECT_DIR_RE.match(p.name) for p in cand.iterdir() if p.is_dir()):
            return cand
    raise DatasetError(root, "no SMIC-HS subject folders (s1, s2, ...) found here or in HS/")


def read(root: str | Path, *, variant: str = "auto") -> list[Sample]:
    """All SMIC-HS micro-expression clips under ``root``, ordered by subject, class and clip."""
    hs = hs_root(Path(root))
    prefer = {"auto": "image", "raw": "image", "cropped": "reg_image"}[variant]
    subjects = sorted((p for p in hs.iterdir() if p.is_dir() and SUBJECT_DIR_RE.match(p.name)),
                      key=lambda p: int(p.name[1:]))
    samples: list[Sample] = []
    for subj_dir in subjects:
        micro = subj_dir / "micro"
        if not micro.is_dir():
            raise DatasetError(micro, "subject folder has no micro/ folder")
        for cls_dir in sorted(p for p in micro.iterdir() if p.is_dir()):
            if cls_dir.name not in CLASSES:
                raise DatasetError(cls_dir, f"unknown emotion folder {cls_dir.name!r} (expected one of {CLASSES})")
            for clip in sorted(p for p in cls_dir.iterdir() if p.is_dir()):
                m = CLIP_RE.match(clip.name)
                if not m or f"s{m.group(1)}" != subj_dir.name:
                    raise DatasetError(clip, f"clip folder name is not {subj_dir.name}_{{ne,po,sur}}_NN")
                if m.group(2) != CLASS_CODE[cls_dir.name]:
                    raise DatasetError(clip, f"clip code {m.group(2)!r} does not match its folder {cls_dir.name!r}")
                index = frame_index(clip, FRAME_RE, prefer=prefer)
                if variant != "auto":
                    index = {n: p for n, p in index.items() if p.name.startswith(prefer)}
                if len(index) < 2:
                    raise DatasetError(clip, "clip holds fewer than two frames")
                paths, numbers = frame_span(clip, index, min(index), max(index),
                                            template=prefer + "{n:07d}.bmp", row_ref=None)
                samples.append(Sample(
                    dataset=NAME, subject=canonical_subject(subj_dir.name), sample_id=canonical_sample(clip.name),
                    frames=paths, frame_numbers=numbers, onset=0, apex=None, offset=len(paths) - 1,
                    emotion=cls_dir.name, action_units="",
                ))
    return samples

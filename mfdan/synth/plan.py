"""What the demo dataset holds before a pixel is drawn: which subjects and annotation rows each layout gets, and
for each clip (:class:`ClipPlan`) its frame numbers, label and the AUs it moves.

Rows are taken from the public coding sheets shipped in ``mfdan/data/resources`` (SMIC-HS: the MEGC2019 list;
MMEW and CASME, whose sheets are not public: rows invented in their naming, :func:`generated_rows`), with clip
durations compressed to ``max_frames``. ``rows: cde`` takes the MEGC2019 composite's shape instead: the CDE list's
subjects, each with every one of its CDE rows (the three the shipped CASME II sheet lacks are planned as SMIC-HS
clips are, :func:`_cde_rows`).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from mfdan.data.protocols import CDE_DATASETS, CLASSES_3, GROUP_3, SAMPLE_LISTS, THREE_CLASS, cde_list, reference_rows
from mfdan.synth.action_units import AU_INTENSITY, AU_VARIANTS, EMOTION_AUS, OTHERS_AUS
from mfdan.synth.config import LAYOUTS, SynthConfig, seeded_rng


@dataclass
class ClipPlan:
    """What one clip will be: the annotation row it writes and how it moves."""

    layout: str
    subject: str          # MEGC2019 spelling
    sample: str           # MEGC2019 spelling
    emotion: str          # fine label as the sheet writes it (lower-case)
    aus: str              # AU string written to the sheet
    onset: int            # native frame numbers
    apex: int
    offset: int
    motion: tuple[str, ...] = field(default=())
    label3: str | None = None
    video: str = ""       # CAS(ME)³: the task video (Filename) the clip is a span of
    weights: tuple[float, ...] = ()  # per AU of ``motion`` (``au_variants``); empty: every AU at 1


def plan_layout(layout: str, cfg: SynthConfig) -> list[ClipPlan]:
    """Pick subjects and annotation rows from the reference sheet of ``layout``.

    Subjects with the most distinct 3-class labels (then most rows) come first; within a subject clips are
    taken round-robin over negative / positive / surprise — rows of the MEGC2019 CDE list, with the list's
    label, so every emotional clip belongs to the Table II set of its dataset — then ``others_per_subject``
    'others' rows (not in the list).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    by_subject = _rows_by_subject(layout, cfg)
    if cfg.rows == "cde":
        by_subject = _cde_rows(layout, by_subject)
    chosen = sorted(sorted(by_subject, key=lambda s: _richness(layout, s, by_subject[s]))[: cfg.subjects])
    plans: list[ClipPlan] = []
    for subject in chosen:
        for r in _pick_rows(layout, subject, by_subject[subject], cfg):
            plans.append(_plan_clip(layout, subject, r, cfg, _label(layout, subject, r)))
    return plans


def _rows_by_subject(layout: str, cfg: SynthConfig) -> dict[str, list[dict[str, str]]]:
    """The layout's coding-sheet rows (real or generated) per subject, in sheet order."""
    by_subject: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in reference_rows(layout) if layout in SAMPLE_LISTS else generated_rows(layout, cfg):
        if layout == "casme3" and not 1 <= int(r["onset"]) <= int(r["apex"]) <= int(r["offset"]):
            continue  # the sheet's known errors (readers.casme3.ERRATA) are not copied into demo data
        by_subject[r["subject"]].append(r)
    return by_subject


def _cde_rows(layout: str, by_subject: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, str]]]:
    """``rows: cde``: only the subjects of the MEGC2019 CDE list, each with its sheet rows (the CDE ones and its
    'others') plus a row for each CDE sample its sheet lacks (the shipped CASME II sheet misses three), labelled
    with the list's class and without frame numbers, so :func:`_plan_clip` draws them as it does SMIC-HS's."""
    if layout not in CDE_DATASETS:
        raise ValueError(f"synth.rows: cde takes the CDE list's layouts {CDE_DATASETS}, not {layout!r}")
    listed: dict[str, list[str]] = defaultdict(list)
    for (dataset, subject, sample) in cde_list():
        if dataset == layout:
            listed[subject].append(sample)
    out: dict[str, list[dict[str, str]]] = {}
    for subject, samples in listed.items():
        rows = list(by_subject.get(subject, []))
        have = {r["sample"] for r in rows}
        for sample in samples:
            if sample not in have:
                label = cde_list()[(layout, subject, sample)]
                aus = "+".join(a.removeprefix("AU") for a in EMOTION_AUS[label])
                rows.append({"subject": subject, "sample": sample, "onset": "", "apex": "", "offset": "",
                             "aus": aus, "emotion": label})
        out[subject] = rows
    return out


def _label(layout: str, subject: str, row: dict[str, str]) -> str | None:
    """The row's class: the CDE list's; ``"unlisted"`` for an emotional row outside it; None for others.
    Datasets outside the CDE: their three-class group (protocols.THREE_CLASS)."""
    if layout not in CDE_DATASETS:
        return THREE_CLASS[layout].get(row["emotion"])
    key = (layout, subject, row["sample"])
    if key in cde_list():
        return cde_list()[key]
    return None if GROUP_3.get(row["emotion"]) is None else "unlisted"


def _richness(layout: str, subject: str, rows: list[dict[str, str]]) -> tuple[int, int, str]:
    """Sort key of a subject: most distinct classes first, then most rows, then the name."""
    labels = {_label(layout, subject, r) for r in rows} - {None, "unlisted"}
    return (-len(labels), -len(rows), subject)


def _pick_rows(layout: str, subject: str, rows: list[dict[str, str]], cfg: SynthConfig) -> list[dict[str, str]]:
    """The subject's clips: ``samples_per_subject`` rows round-robin over negative / positive / surprise (``rows:
    cde``: every row of the CDE list, in sheet order), then ``others_per_subject`` unclassed rows."""
    buckets: dict[str | None, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        buckets[_label(layout, subject, r)].append(r)
    picked: list[dict[str, str]] = []
    if cfg.rows == "cde":
        picked = [r for r in rows if _label(layout, subject, r) in CLASSES_3]
    else:
        queues = [list(buckets[c]) for c in ("negative", "positive", "surprise")]
        while len(picked) < cfg.samples_per_subject and any(queues):
            for q in queues:
                if q and len(picked) < cfg.samples_per_subject:
                    picked.append(q.pop(0))
    picked += buckets[None][: cfg.others_per_subject]
    if layout == "casme3":  # several micro-expressions share a video folder: keep their frames apart
        picked = _apart(picked, cfg.max_frames)
    return picked


def _apart(rows: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    """``rows`` without those whose ``n`` frames from onset overlap an earlier row's in the same video."""
    taken: dict[str, list[int]] = defaultdict(list)
    out = []
    for r in rows:
        onset = int(r["onset"])
        if all(abs(onset - o) >= n for o in taken[r["video"]]):
            taken[r["video"]].append(onset)
            out.append(r)
    return out


#: sample-name and subject patterns of the releases without a public sheet (the generator invents their rows)
GENERATED = {
    # MMEW: subjects S01.., clips PersonIndex-EmotionIndex-SampleIndex (dpailab.com/database.html)
    "mmew": {"negative": ("disgust", "anger", "fear", "sadness"), "positive": ("happiness",),
             "surprise": ("surprise",), None: ("others",)},
    # CASME: subjects sub01..sub19 (Section A: 1-7, B: 8-19), clips EPxx_y
    "casme": {"negative": ("disgust", "repression", "sadness", "fear", "comtempt"), "positive": ("happiness",),
              "surprise": ("surprise",), None: ("tense",)},
}
MMEW_EMOTION_INDEX = {"happiness": 1, "surprise": 2, "disgust": 3, "others": 4, "fear": 5, "sadness": 6, "anger": 7}


def generated_rows(layout: str, cfg: SynthConfig) -> list[dict[str, str]]:
    """Plausible coding-sheet rows for a release whose sheet is not public (MMEW, CASME): ``cfg.subjects``
    subjects (CASME: alternately from Section A and B), each with emotional clips cycling negative / positive /
    surprise and then ``others_per_subject`` clips of the dataset's unclassed label."""
    if layout == "mmew":
        subjects = [f"S{i:02d}" for i in range(1, cfg.subjects + 1)]
    else:
        a, b = list(range(1, 8)), list(range(8, 20))
        order = [x for pair in zip(a, b) for x in pair] + b[len(a):]
        subjects = [f"sub{i:02d}" for i in sorted(order[: cfg.subjects])]
    rows = []
    for s_i, subject in enumerate(subjects):
        rng = seeded_rng(cfg, layout, subject, "rows")
        kinds = [("negative", "positive", "surprise")[i % 3] for i in range(cfg.samples_per_subject)]
        kinds += [None] * cfg.others_per_subject
        for i, kind in enumerate(kinds):
            names = GENERATED[layout][kind]
            emotion = names[(i // 3 + s_i) % len(names)]
            onset = int(rng.integers(1, 40))
            apex, offset = onset + int(rng.integers(4, 12)), onset + int(rng.integers(14, 24))
            if layout == "mmew":
                sample = f"{subject}-{MMEW_EMOTION_INDEX[emotion]:02d}-{i + 1:03d}"
            else:
                sample = f"EP{i + 1:02d}_{int(rng.integers(1, 10))}"
            aus = "+".join(a.removeprefix("AU") for a in EMOTION_AUS.get(emotion, OTHERS_AUS[0]))
            rows.append({"subject": subject, "sample": sample, "onset": str(onset), "apex": str(apex),
                         "offset": str(offset), "aus": aus, "emotion": emotion})
    return rows


def _plan_clip(layout: str, subject: str, row: dict[str, str], cfg: SynthConfig, label3: str | None) -> ClipPlan:
    """One clip from its sheet row: ``max_frames`` frames from the onset with the apex at its relative place, and
    the AUs it moves (its emotion's; the hard set: one of its class's combinations at drawn intensities)."""
    rng = seeded_rng(cfg, layout, subject, row["sample"], "plan")
    n = cfg.max_frames
    if row["onset"] and row["apex"].isdigit() and row["offset"]:
        onset, apex, offset = int(row["onset"]), int(row["apex"]), int(row["offset"])
        # compress the real duration to n frames, keeping the apex's relative position
        rel = (apex - onset) / max(offset - onset, 1)
    else:  # SMIC-HS (no sheet) or a missing apex: a plausible clip
        onset, rel = int(rng.integers(1, 5000)), float(rng.uniform(0.35, 0.65))
    apex_idx = int(np.clip(round(rel * (n - 1)), 1, n - 2))
    emotion = row["emotion"]
    weights: tuple[float, ...] = ()
    if label3 is None:
        motion = OTHERS_AUS[int(rng.integers(len(OTHERS_AUS)))]
    elif cfg.au_variants and label3 in AU_VARIANTS:  # the hard set: one of the class's combinations
        pick = seeded_rng(cfg, layout, subject, row["sample"], "variant")
        motion = AU_VARIANTS[label3][int(pick.integers(len(AU_VARIANTS[label3])))]
        weights = tuple(float(v) for v in pick.uniform(*AU_INTENSITY, size=len(motion)))
    elif THREE_CLASS[layout].get(emotion) == label3:
        motion = EMOTION_AUS[emotion]
    else:  # the list re-labelled the clip: move as its class does
        motion = EMOTION_AUS[label3]
    return ClipPlan(layout=layout, subject=subject, sample=row["sample"], emotion=emotion, aus=row["aus"],
                    onset=onset, apex=onset + apex_idx, offset=onset + n - 1, motion=motion, label3=label3,
                    video=row.get("video", ""), weights=weights)

"""Procedural micro-expression clips written in the native CASME II / SAMM / SMIC-HS / CAS(ME)³ / MMEW / CASME
layouts.

Nobody outside the licensing labs can ship the real datasets, so the project's embedded default is a
generator whose output the *same* readers and pipeline consume. Each clip is built from a real face
photo (``faces``: scikit-image's ``astronaut`` for the demo; matplotlib's ``grace_hopper`` too, see
:data:`FACE_PHOTOS`):

* **identity** per subject: random affine geometry (scale, aspect, roll, shift), a smooth elastic warp of
  the face shape, skin tone (per-channel gain and gamma) and illumination (brightness and a directional
  gradient);
* **expression** per clip: a localized, AU-like displacement field anchored on the identity's own dlib
  landmarks (e.g. AU1+2 brow raise for surprise, AU12 lip-corner pull for happiness, AU4 brow lowerer
  plus AU9/10, AU14/15 or AU7 for the negative emotions), peaking at the apex with a sub-pixel to ~2 px
  amplitude and following a smooth onset → apex → offset profile;
* **nuisance**: small global head jitter per frame and Gaussian sensor noise.

The *hard* set (``mfdan sweep --set hard``, :data:`mfdan.sweep.sets.SETS`) switches on the confounders of real
recordings, all off by default so the demo's clips are unchanged: a blink (AU45) anywhere in a clip
(``blink_rate``), head drift and roll growing from onset to offset (``drift``, ``roll``), several AU
combinations per class, each AU at its own intensity (``au_variants``, :data:`AU_VARIANTS`), and weaker motion
(a lower ``amplitude``).

Frames have the release's geometry (``geometry: release``, :data:`RELEASE_GEOMETRY`): CASME II 640×480
colour with the face where the raw release has it, SAMM 2040×1088 greyscale with the face near the centre
(so the paper's 420×420 centre crop runs as on the release), SMIC-HS as its distributed face crops,
CAS(ME)³ 1280×720, MMEW 1920×1080, CASME 1280×720 (Section A) and 640×480 (Section B), all colour.
Only a window around the face is re-sampled per frame; the rest is the subject's static frame plus
per-frame noise. ``geometry: compact`` writes small square frames instead (the tests' fast path).

Annotation rows (subjects, sample names, onset/apex/offset frame numbers, AU strings, labels) are taken
from the public coding sheets shipped in ``mfdan/data/resources`` (SMIC-HS: the MEGC2019 list; MMEW and CASME,
whose sheets are not public: rows invented in their naming, :func:`generated_rows`), with clip durations
compressed to ``max_frames``. Everything is drawn from ``numpy.random.default_rng`` seeded by
``(seed, layout, subject, sample)``, so the same config writes the same bytes (spreadsheets included:
their zip timestamps are fixed). dlib must detect the face in every frame written (in its face window);
the generator checks that and fails loudly otherwise. The image arithmetic is :mod:`mfdan.synth.exact`, so the same config
writes the same bytes on any x86-64 CPU, whatever SIMD features it has (tested with features disabled).
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import math
import re
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np

from mfdan.core.files import written_folder
from mfdan.core.parallel import imap_ordered, worker_count
from mfdan.core.params import AtLeast, Increasing, NON_NEGATIVE, POSITIVE, Range
from mfdan.data.protocols import CDE_DATASETS, DATASETS, GROUP_3, SAMPLE_LISTS, THREE_CLASS, cde_list, reference_rows
from mfdan.data.readers import smic
from mfdan.preprocess import landmarks as lm
from mfdan.synth import exact

LAYOUTS = DATASETS  # one native layout per dataset
FIXED_TIME = dt.datetime(2000, 1, 1)
GEOMETRIES = ("release", "compact")


@dataclass(frozen=True)
class SynthConfig:
    """Mirrors the ``synth`` section of params.yaml."""

    seed: Annotated[int, NON_NEGATIVE] = 0
    subjects: Annotated[int, AtLeast(1)] = 4                      #: subjects per layout (taken from the reference sheets)
    samples_per_subject: Annotated[int, AtLeast(1)] = 6           #: clips per subject, classes taken round-robin
    others_per_subject: Annotated[int, NON_NEGATIVE] = 0            #: extra 'others'-labelled clips (dropped by 3-class protocols)
    max_frames: Annotated[int, AtLeast(3)] = 9                    #: frames per clip, onset..offset (real durations compressed)
    geometry: str = "release"              #: ``release``: each layout's release frame size (RELEASE_GEOMETRY); ``compact``: frame_size squares
    frame_size: Annotated[int, AtLeast(96)] = 224                  #: frame side in pixels under ``geometry: compact``
    amplitude: Annotated[tuple[float, float], POSITIVE, Increasing(strict=False)] = (0.8, 2.0)  #: peak AU displacement at the apex, px (uniform range)
    noise: Annotated[float, NON_NEGATIVE] = 1.5                     #: sensor noise std, grey levels
    jitter: Annotated[float, NON_NEGATIVE] = 0.15                   #: head jitter std per frame, px
    faces: tuple[str, ...] = ("astronaut",)  #: face photos (FACE_PHOTOS), given to the subjects in turn
    check_faces: bool = True               #: run dlib on each clip's onset and apex face windows (the frames alignment and
    #: ``mfdan predict`` detect on) and fail if no face is found
    workers: Annotated[int, NON_NEGATIVE] = 0  #: processes, one subject each at a time (0 = all cores); same bytes for any
    #: the layouts the ``synth`` stage (and ``--layout all``) writes, one folder each
    layouts: tuple[str, ...] = CDE_DATASETS
    # confounders of real recordings (the hard set; all off by default, see ClipNuisance)
    blink_rate: Annotated[float, Range(lo=0, hi=1)] = 0.0      #: probability that a clip holds a blink (AU45)
    blink_amplitude: Annotated[tuple[float, float], POSITIVE, Increasing(strict=False)] = (2.0, 4.0)  #: a blink's peak lid displacement, px
    drift: Annotated[float, NON_NEGATIVE] = 0.0    #: head drift at the offset, fraction of the face side (uniform 0..drift, any direction)
    roll: Annotated[float, NON_NEGATIVE] = 0.0     #: head roll at the offset, degrees (uniform −roll..roll)
    au_variants: bool = False              #: AUs drawn per clip from several combinations per class (AU_VARIANTS), each at its own intensity

    def __post_init__(self) -> None:
        if self.max_frames < 3:
            raise ValueError("synth.max_frames must be at least 3 (onset, apex, offset)")
        if not self.faces or set(self.faces) - set(FACE_PHOTOS):
            raise ValueError(f"synth.faces must be a non-empty list of {FACE_PHOTOS}, not {list(self.faces)}")
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"synth.geometry must be one of {GEOMETRIES}, not {self.geometry!r}")
        if self.frame_size < 96:
            raise ValueError("synth.frame_size must be at least 96 px for dlib to find the face")
        if not self.layouts or set(self.layouts) - set(LAYOUTS) or len(set(self.layouts)) != len(self.layouts):
            raise ValueError(f"synth.layouts must be distinct names of {LAYOUTS}, not {list(self.layouts)}")
        if self.subjects < 1 or self.samples_per_subject < 1:
            raise ValueError("synth.subjects and synth.samples_per_subject must be positive")


# --- action-unit motion templates -------------------------------------------------------------------
# Each AU: a list of (landmark index, direction (dx, dy) in units of the peak amplitude). The field is a
# sum of Gaussian bumps centred on those landmarks, width SIGMA_FRAC × inter-ocular distance.
SIGMA_FRAC = 0.22
AU_MOTION: dict[str, list[tuple[int, tuple[float, float]]]] = {
    "AU1": [(20, (0.0, -1.0)), (21, (0.0, -1.0)), (22, (0.0, -1.0)), (23, (0.0, -1.0))],   # inner brow raiser
    "AU2": [(17, (0.0, -1.0)), (18, (0.0, -1.0)), (25, (0.0, -1.0)), (26, (0.0, -1.0))],   # outer brow raiser
    "AU4": [(20, (0.4, 0.8)), (21, (0.6, 0.8)), (22, (-0.6, 0.8)), (23, (-0.4, 0.8))],      # brow lowerer
    "AU7": [(40, (0.0, -0.6)), (41, (0.0, -0.6)), (46, (0.0, -0.6)), (47, (0.0, -0.6))],   # lid tightener
    "AU10": [(50, (0.0, -0.8)), (51, (0.0, -0.8)), (52, (0.0, -0.8))],                     # upper lip raiser
    "AU12": [(48, (-0.8, -0.6)), (54, (0.8, -0.6))],                                       # lip corner puller
    "AU14": [(48, (-0.6, 0.0)), (54, (0.6, 0.0))],                                         # dimpler
    "AU15": [(48, (0.0, 0.8)), (54, (0.0, 0.8))],                                          # lip corner depressor
    "AU17": [(57, (0.0, -0.7)), (8, (0.0, -0.5))],                                         # chin raiser
    "AU20": [(48, (-0.8, 0.2)), (54, (0.8, 0.2))],                                         # lip stretcher
    "AU45": [(37, (0.0, 0.8)), (38, (0.0, 0.8)), (43, (0.0, 0.8)), (44, (0.0, 0.8))],      # blink
    "R12": [(54, (0.9, -0.6))],                                                            # unilateral AU12
    "AU5": [(37, (0.0, -0.8)), (38, (0.0, -0.8)), (43, (0.0, -0.8)), (44, (0.0, -0.8))],   # upper lid raiser
    "AU6": [(40, (0.0, -0.6)), (41, (0.0, -0.6)), (46, (0.0, -0.6)), (47, (0.0, -0.6)),    # cheek raiser (lower
            (2, (0.3, -0.6)), (14, (-0.3, -0.6))],                                         # lids and cheeks up)
    "AU9": [(31, (0.0, -0.8)), (35, (0.0, -0.8)), (28, (0.0, -0.4))],                      # nose wrinkler
}
EMOTION_AUS: dict[str, tuple[str, ...]] = {
    "happiness": ("AU12",), "positive": ("AU12",), "happy": ("AU12",), "amusement": ("AU12",),
    "surprise": ("AU1", "AU2"),
    "disgust": ("AU4", "AU10"), "repression": ("AU4", "AU15"), "anger": ("AU4", "AU7"),
    "contempt": ("AU4", "R12"), "fear": ("AU4", "AU20"), "sadness": ("AU4", "AU15"), "negative": ("AU4", "AU7"),
    "sad": ("AU4", "AU15"), "comtempt": ("AU4", "R12"),
}
OTHERS_AUS = (("AU45",), ("AU17",), ("AU14",))
#: ``au_variants``: the AU combinations a clip of each three-class label is drawn from (the usual FACS codings of
#: CASME II / SAMM clips of those emotions: disgust AU4+10 or AU9+10, repression AU14 or AU15+17, sadness AU1+4+15,
#: contempt AU4+R12, happiness AU12 or AU6+12, unilateral R12, surprise AU1+2 with or without AU5, or one brow
#: alone). Classes share AUs (AU1 in sadness and surprise, R12 in contempt and happiness, the lids in AU6 and AU7).
AU_VARIANTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "negative": (("AU4", "AU7"), ("AU4", "AU10"), ("AU4", "AU15"), ("AU4",), ("AU9", "AU10"), ("AU14",),
                 ("AU15", "AU17"), ("AU1", "AU4", "AU15"), ("AU4", "R12")),
    "positive": (("AU12",), ("AU6", "AU12"), ("R12",), ("AU6", "R12")),
    "surprise": (("AU1", "AU2"), ("AU1", "AU2", "AU5"), ("AU1",), ("AU2",)),
}
AU_INTENSITY = (0.4, 1.0)  #: ``au_variants``: each AU's weight in its combination (uniform), before the field's scaling


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


#: the face photos the generator can animate, all real photos that ship inside installed packages
FACE_PHOTOS = ("astronaut", "grace_hopper")
LANDMARK_SPAN = 0.7   #: the 68-landmark span as a fraction of the face area's side


@cache
def base_face() -> np.ndarray:
    """scikit-image's astronaut photo (RGB uint8, 512×512), the demo's face."""
    return face_photo("astronaut").image


@dataclass(frozen=True)
class FacePhoto:
    image: np.ndarray               #: RGB uint8
    centre: tuple[float, float]     #: the face area's centre (x, y): the middle of the 68-landmark box, px
    side: float                     #: the face area's side: the landmark span / LANDMARK_SPAN, px


@cache
def face_photo(name: str) -> FacePhoto:
    """A real face photo that ships in a package: scikit-image's ``astronaut`` (Eileen Collins; the demo's)
    or matplotlib's ``grace_hopper`` sample image (kept for checks the demo was not tuned on), with its face
    area measured by dlib."""
    if name == "astronaut":  # skimage.data.astronaut() is this file; reading it directly skips importing skimage
        img = _read_rgb(_package_file("skimage", "data", "astronaut.png"))
    elif name == "grace_hopper":
        img = _read_rgb(_package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"))
    else:
        raise ValueError(f"unknown face photo {name!r}; expected one of {FACE_PHOTOS}")
    found = lm.detect_face(img, upsample=1)
    if found is None:
        raise RuntimeError(f"synth: dlib finds no face in the {name} photo")
    pts = lm.landmarks(img, found[0])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return FacePhoto(image=img, centre=(float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2),
                     side=float(max(hi - lo)) / LANDMARK_SPAN)


def _package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"synth: the {package} package (which ships the face photo) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise RuntimeError(f"synth: {path} is missing from the installed {package}")
    return path


def _read_rgb(path: Path) -> np.ndarray:
    """An 8-bit colour image file as RGB uint8."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise RuntimeError(f"synth: {path}: not a readable image")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _rng(cfg: SynthConfig, *parts: str) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, *(zlib.crc32(p.encode()) for p in parts)])


# --- planning -----------------------------------------------------------------------------------------
def plan_layout(layout: str, cfg: SynthConfig) -> list[ClipPlan]:
    """Pick subjects and annotation rows from the reference sheet of ``layout``.

    Subjects with the most distinct 3-class labels (then most rows) come first; within a subject clips are
    taken round-robin over negative / positive / surprise — rows of the MEGC2019 CDE list, with the list's
    label, so every emotional clip belongs to the Table II set of its dataset — then ``others_per_subject``
    'others' rows (not in the list).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    by_subject: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in reference_rows(layout) if layout in SAMPLE_LISTS else generated_rows(layout, cfg):
        if layout == "casme3" and not 1 <= int(r["onset"]) <= int(r["apex"]) <= int(r["offset"]):
            continue  # the sheet's known errors (readers.casme3.ERRATA) are not copied into demo data
        by_subject[r["subject"]].append(r)

    def label(subject: str, row: dict[str, str]) -> str | None:
        """The row's class: the CDE list's; ``"unlisted"`` for an emotional row outside it; None for others.
        Datasets outside the CDE: their three-class group (protocols.THREE_CLASS)."""
        if layout not in CDE_DATASETS:
            return THREE_CLASS[layout].get(row["emotion"])
        key = (layout, subject, row["sample"])
        if key in cde_list():
            return cde_list()[key]
        return None if GROUP_3.get(row["emotion"]) is None else "unlisted"

    def richness(subject: str) -> tuple[int, int, str]:
        labels = {label(subject, r) for r in by_subject[subject]} - {None, "unlisted"}
        return (-len(labels), -len(by_subject[subject]), subject)

    chosen = sorted(sorted(by_subject, key=richness)[: cfg.subjects])
    plans: list[ClipPlan] = []
    for subject in chosen:
        buckets: dict[str | None, list[dict[str, str]]] = defaultdict(list)
        for r in by_subject[subject]:
            buckets[label(subject, r)].append(r)
        picked: list[dict[str, str]] = []
        queues = [list(buckets[c]) for c in ("negative", "positive", "surprise")]
        while len(picked) < cfg.samples_per_subject and any(queues):
            for q in queues:
                if q and len(picked) < cfg.samples_per_subject:
                    picked.append(q.pop(0))
        picked += buckets[None][: cfg.others_per_subject]
        if layout == "casme3":  # several micro-expressions share a video folder: keep their frames apart
            picked = _apart(picked, cfg.max_frames)
        for r in picked:
            plans.append(_plan_clip(layout, subject, r, cfg, label(subject, r)))
    return plans


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
        rng = _rng(cfg, layout, subject, "rows")
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
    rng = _rng(cfg, layout, subject, row["sample"], "plan")
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
        pick = _rng(cfg, layout, subject, row["sample"], "variant")
        motion = AU_VARIANTS[label3][int(pick.integers(len(AU_VARIANTS[label3])))]
        weights = tuple(float(v) for v in pick.uniform(*AU_INTENSITY, size=len(motion)))
    elif THREE_CLASS[layout].get(emotion) == label3:
        motion = EMOTION_AUS[emotion]
    else:  # the list re-labelled the clip: move as its class does
        motion = EMOTION_AUS[label3]
    return ClipPlan(layout=layout, subject=subject, sample=row["sample"], emotion=emotion, aus=row["aus"],
                    onset=onset, apex=onset + apex_idx, offset=onset + n - 1, motion=motion, label3=label3,
                    video=row.get("video", ""), weights=weights)


# --- rendering ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    """Where a layout's frames put the face."""

    frame: tuple[int, int]          #: (width, height), px
    face: float                     #: side of the face area (forehead to chin, ~1.4× the 68-landmark span), px
    centre: tuple[float, float]     #: the face box's centre (x, y), px
    grey: bool = False              #: 8-bit greyscale frames (SAMM)

    def window(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)``: the region re-rendered per frame (the face area grown by 15 % on each side,
        clamped to the frame). Expression motion and head jitter live there; the rest of the frame is the
        identity's static background plus per-frame sensor noise."""
        half = 0.65 * self.face
        w, h = self.frame
        cx, cy = self.centre
        return (max(0, math.floor(cx - half)), max(0, math.floor(cy - half)),
                min(w, math.ceil(cx + half)), min(h, math.ceil(cy + half)))


#: Frame geometry of the public releases (docs/equations.md, "Demo data"):
RELEASE_GEOMETRY: dict[str, Geometry] = {
    # CASME II, CASME2_RAW_selected: 640×480 colour at 200 fps, face area ≈ 280×340 px (Yan et al. 2014),
    # somewhat below the frame centre
    "casme2": Geometry(frame=(640, 480), face=310.0, centre=(320.0, 250.0)),
    # SAMM: 2040×1088 8-bit greyscale at 200 fps, face area ≈ 400×400 px (Davison et al. 2018), near the
    # centre, which is why the paper's 420×420 centre crop (Sec. IV-B) holds it
    "samm": Geometry(frame=(2040, 1088), face=400.0, centre=(1020.0, 544.0), grey=True),
    # SMIC-HS as distributed (SMIC_all_cropped/HS): face crops of the 640×480 recordings, whose face area is
    # ≈ 190×230 px (Li et al. 2013); the crop is the face box
    "smic": Geometry(frame=(190, 230), face=190.0, centre=(95.0, 115.0)),
    # CAS(ME)³ Part A: 1280×720 colour at 30 fps (Li et al. 2022); the face area is our estimate
    "casme3": Geometry(frame=(1280, 720), face=330.0, centre=(640.0, 340.0)),
    # MMEW: 1920×1080 colour at 90 fps (Ben et al. 2021); the face area is our estimate
    "mmew": Geometry(frame=(1920, 1080), face=480.0, centre=(960.0, 520.0)),
    # CASME Section A (sub01-sub07): 1280×720 at 60 fps; Section B (sub08-sub19): 640×480 at 60 fps (Yan et
    # al. 2013); face areas our estimates
    "casme": Geometry(frame=(1280, 720), face=340.0, centre=(640.0, 360.0)),
    "casme_b": Geometry(frame=(640, 480), face=240.0, centre=(320.0, 240.0)),
}
CASME_SECTION_A = frozenset(f"sub{i:02d}" for i in range(1, 8))


def geometry(layout: str, cfg: SynthConfig, subject: str = "") -> Geometry:
    """``layout``'s frame geometry under ``cfg.geometry``: the release's (CASME: per section, from the
    subject), or ``compact`` square frames of ``cfg.frame_size`` px with the face area at 70 % of the side
    (fast, for tests)."""
    if cfg.geometry == "release":
        if layout == "casme" and subject and subject not in CASME_SECTION_A:
            return RELEASE_GEOMETRY["casme_b"]
        return RELEASE_GEOMETRY[layout]
    s = cfg.frame_size
    return Geometry(frame=(s, s), face=s * 0.7, centre=(s / 2, s / 2), grey=layout == "samm")


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of float RGB (H×W×3 → H×W), as separate element-wise operations (exact)."""
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


@dataclass
class Identity:
    image: np.ndarray        # the full frame before noise: H×W×3 float64 RGB, or H×W grey, 0..255
    points: np.ndarray       # 68×2 landmarks, frame coordinates
    geometry: Geometry


BACKGROUND_STEP = 4  #: outside the face window the identity frame is rendered on a grid this much coarser


def make_identity(layout: str, subject: str, cfg: SynthConfig, face: str = "astronaut") -> Identity:
    """One subject's face (photo ``face``) in ``layout``'s frame geometry: placement, shape, skin tone and
    illumination drawn from the subject's seed. All arithmetic is :mod:`mfdan.synth.exact` (float64, the
    same bits on every CPU).

    Only the face window (:meth:`Geometry.window`), which every later stage crops from, is rendered at full
    resolution, elastic warp included. The rest of the frame (most of SAMM's 2040×1088) is the same photo,
    placement and lighting rendered every :data:`BACKGROUND_STEP` px and repeated: a plausible static
    background at a sixteenth of the cost."""
    photo = face_photo(face)
    src, k = photo.image, photo.side / 134.0  # k: offsets below were set on the astronaut's 134 px face
    geo = geometry(layout, cfg, subject)
    (w, h), f = geo.frame, geo.face
    x0, y0, x1, y1 = geo.window()
    for attempt in range(20):
        rng = _rng(cfg, layout, subject, "identity", str(attempt))
        # placement: map the photo's face area to the frame's
        scale = f / photo.side * rng.uniform(0.92, 1.08)
        aspect = rng.uniform(0.94, 1.06)
        angle = math.radians(rng.uniform(-4, 4))
        cx, cy = photo.centre[0] + k * rng.uniform(-6, 6), photo.centre[1] + k * rng.uniform(-6, 6)
        cos, sin = math.cos(angle), math.sin(angle)
        a = [[scale * aspect * cos, -scale * sin], [scale * aspect * sin, scale * cos]]
        t = [geo.centre[0] - (a[0][0] * cx + a[0][1] * cy), geo.centre[1] - (a[1][0] * cx + a[1][1] * cy)]
        place = np.array([[*a[0], t[0]], [*a[1], t[1]]])  # photo -> frame pixels
        # face shape: a smooth elastic warp, up to ~2.5 % of the face, on a grid of ~4 knots per face side
        coarse = rng.normal(0, 0.012 * f, size=(2, max(2, round(4 * h / f)), max(2, round(4 * w / f))))
        # skin tone and illumination (the ramp spans the face box)
        gain = rng.uniform([0.85, 0.82, 0.78], [1.10, 1.05, 1.05])
        gamma = rng.uniform(0.85, 1.15)
        theta = rng.uniform(0, 2 * math.pi)
        level, slope = rng.uniform(0.85, 1.1), rng.uniform(0, 0.35)

        def tone(rgb: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
            """Skin tone, gamma and the lighting ramp at frame coordinates (gx, gy); grey for SAMM."""
            out = 255.0 * exact.power(np.clip(rgb * gain, 0, 255) / 255.0, gamma)
            ramp = ((gx - geo.centre[0]) * math.cos(theta) + (gy - geo.centre[1]) * math.sin(theta)) / f
            out = out * (level * (1 + slope * ramp))[..., None]
            return np.clip(grey_of(out) if geo.grey else out, 0, 255)

        # the face window at full resolution: elastic displacement over the window, then the photo placed
        # over the window grown by the largest displacement (so no tap reaches past what was placed)
        gx, gy = exact.grid(x1 - x0, y1 - y0)
        gx, gy = gx + x0, gy + y0  # frame coordinates of the window's pixels
        dx, dy = (exact.resize(c, (w, h), (x0, y0, x1, y1)) for c in coarse)
        m = int(math.ceil(max(float(np.abs(dx).max()), float(np.abs(dy).max())))) + 3
        ex0, ey0, ex1, ey1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
        shifted = place - np.array([[0, 0, ex0], [0, 0, ey0]])  # photo -> grown-window pixels
        placed = exact.warp_affine(src, shifted, (ex1 - ex0, ey1 - ey0))
        window = tone(exact.sample_cubic(placed, gx - dx - ex0, gy - dy - ey0), gx, gy)
        u8 = window.round().astype(np.uint8)
        found = lm.detect_face(u8)
        if found is None:
            continue
        # the background: one pixel per BACKGROUND_STEP × BACKGROUND_STEP cell (at the cell's centre), repeated
        st = BACKGROUND_STEP
        bw, bh = -(-w // st), -(-h // st)
        centre = (st - 1) / 2
        coarse_place = (place - np.array([[0, 0, centre], [0, 0, centre]])) / st  # photo -> cell grid
        bx, by = exact.grid(bw, bh)
        back = tone(exact.warp_affine(src, coarse_place, (bw, bh)), bx * st + centre, by * st + centre)
        img = np.repeat(np.repeat(back, st, axis=0), st, axis=1)[:h, :w]
        img[y0:y1, x0:x1] = window
        return Identity(image=img, points=lm.landmarks(u8, found[0]) + [x0, y0], geometry=geo)
    raise RuntimeError(f"synth: no detectable identity for {layout}/{subject} in 20 draws ({geo})")


def motion_field(points: np.ndarray, aus: Iterable[str], width: int, height: int,
                 weights: Iterable[float] = ()) -> np.ndarray:
    """Displacement field (2×height×width) of the given AUs anchored on 68 landmarks (coordinates in that
    field's pixels), each AU scaled by its ``weights`` entry (none: 1), the sum scaled so its longest vector
    is 1."""
    le, re_ = lm.eye_centres(points)
    sigma = SIGMA_FRAC * math.hypot(float(re_[0] - le[0]), float(re_[1] - le[1]))
    field_ = np.zeros((2, height, width))
    aus = list(aus)
    weights = list(weights)
    if weights and len(weights) != len(aus):
        raise ValueError(f"motion_field: {len(weights)} weights for {len(aus)} AUs")
    for i, au in enumerate(aus):
        for idx, (ux, uy) in AU_MOTION[au]:
            if weights:
                ux, uy = ux * weights[i], uy * weights[i]
            px, py = (float(v) for v in points[idx])
            # a separable Gaussian bump: exp(−(x−px)²/2σ²) · exp(−(y−py)²/2σ²), (height, width)
            bump = exact.gaussian_1d(height, py, sigma)[:, None] * exact.gaussian_1d(width, px, sigma)[None, :]
            field_[0] += ux * bump
            field_[1] += uy * bump
    peak = float(np.sqrt(field_[0] * field_[0] + field_[1] * field_[1]).max())  # the peak displacement length
    return field_ / peak if peak > 0 else field_


def temporal_profile(n: int, apex: int) -> np.ndarray:
    """Motion weight per frame: 0 at onset and offset, 1 at the apex, smooth (sin²/cos²) in between."""
    return np.array([math.sin(0.5 * math.pi * t / apex) ** 2 if t <= apex
                     else math.cos(0.5 * math.pi * (t - apex) / (n - 1 - apex)) ** 2 for t in range(n)])


@dataclass(frozen=True)
class ClipNuisance:
    """The confounders drawn for one clip (``blink_rate``, ``drift``, ``roll``), per frame t = 0..n−1.

    * blink: AU45 at ``blink_amplitude`` px times ``blink[t]``, a cos² pulse 2–5 frames wide centred anywhere
      in the clip (it may cover the onset or the apex);
    * head: a rigid motion about the face centre, from none at the onset (where alignment is estimated) to a
      translation ``shift`` (px) and a roll ``angle`` (degrees) at the offset, growing linearly.
    """

    blink: np.ndarray               #: (n,) weight of the blink field per frame (all 0: no blink)
    blink_amplitude: float          #: px
    shift: tuple[float, float]      #: head translation at the offset (dx, dy), px
    angle: float                    #: head roll at the offset, degrees

    def head(self, t: int, n: int) -> tuple[float, float, float]:
        """(dx, dy, degrees) of the head at frame t."""
        s = t / (n - 1)
        return self.shift[0] * s, self.shift[1] * s, self.angle * s


def clip_nuisance(plan: ClipPlan, cfg: SynthConfig, n: int, face: float) -> ClipNuisance | None:
    """The clip's confounders, from their own seed (so switching them on leaves every other draw as it was);
    None when the config has none."""
    if cfg.blink_rate == 0 and cfg.drift == 0 and cfg.roll == 0:
        return None
    rng = _rng(cfg, plan.layout, plan.subject, plan.sample, "confounders")
    blink = np.zeros(n)
    has_blink, centre, half = rng.uniform() < cfg.blink_rate, rng.uniform(0, n - 1), rng.uniform(1.0, 2.5)
    amp = float(rng.uniform(*cfg.blink_amplitude))
    if has_blink:
        blink = np.array([math.cos(0.5 * math.pi * (t - centre) / half) ** 2 if abs(t - centre) < half else 0.0
                          for t in range(n)])
    phi, size = rng.uniform(0, 2 * math.pi), cfg.drift * face * rng.uniform()
    angle = float(rng.uniform(-cfg.roll, cfg.roll))
    return ClipNuisance(blink=blink, blink_amplitude=amp, shift=(size * math.cos(phi), size * math.sin(phi)),
                        angle=angle)


def _confounders(plan: ClipPlan, cfg: SynthConfig) -> dict:
    """The manifest's record of a clip's confounders (none: an empty dict, so the demo's manifest is unchanged):
    the blink's weight per frame, the head's shift (px) and roll (degrees) at the offset."""
    n = plan.offset - plan.onset + 1
    nz = clip_nuisance(plan, cfg, n, geometry(plan.layout, cfg, plan.subject).face)
    if nz is None:
        return {}
    return {"confounders": {"blink": [round(float(b), 4) for b in nz.blink],
                            "blink_amplitude_px": round(nz.blink_amplitude, 4) if nz.blink.any() else 0.0,
                            "head_shift_px": [round(v, 4) for v in nz.shift], "head_roll_deg": round(nz.angle, 4)}}


def render_clip(identity: Identity, plan: ClipPlan, cfg: SynthConfig) -> list[np.ndarray]:
    """The clip's frames (H×W×3 RGB, or H×W grey, uint8), onset to offset: the face window re-sampled
    with the expression and head jitter (and, in the hard set, a blink and head drift and roll:
    :func:`clip_nuisance`), over the identity's static frame, plus sensor noise everywhere.
    The window is sampled in float64; adding the noise and rounding run in float32 over the whole frame
    (element-wise, so still the same bits on every CPU)."""
    rng = _rng(cfg, plan.layout, plan.subject, plan.sample, "render")
    x0, y0, x1, y1 = identity.geometry.window()
    n = plan.offset - plan.onset + 1
    amp = rng.uniform(*cfg.amplitude)
    unit = motion_field(identity.points - [x0, y0], plan.motion, x1 - x0, y1 - y0, plan.weights)  # (2, wh, ww)
    weights = temporal_profile(n, plan.apex - plan.onset)
    gx, gy = exact.grid(x1 - x0, y1 - y0)
    gx, gy = gx + x0, gy + y0  # frame coordinates of the window's pixels
    still = identity.image.astype(np.float32)
    nuisance = clip_nuisance(plan, cfg, n, identity.geometry.face)
    blink_unit = None
    if nuisance is not None and nuisance.blink.any():
        blink_unit = motion_field(identity.points - [x0, y0], ("AU45",), x1 - x0, y1 - y0)  # (2, wh, ww)
    frames = []
    for t, w in enumerate(weights):
        jx, jy = rng.normal(0, cfg.jitter, size=2)
        d = (amp * w) * unit
        sx, sy = gx, gy  # where each window pixel's content comes from before the expression
        if nuisance is not None:
            if blink_unit is not None and nuisance.blink[t] > 0:
                d = d + (nuisance.blink_amplitude * nuisance.blink[t]) * blink_unit
            hx, hy, deg = nuisance.head(t, n)
            if hx or hy or deg:  # the inverse of the rigid head motion about the face centre
                cx, cy = identity.geometry.centre
                c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
                qx, qy = gx - (cx + hx), gy - (cy + hy)
                sx, sy = c * qx + s * qy + cx, c * qy - s * qx + cy
        img = still.copy()
        # backward map: content at p moves to p + d (first order, d is small and smooth)
        img[y0:y1, x0:x1] = exact.sample_cubic(identity.image, sx - d[0] - jx, sy - d[1] - jy)
        noise = rng.standard_normal(size=img.shape, dtype=np.float32)
        noise *= np.float32(cfg.noise)
        img += noise
        frames.append(np.clip(img, 0, 255).round().astype(np.uint8))
    return frames


# --- writing the native layouts -------------------------------------------------------------------
def frame_relpath(plan: ClipPlan, n: int) -> Path:
    """Where frame number ``n`` of ``plan`` lives in the native layout."""
    if plan.layout == "casme2":
        return Path(plan.subject) / plan.sample / f"img{n}.jpg"
    if plan.layout == "samm":
        return Path(plan.subject) / plan.sample / f"{plan.subject}_{n:05d}.jpg"
    if plan.layout == "casme3":
        return Path(plan.subject) / plan.video / "color" / f"{n}.jpg"
    if plan.layout == "mmew":
        folder = "repression" if plan.emotion == "others" else plan.emotion
        return Path("Micro_Expression") / folder / plan.sample / f"{n}.jpg"
    if plan.layout == "casme":
        section = "CASME_A/Section A" if plan.subject in CASME_SECTION_A else "CASME_B/Section B"
        return Path(section) / plan.subject / plan.sample / f"{plan.sample}-{n}.jpg"
    folder = {"negative": "negative", "positive": "positive", "surprise": "surprise"}[plan.emotion]
    return (Path("HS") / smic.native_subject(plan.subject) / "micro" / folder / smic.native_sample(plan.sample)
            / f"image{n:07d}.bmp")


def write_image(path: Path, rgb: np.ndarray, layout: str) -> None:
    """One frame in the layout's file format (H×W×3 RGB, or H×W grey)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if rgb.ndim == 2:  # greyscale (SAMM)
        ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 95])
    elif layout in ("casme2", "casme3", "mmew", "casme"):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    else:
        ok, buf = cv2.imencode(".bmp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"{path}: image encoding failed")
    path.write_bytes(buf.tobytes())


def _save_xlsx(book, path: Path) -> None:
    """Save an openpyxl workbook with fixed timestamps, so identical content gives identical bytes."""
    buf = io.BytesIO()
    book.save(buf)
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", lambda m: m.group(1) + stamp, data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), data,
                         compress_type=zipfile.ZIP_DEFLATED)


def write_sheet(layout: str, plans: list[ClipPlan], root: Path) -> Path | None:
    """The layout's coding sheet, with the column set and quirks of the public release."""
    import openpyxl

    if layout == "smic":
        return None
    book = openpyxl.Workbook()
    ws = book.active
    if layout == "casme2":
        path = root / "CASME2-coding-synthetic.xlsx"
        ws.append(["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
                   "Action Units", "Estimated Emotion"])
        for p in plans:
            ws.append([p.subject.removeprefix("sub"), p.sample, None, p.onset, p.apex, p.offset, None,
                       p.aus, p.emotion])
    elif layout == "casme3":  # the v2 label sheet: one sheet 'label', every cell text
        path = root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
        ws.title = "label"
        ws.append(["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"])
        for p in plans:
            ws.append([p.subject, p.video, str(p.onset), str(p.apex), str(p.offset), p.aus, "VII", p.emotion])
    elif layout == "mmew":
        path = root / "MMEW_Micro_Exp.xlsx"
        ws.append(["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
                   "Estimated Emotion", "remarks"])
        for p in plans:
            ws.append([p.subject, p.sample, p.onset, p.apex, p.offset, p.aus, p.emotion, None])
    elif layout == "casme":  # Excel 97-2003, one sheet per section, as released
        return _write_casme_sheets(plans, root)
    else:
        path = root / "SAMM_Micro_FACS_Codes_v2.xlsx"
        ws.append(["SAMM micro-movement FACS codes (synthetic, written by mfdan synth)"])
        ws.append([])
        ws.append(["Frame numbers are the image numbers in each clip folder."])
        ws.append([])
        ws.append(["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
                   "Duration", "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"])
        for p in plans:
            ws.append([int(p.subject), p.sample, 1, p.onset, p.apex, p.offset, p.offset - p.onset + 1,
                       "Micro - 1/2", p.aus, p.emotion.capitalize(), None, None])
    _save_xlsx(book, path)
    return path


def _write_casme_sheets(plans: list[ClipPlan], root: Path) -> Path:
    """``Section A.xls`` and ``Section B.xls`` (sheet ``Sheet1``): Subject, Filename, a blank column, OnsetF,
    ApexF1, ApexF2 (``\\`` where there is no second apex), OffsetF, a blank, Onset (s), Total (frames), AU,
    Emotion. xlwt writes the same bytes for the same cells."""
    import xlwt

    header = ["Subject", "Filename", "", "OnsetF", "ApexF1", "ApexF2", "OffsetF", "", "Onset", "Total", "AU", "Emotion"]
    for section, subjects in (("Section A", CASME_SECTION_A), ("Section B", None)):
        rows = [p for p in plans if (p.subject in CASME_SECTION_A) == (subjects is not None)]
        book = xlwt.Workbook()
        ws = book.add_sheet("Sheet1")
        for j, name in enumerate(header):
            ws.write(0, j, name)
        for i, p in enumerate(rows, start=1):
            cells = [int(p.subject[3:]), p.sample, "", p.onset, p.apex, "\\", p.offset, "", round(p.onset / 60, 3),
                     p.offset - p.onset + 1, p.aus, p.emotion]
            for j, v in enumerate(cells):
                ws.write(i, j, v)
        book.save(str(root / f"{section}.xls"))
    return root / "Section A.xls"


def _write_subject(job: tuple[str, str, str, list[ClipPlan], SynthConfig, Path]) -> int:
    """One subject of one layout: its identity, then each of its clips' frames, written under ``root``."""
    lay, subject, face, plans, cfg, root = job
    ident = make_identity(lay, subject, cfg, face)
    x0, y0, x1, y1 = ident.geometry.window()
    for p in plans:
        for n, img in zip(range(p.onset, p.offset + 1), render_clip(ident, p, cfg)):
            if cfg.check_faces and n in (p.onset, p.apex) and lm.detect_face(img[y0:y1, x0:x1]) is None:
                raise RuntimeError(f"synth: dlib finds no face in {lay}/{frame_relpath(p, n)}")
            write_image(root / frame_relpath(p, n), img, lay)
    return len(plans)


def synthesize(layout: str, out: str | Path, cfg: SynthConfig = SynthConfig(), *,
               progress: bool = False, overwrite: bool = False) -> list[ClipPlan]:
    """Write a dataset of ``layout`` (one of :data:`LAYOUTS`, or ``all``: ``cfg.layouts``) to ``out``.

    Subjects are independent (each draws from its own seeds), so they are written by ``cfg.workers``
    processes with the same bytes for any number (a script that calls this with more than one worker needs
    Python's ``if __name__ == "__main__":`` guard, as any multiprocessing code). The tree is built in a temporary sibling folder and
    renamed into place when complete, so an interrupted run never leaves a tree that looks finished.
    ``out/synth_manifest.json`` records the config and every clip (readers ignore it).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists (pass overwrite=True / --overwrite to replace it)")
    layouts = cfg.layouts if layout == "all" else (layout,)
    plans_by_layout = {lay: plan_layout(lay, cfg) for lay in layouts}
    with written_folder(out) as tmp:
        jobs = []
        for lay, plans in plans_by_layout.items():
            root = tmp / lay if layout == "all" else tmp
            subjects = sorted({p.subject for p in plans})
            for i, subject in enumerate(subjects):  # face photos given to the subjects in turn
                jobs.append((lay, subject, cfg.faces[i % len(cfg.faces)],
                             [p for p in plans if p.subject == subject], cfg, root))
        workers = min(len(jobs), worker_count(cfg.workers))
        for _ in imap_ordered(_write_subject, jobs, workers=workers, total=len(jobs), desc="synth",
                              unit="subject", enabled=progress, preload=lm.PRELOAD):
            pass
        for lay, plans in plans_by_layout.items():
            root = tmp / lay if layout == "all" else tmp
            root.mkdir(parents=True, exist_ok=True)
            write_sheet(lay, plans, root)
            config = {k: v for k, v in asdict(cfg).items() if k not in ("workers", "layouts")}  # not this layout's
            manifest = {"layout": lay, "config": config,
                        "samples": [{k: v for k, v in asdict(p).items() if k != "motion"} | {"motion": list(p.motion)}
                                    | _confounders(p, cfg) for p in plans]}
            (root / "synth_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return [p for plans in plans_by_layout.values() for p in plans]

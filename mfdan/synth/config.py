"""The demo generator's settings: :class:`SynthConfig` (params.yaml ``synth``), the names it may take (layouts,
frame geometries, face photos), and :func:`seeded_rng`, the one source of random draws every part of the
generator (and the long-video generator) takes its numbers from."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Annotated

import numpy as np

from mfdan.core.params import AtLeast, Increasing, NON_NEGATIVE, POSITIVE, Range
from mfdan.data.protocols import CDE_DATASETS, DATASETS

LAYOUTS = DATASETS  # one native layout per dataset
GEOMETRIES = ("release", "compact")
#: how each subject's clips are chosen (``SynthConfig.rows``)
ROWS = ("round_robin", "cde")
#: the face photos the generator can animate, all real photos that ship inside installed packages
FACE_PHOTOS = ("astronaut", "grace_hopper")


@dataclass(frozen=True)
class SynthConfig:
    """Mirrors the ``synth`` section of params.yaml."""

    seed: Annotated[int, NON_NEGATIVE] = 0
    subjects: Annotated[int, AtLeast(1)] = 4                      #: subjects per layout (taken from the reference sheets)
    samples_per_subject: Annotated[int, AtLeast(1)] = 6           #: clips per subject, classes taken round-robin
    #: ``round_robin``: ``samples_per_subject`` rows per subject, classes in turn; ``cde``: the layout's subjects of the
    #: MEGC2019 CDE list, each with every one of its CDE rows (``samples_per_subject`` unused; ``subjects`` still caps
    #: the subjects per layout, richest first, so 68 or more takes them all: the composite's 442 clips, 68 subjects)
    rows: str = "round_robin"
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
    # confounders of real recordings (the hard set; all off by default, see render.ClipNuisance)
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
        if self.rows not in ROWS:
            raise ValueError(f"synth.rows must be one of {ROWS}, not {self.rows!r}")
        if self.rows == "cde" and set(self.layouts) - set(CDE_DATASETS):
            raise ValueError(f"synth.rows: cde takes the MEGC2019 CDE list's layouts {CDE_DATASETS} only, not "
                             f"{sorted(set(self.layouts) - set(CDE_DATASETS))}")
        if self.subjects < 1 or self.samples_per_subject < 1:
            raise ValueError("synth.subjects and synth.samples_per_subject must be positive")


def seeded_rng(cfg: SynthConfig, *parts: str) -> np.random.Generator:
    """The random stream of one draw, seeded by ``cfg.seed`` and the CRC-32 of each of ``parts`` (e.g. layout,
    subject, sample, purpose): each draw has its own stream, so adding one leaves every other unchanged."""
    return np.random.default_rng([cfg.seed, *(zlib.crc32(p.encode()) for p in parts)])

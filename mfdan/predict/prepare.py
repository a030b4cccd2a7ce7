"""``mfdan predict``'s preprocessing of one clip without PyTorch — alignment, the apex, TV-L1 flow and strain —
which a forked process runs while the command imports PyTorch (:mod:`mfdan.predict.preparer`).

The parts of a model card it needs are read without PyTorch too (:func:`card_sections`). The in-process path
(:func:`mfdan.predict.predictor.predict_clip`) and the forked one run the same :func:`prepare_clip`, so both give
the same bytes (tests/test_predict.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mfdan.core.errors import DatasetError, check_finite
from mfdan.predict.inputs import Clip
from mfdan.preprocess.alignment import AlignConfig, NoFaceError, estimate_alignment
from mfdan.preprocess.apex_spotting import spot_apex
from mfdan.preprocess.optical_flow import FlowConfig, compute_flow, flow_input

#: the architectures that read dlib's landmarks of the aligned onset (their ``inputs``; tests/test_predict.py)
LANDMARK_ARCHS = ("htnet",)


@dataclass
class Prepared:
    """One clip after the pipeline's preprocessing: what the network's side needs, and nothing heavier."""

    input: str                       #: the clip's source, as the user gave it
    onset: str | int                 #: the onset frame's file (two-frame input) or index
    apex: str | int
    apex_source: str                 #: ``given`` or ``flow_peak``
    onset_img: np.ndarray            #: aligned onset, H×W×3 uint8
    apex_img: np.ndarray             #: aligned apex
    flow: np.ndarray                 #: (3, S, S) float32: u, v, strain as the flow stage stores them
    landmarks: np.ndarray | None = None  #: dlib's 68 points on the aligned onset (LANDMARK_ARCHS only)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()      #: the clip's (a video's miscounted header)


def prepare_clip(clip: Clip, *, align: AlignConfig, flow: FlowConfig, apex_policy: dict[str, str], align_as: str,
                 landmarks: bool = False) -> Prepared:
    """Alignment estimated once on the onset and applied to every frame used (as ``align``), the apex spotted with
    the pipeline's ``flow_peak`` policy when none is given, TV-L1 flow and strain (as ``flow``); a
    :class:`DatasetError` names the file at fault."""
    seconds: dict[str, float] = {}
    size = align.output_size
    t = time.perf_counter()
    try:  # one transform per clip, estimated on the onset
        al = estimate_alignment(clip.frames[clip.onset], align_as, align)
    except NoFaceError:
        raise DatasetError(clip.names[clip.onset], "dlib found no face in this onset frame") from None
    if clip.apex is None:  # flow_peak over the frames read from the onset on
        numbers = sorted(i for i in clip.frames if i >= clip.onset)  # frame numbers, the onset first
        frames = [al.apply(clip.frames[i], size) for i in numbers]
        seconds["align"] = time.perf_counter() - t
        t = time.perf_counter()
        k = spot_apex(frames, method=apex_policy["apex_flow"], flow_cfg=flow)  # position in `numbers`
        apex = numbers[k]
        onset_img, apex_img = frames[0], frames[k]
        seconds["spot"] = time.perf_counter() - t
        source = "flow_peak"
    else:
        apex = clip.apex
        onset_img, apex_img = al.apply(clip.frames[clip.onset], size), al.apply(clip.frames[apex], size)
        seconds["align"] = time.perf_counter() - t
        source = "given"

    t = time.perf_counter()
    uvs = flow_input(compute_flow(onset_img, apex_img, flow), flow)
    check_finite(uvs, f"{clip.source}: flow")
    seconds["flow"] = time.perf_counter() - t
    points = None
    if landmarks:  # as the align stage stores them: dlib on the aligned onset
        from mfdan.preprocess.landmarks import aligned_landmarks

        points = aligned_landmarks(onset_img)[0]

    def where(i: int) -> str | int:
        return clip.names[i] if clip.kind == "frames" else i

    return Prepared(input=clip.source, onset=where(clip.onset), apex=where(apex), apex_source=source,
                    onset_img=onset_img, apex_img=apex_img, flow=uvs, landmarks=points, seconds=seconds,
                    notes=clip.notes)


@dataclass(frozen=True)
class Sections:
    """What :func:`prepare_clip` needs from a model card, read without PyTorch."""

    align: AlignConfig
    flow: FlowConfig
    apex_policy: dict[str, str]
    landmarks: bool


def card_sections(model_dir: Path) -> Sections | None:
    """The card's preprocessing sections, or None when the card cannot be read so (the full load,
    :func:`mfdan.predict.model_card.load_final`, then names the problem)."""
    from mfdan.core.params import from_dict
    from mfdan.predict.card_file import apex_policy, read_card

    try:
        _, card = read_card(model_dir)
        p = card["params"]
        return Sections(align=from_dict(AlignConfig, p["align"], where="card"),
                        flow=from_dict(FlowConfig, p["flow"], where="card"),
                        apex_policy=apex_policy(p["data"]),
                        landmarks=p.get("arch", "mfdan") in LANDMARK_ARCHS)
    except Exception:  # noqa: BLE001 - any problem is load_final's to report, with the file named
        return None

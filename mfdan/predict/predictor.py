"""``mfdan predict``: a trained model (``models/final``: MFDAN or a baseline) on new recordings, through the
pipeline's own code.

Per clip, exactly the stages' functions with the card's parameters: alignment estimated once on the onset
frame and applied to every frame used (:func:`mfdan.preprocess.alignment.estimate_alignment`, as ``align``),
the apex spotted with the pipeline's ``flow_peak`` policy when none is given
(:func:`mfdan.preprocess.apex_spotting.spot_apex`, from the onset to the last frame), TV-L1 flow and strain
(:func:`mfdan.preprocess.optical_flow.flow_input`, as ``flow``), MagNet at the evaluation factor
(:func:`mfdan.magnify.magnification.magnify`, as ``magnify``), the network in eval mode (as a fold's
prediction) and, on request, Grad-CAM (:func:`mfdan.evaluate.gradcam.grad_cam`, as the ``gradcam`` stage).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mfdan.core.errors import DatasetError, check_finite
from mfdan.core.frames import to_unit
from mfdan.evaluate.gradcam import grad_cam, overlay, supports_cam
from mfdan.magnify.magnification import magnify
from mfdan.model.registry import forward
from mfdan.predict.inputs import Clip
from mfdan.predict.model_card import FinalModel
from mfdan.preprocess.alignment import NoFaceError, estimate_alignment
from mfdan.preprocess.apex_spotting import spot_apex
from mfdan.preprocess.optical_flow import compute_flow, flow_input

PARTS = ("align", "spot", "flow", "magnify", "model", "cam")


@dataclass
class Prediction:
    """One input's answer, what it was computed from, and how long each part took (seconds)."""

    input: str
    label: str
    probabilities: dict[str, float]
    onset: str | int            #: the onset frame's file (two-frame input) or index
    apex: str | int
    apex_source: str            #: ``given`` or ``flow_peak``
    seconds: dict[str, float] = field(default_factory=dict)
    apex_frame: np.ndarray | None = None   #: the aligned apex (H×W×3 uint8), for the overlay
    heat: np.ndarray | None = None         #: Grad-CAM of the predicted class (H×W in [0, 1])

    def record(self, timings: bool = False) -> dict:
        """The JSON line: ``{"input", "label", "probabilities", "onset", "apex"}`` (+ ``seconds``)."""
        out = {"input": self.input, "label": self.label, "probabilities": self.probabilities,
               "onset": self.onset, "apex": self.apex}
        if timings:
            out["seconds"] = {k: round(v, 4) for k, v in self.seconds.items()}
        return out

    def overlay(self) -> np.ndarray:
        assert self.heat is not None and self.apex_frame is not None
        return overlay(self.apex_frame, self.heat)


def predict_clip(fm: FinalModel, clip: Clip, *, align_as: str, cam: bool = False,
                 device: torch.device = torch.device("cpu")) -> Prediction:
    """The model's class probabilities for one clip; a :class:`DatasetError` names the file at fault."""
    seconds: dict[str, float] = {}
    size = fm.align.output_size
    t = time.perf_counter()
    try:  # one transform per clip, estimated on the onset
        al = estimate_alignment(clip.frames[clip.onset], align_as, fm.align)
    except NoFaceError:
        raise DatasetError(clip.names[clip.onset], "dlib found no face in this onset frame") from None
    if clip.apex is None:  # flow_peak over the frames read from the onset on
        numbers = sorted(i for i in clip.frames if i >= clip.onset)  # frame numbers, the onset first
        frames = [al.apply(clip.frames[i], size) for i in numbers]
        seconds["align"] = time.perf_counter() - t
        t = time.perf_counter()
        k = spot_apex(frames, method=fm.apex_policy["spotting_flow"], flow_cfg=fm.flow)  # position in `numbers`
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
    flow = flow_input(compute_flow(onset_img, apex_img, fm.flow), fm.flow)
    check_finite(flow, f"{clip.source}: flow")
    seconds["flow"] = time.perf_counter() - t

    image = apex_img  # a model that reads no image (a flow baseline) is given the unmagnified apex, unused
    if "image" in fm.model.inputs:
        t = time.perf_counter()
        image = magnify(onset_img, apex_img, np.array([fm.magnify.eval_alpha], np.float32), fm.magnify, fm.magnet)[0]
        seconds["magnify"] = time.perf_counter() - t

    t = time.perf_counter()
    batch = {"image": to_unit(image[None], device), "flow": torch.from_numpy(flow[None]).to(device)}
    if "landmarks" in fm.model.inputs:  # as the align stage stores them: dlib on the aligned onset
        from mfdan.preprocess.landmarks import aligned_landmarks

        batch["landmarks"] = torch.from_numpy(aligned_landmarks(onset_img)[0][None]).to(device)
    with torch.no_grad():
        probs = torch.softmax(forward(fm.model, batch).float(), dim=1)[0].cpu().numpy()
    check_finite(probs, f"{clip.source}: probabilities")
    seconds["model"] = time.perf_counter() - t
    pred = int(probs.argmax())

    heat = None
    if cam:
        if not supports_cam(fm.model):
            raise ValueError(f"--cam: the {fm.card['params'].get('arch', 'mfdan')} model has no spatial map for "
                             "Grad-CAM; run without --cam")
        t = time.perf_counter()
        heat = grad_cam(fm.model, batch, pred)[0]
        seconds["cam"] = time.perf_counter() - t

    def where(i: int) -> str | int:
        return clip.names[i] if clip.kind == "frames" else i

    return Prediction(input=clip.source, label=fm.classes[pred],
                      probabilities={c: float(p) for c, p in zip(fm.classes, probs)},
                      onset=where(clip.onset), apex=where(apex), apex_source=source, seconds=seconds,
                      apex_frame=apex_img, heat=heat)


def cam_name(source: str, taken: set[str]) -> str:
    """A unique PNG name for an input's overlay: its file or folder name, numbered on collision."""
    stem = Path(source.rstrip("/")).stem or "input"
    name, k = f"{stem}.png", 1
    while name in taken:
        k += 1
        name = f"{stem}_{k}.png"
    taken.add(name)
    return name

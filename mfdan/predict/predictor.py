"""``mfdan predict``: a trained model (``models/final``: MFDAN or a baseline) on new recordings, through the
pipeline's own code.

Per clip, exactly the stages' functions with the card's parameters: alignment estimated once on the onset
frame and applied to every frame used (:func:`mfdan.preprocess.alignment.estimate_alignment`, as ``align``),
the apex spotted with the pipeline's ``flow_peak`` policy when none is given
(:func:`mfdan.preprocess.apex_spotting.spot_apex`, from the onset to the last frame), TV-L1 flow and strain
(:func:`mfdan.preprocess.optical_flow.flow_input`, as ``flow``) — these three in :mod:`mfdan.predict.prepare`,
which needs no PyTorch — MagNet at the evaluation factor
(:func:`mfdan.magnify.magnification.magnify`, as ``magnify``), the network in eval mode (as a fold's
prediction) and, on request, Grad-CAM (:func:`mfdan.evaluate.gradcam.grad_cam`, as the ``gradcam`` stage).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mfdan.core.errors import check_finite
from mfdan.core.frames import to_unit
from mfdan.evaluate.gradcam import grad_cam, overlay, supports_cam
from mfdan.magnify.magnification import magnify
from mfdan.magnify.quality import DIFF_GAIN, figure, sample_row
from mfdan.model.registry import forward
from mfdan.predict.inputs import Clip
from mfdan.predict.model_card import FinalModel
from mfdan.predict.prepare import Prepared, prepare_clip

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
    onset_frame: np.ndarray | None = None  #: the aligned onset, for the magnification panel
    #: (α, magnified apex) at the evaluation factor (what the model read), the largest training factor and 1
    magnified: list[tuple[float, np.ndarray]] = field(default_factory=list)
    notes: tuple[str, ...] = ()            #: how the input was read (a video's miscounted header)

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

    def magnification_panel(self) -> np.ndarray | None:
        """The ``magnify_check`` stage's figure for this input (onset | apex | magnified at two factors | true
        change | motion added | everything added); ``None`` for a model that reads no magnified image."""
        if len(self.magnified) != 3 or self.onset_frame is None or self.apex_frame is None:
            return None
        (a1, low), (a2, high), (_, base) = self.magnified
        row = sample_row(self.onset_frame, self.apex_frame, low, high, f"{self.input} ({self.label})", alpha=a2,
                         gain=DIFF_GAIN, base=base)
        return figure([row], f"magnified apex, {self.input}", factors=(a1, a2), gain=DIFF_GAIN)


def predict_clip(fm: FinalModel, clip: Clip, *, align_as: str, cam: bool = False,
                 device: torch.device = torch.device("cpu")) -> Prediction:
    """The model's class probabilities for one clip; a :class:`DatasetError` names the file at fault."""
    prepared = prepare_clip(clip, align=fm.align, flow=fm.flow, apex_policy=fm.apex_policy, align_as=align_as,
                            landmarks="landmarks" in fm.model.inputs)
    return classify(fm, prepared, cam=cam, device=device)


def classify(fm: FinalModel, prep: Prepared, *, cam: bool = False,
             device: torch.device = torch.device("cpu")) -> Prediction:
    """A prepared clip (:func:`mfdan.predict.prepare.prepare_clip`) magnified and through the network."""
    seconds = dict(prep.seconds)
    image = prep.apex_img  # a model that reads no image (a flow baseline) is given the unmagnified apex, unused
    magnified: list[tuple[float, np.ndarray]] = []
    if "image" in fm.model.inputs:
        t = time.perf_counter()
        image = magnify(prep.onset_img, prep.apex_img, np.array([fm.magnify.eval_alpha], np.float32), fm.magnify,
                        fm.magnet)[0]
        seconds["magnify"] = time.perf_counter() - t
        magnified.append((fm.magnify.eval_alpha, image))

    t = time.perf_counter()
    batch = {"image": to_unit(image[None], device), "flow": torch.from_numpy(prep.flow[None]).to(device)}
    if "landmarks" in fm.model.inputs:  # prepared as the align stage stores them: dlib on the aligned onset
        batch["landmarks"] = torch.from_numpy(prep.landmarks[None]).to(device)
    with torch.no_grad():
        probs = torch.softmax(forward(fm.model, batch).float(), dim=1)[0].cpu().numpy()
    check_finite(probs, f"{prep.input}: probabilities")
    seconds["model"] = time.perf_counter() - t
    pred = int(probs.argmax())

    heat = None
    if cam:
        if not supports_cam(fm.model):
            raise ValueError(f"--cam: the {fm.card['params'].get('arch', 'mfdan')} model has no spatial map for "
                             "Grad-CAM; run without --cam")
        t = time.perf_counter()
        heat = grad_cam(fm.model, batch, pred)[0]
        if magnified:  # the panel: the largest training factor, and α = 1 (the magnifier's redrawing)
            high = float(fm.magnify.alpha_range[1])
            more = magnify(prep.onset_img, prep.apex_img, np.array([high, 1.0], np.float32), fm.magnify, fm.magnet)
            magnified += [(high, more[0]), (1.0, more[1])]
        seconds["cam"] = time.perf_counter() - t

    return Prediction(input=prep.input, label=fm.classes[pred],
                      probabilities={c: float(p) for c, p in zip(fm.classes, probs)},
                      onset=prep.onset, apex=prep.apex, apex_source=prep.apex_source, seconds=seconds,
                      apex_frame=prep.apex_img, heat=heat, onset_frame=prep.onset_img,
                      magnified=magnified if cam else [], notes=prep.notes)


def write_cam(folder: Path, name: str, p: Prediction) -> None:
    """``--cam``: the Grad-CAM overlay as ``name`` and, for a model that reads the magnified apex, the
    magnification panel beside it (``<stem>_magnified.png``)."""
    from mfdan.core.pictures import write_png

    write_png(folder / name, p.overlay())
    panel = p.magnification_panel()
    if panel is not None:
        write_png(folder / f"{Path(name).stem}_magnified.png", panel)


def cam_name(source: str, taken: set[str]) -> str:
    """A unique PNG name for an input's overlay: its file or folder name, numbered on collision."""
    stem = Path(source.rstrip("/")).stem or "input"
    name, k = f"{stem}.png", 1
    while name in taken:
        k += 1
        name = f"{stem}_{k}.png"
    taken.add(name)
    return name

"""Where a layout's frames put the face: each release's frame size, colour and face area
(:data:`RELEASE_GEOMETRY`, docs/equations.md "Demo data"), or ``compact`` squares for the tests, and the face
window (:meth:`Geometry.window`), the only part of a frame that is re-rendered per frame."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mfdan.synth import exact
from mfdan.synth.config import SynthConfig


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

    def window_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """``(gx, gy)``: the frame coordinates of the window's pixels (float64, window-shaped)."""
        x0, y0, x1, y1 = self.window()
        gx, gy = exact.grid(x1 - x0, y1 - y0)
        return gx + x0, gy + y0


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
#: CASME's Section A subjects (the rest are Section B, another camera and another folder)
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

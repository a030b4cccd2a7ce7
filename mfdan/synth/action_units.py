"""How a generated face moves: the action-unit (AU) motion templates, which AUs each emotion label moves, and the
expression's displacement field in space (:func:`motion_field`) and weight in time (:func:`temporal_profile`).

Each AU is a list of (landmark index, direction (dx, dy) in units of the peak amplitude). The field is a sum of
Gaussian bumps centred on those landmarks, width :data:`SIGMA_FRAC` × the inter-ocular distance.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from mfdan.preprocess import landmarks as lm
from mfdan.synth import exact

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

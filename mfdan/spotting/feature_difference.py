"""The training-free spotter: Moilanen et al.'s LBP feature difference (ICPR 2014), the MEGC baseline.

Per kind (micro with k = ``k_micro``, macro with k = ``k_macro``): the contrast curve C of the per-frame
feature difference (:mod:`mfdan.spotting.features`), its threshold and peaks, and the rules of
:mod:`mfdan.spotting.peaks`."""
from __future__ import annotations

import numpy as np

from mfdan.spotting.config import SpotConfig
from mfdan.spotting.features import VideoFeatures
from mfdan.spotting.peaks import Interval, contrast, spot_kinds


def curves(feat: VideoFeatures) -> dict[str, np.ndarray]:
    """The contrast curve per kind."""
    return {kind: contrast(feat.fd[kind], k) for kind, k in feat.ks.items()}


def spot(feat: VideoFeatures, cfg: SpotConfig, counts: dict | None = None) -> list[Interval]:
    """Micro and macro proposals of one recording, in onset order."""
    return spot_kinds(curves(feat), feat, cfg, p_micro=cfg.p_micro, p_macro=cfg.p_macro, counts=counts)

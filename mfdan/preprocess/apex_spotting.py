"""Apex policy for clips without an apex label (SMIC-HS): ``annotated | middle | flow_peak``.

``flow_peak`` picks the frame whose optical flow *from the onset* has the largest mean magnitude over the
aligned face. Spotting uses Farnebäck flow by default (every frame of every clip: TV-L1 would cost ~1 s a
frame); ``spotting_flow: tvl1`` uses the configured TV-L1 instead.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from mfdan.data.config import SPOTTING_FLOWS
from mfdan.preprocess.optical_flow import FlowConfig, compute_flow, to_grey


def flow_magnitudes(frames: Sequence[np.ndarray], *, method: str = "farneback",
                    flow_cfg: FlowConfig | None = None) -> np.ndarray:
    """Mean flow magnitude from ``frames[0]`` to each frame (the first is 0)."""
    if method not in SPOTTING_FLOWS:
        raise ValueError(f"spotting flow must be one of {SPOTTING_FLOWS}, not {method!r}")
    onset = to_grey(frames[0])
    mags = [0.0]
    for f in frames[1:]:
        g = to_grey(f)
        if method == "tvl1":
            flow = compute_flow(onset, g, flow_cfg or FlowConfig())
        else:
            flow = cv2.calcOpticalFlowFarneback(onset, g, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                                poly_n=5, poly_sigma=1.2, flags=0)
        mags.append(float(np.hypot(flow[..., 0], flow[..., 1]).mean()))
    return np.asarray(mags)


def spot_apex(frames: Sequence[np.ndarray], **kw) -> int:
    """Index of the frame of largest mean flow magnitude from the onset (never the onset itself)."""
    if len(frames) < 2:
        raise ValueError("apex spotting needs at least two frames")
    mags = flow_magnitudes(frames, **kw)
    return int(np.argmax(mags[1:]) + 1)

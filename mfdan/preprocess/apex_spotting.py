"""Apex policy for clips without an apex label (SMIC-HS): ``annotated | middle | flow_peak``.

``flow_peak`` picks the frame whose optical flow *from the onset* shows the strongest local motion on the
aligned face: the frame's global motion (the median flow vector: residual head movement) is removed, and the
score is the 99th percentile of the remaining flow magnitude. A micro-expression moves a few small regions
(brows, lip corners), so the mean magnitude over the whole face is dominated by head jitter and sensor noise;
on generated clips the mean picked frames no closer than the middle frame, the percentile of the de-jittered
flow did (tests/test_preprocess.py). Spotting uses Farnebäck flow by default (every frame of every clip:
TV-L1 would cost ~1 s a frame); ``apex_flow: tvl1`` uses the configured TV-L1 instead.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from mfdan.data.config import APEX_FLOWS
from mfdan.preprocess.optical_flow import FlowConfig, compute_flow, to_grey


LOCAL_PERCENTILE = 99.0


def flow_magnitudes(frames: Sequence[np.ndarray], *, method: str = "farneback",
                    flow_cfg: FlowConfig | None = None) -> np.ndarray:
    """Local motion score from ``frames[0]`` to each frame (the first is 0): the 99th percentile of the flow
    magnitude after subtracting the frame's median flow vector."""
    if method not in APEX_FLOWS:
        raise ValueError(f"spotting flow must be one of {APEX_FLOWS}, not {method!r}")
    onset = to_grey(frames[0])
    mags = [0.0]
    for f in frames[1:]:
        g = to_grey(f)
        if method == "tvl1":
            flow = compute_flow(onset, g, flow_cfg or FlowConfig())
        else:
            flow = cv2.calcOpticalFlowFarneback(onset, g, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                                poly_n=5, poly_sigma=1.2, flags=0)
        flow = flow - np.median(flow.reshape(-1, 2), axis=0)  # (H, W, 2) minus the global motion
        mags.append(float(np.percentile(np.hypot(flow[..., 0], flow[..., 1]), LOCAL_PERCENTILE)))
    return np.asarray(mags)


def spot_apex(frames: Sequence[np.ndarray], **kw) -> int:
    """Index of the frame of largest mean flow magnitude from the onset (never the onset itself)."""
    if len(frames) < 2:
        raise ValueError("apex spotting needs at least two frames")
    mags = flow_magnitudes(frames, **kw)
    return int(np.argmax(mags[1:]) + 1)

"""TV-L1 optical flow between the aligned onset and apex (Zach et al. 2007; OpenCV's Dual TV-L1), the
(u, v, strain) input of MFDAN, and its normalisation.

Every solver parameter is in :class:`FlowConfig` (params.yaml ``flow``) with OpenCV's defaults. The pinned
``opencv-contrib-python-headless`` matters: flow values differ between OpenCV versions.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated

import cv2
import numpy as np

from mfdan.core.params import AtLeast, NON_NEGATIVE, POSITIVE, UNIT_OPEN
from mfdan.preprocess.optical_strain import optical_strain

NORMALISATIONS = ("maxabs", "p99", "none")
ROBUST_PERCENTILE = 99.0  #: ``p99``'s percentile


@dataclass(frozen=True)
class FlowConfig:
    """Mirrors params.yaml ``flow``: TV-L1 solver settings (OpenCV defaults), output size and normalisation."""

    tau: Annotated[float, POSITIVE] = 0.25
    lambda_: Annotated[float, POSITIVE] = 0.15
    theta: Annotated[float, POSITIVE] = 0.3
    nscales: Annotated[int, AtLeast(1)] = 5
    warps: Annotated[int, AtLeast(1)] = 5
    epsilon: Annotated[float, POSITIVE] = 0.01
    inner_iterations: Annotated[int, AtLeast(1)] = 30
    outer_iterations: Annotated[int, AtLeast(1)] = 10
    scale_step: Annotated[float, UNIT_OPEN] = 0.8
    gamma: Annotated[float, NON_NEGATIVE] = 0.0
    median_filtering: Annotated[int, AtLeast(1)] = 5
    output_size: Annotated[int, AtLeast(8)] = 224        #: side of the (u, v, strain) map handed to the model
    #: ``maxabs``: u, v divided by their joint max |value| and strain by its max, per sample (keeps sign and
    #: direction, removes the clip's overall motion scale); ``p99``: u, v divided by the 99th percentile of the
    #: vector length |(u, v)| and strain by its 99th percentile, per sample (a scale a few border pixels cannot
    #: set; values may exceed 1); ``none``: pixels of the output grid
    normalise: str = "maxabs"
    workers: Annotated[int, NON_NEGATIVE] = 0              #: processes (0 = all cores), one OpenCV thread each

    def __post_init__(self) -> None:
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"flow.normalise must be one of {NORMALISATIONS}, not {self.normalise!r}")


@cache
def tvl1(cfg: FlowConfig):
    """The configured ``cv2.optflow.DualTVL1OpticalFlow``, built once per config in each process."""
    return cv2.optflow.DualTVL1OpticalFlow_create(
        tau=cfg.tau, lambda_=cfg.lambda_, theta=cfg.theta, nscales=cfg.nscales, warps=cfg.warps,
        epsilon=cfg.epsilon, innnerIterations=cfg.inner_iterations, outerIterations=cfg.outer_iterations,
        scaleStep=cfg.scale_step, gamma=cfg.gamma, medianFiltering=cfg.median_filtering, useInitialFlow=False)


def to_grey(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def compute_flow(onset: np.ndarray, apex: np.ndarray, cfg: FlowConfig) -> np.ndarray:
    """TV-L1 flow from ``onset`` to ``apex`` (uint8, grey or RGB): H×W×2 float32, (u, v) in pixels."""
    return tvl1(cfg).calc(to_grey(onset), to_grey(apex), None)


def flow_input(flow: np.ndarray, cfg: FlowConfig) -> np.ndarray:
    """(u, v, |ε|) as a 3×size×size float32 array: strain from Eq. 3 at full resolution, then resized and
    normalised (``cfg.normalise``)."""
    u, v = flow[..., 0], flow[..., 1]
    strain = optical_strain(u, v)
    h, w = u.shape
    out = np.stack([u, v, strain]).astype(np.float32)  # (3, H, W)
    if (h, w) != (cfg.output_size, cfg.output_size):
        out = np.stack([cv2.resize(c, (cfg.output_size, cfg.output_size), interpolation=cv2.INTER_AREA) for c in out])
        out[0] *= cfg.output_size / w  # displacements scale with the grid
        out[1] *= cfg.output_size / h
        out[2] *= 1.0  # strain is a ratio of displacements to distances: unchanged by scaling
    if cfg.normalise == "maxabs":
        m = float(np.abs(out[:2]).max())
        if m > 0:
            out[:2] /= m
        s = float(out[2].max())
        if s > 0:
            out[2] /= s
    elif cfg.normalise == "p99":
        m = float(np.percentile(np.hypot(out[0], out[1]), ROBUST_PERCENTILE))
        if m > 0:
            out[:2] /= m
        s = float(np.percentile(out[2], ROBUST_PERCENTILE))
        if s > 0:
            out[2] /= s
    return out

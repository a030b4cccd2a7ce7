"""Randomized-factor motion magnification of the apex frame, MFDAN's image input (Sec. III-A).

For each sample, ``variants`` training variants with factors drawn uniformly from ``alpha_range`` (seeded by
``seed`` and the sample id, so reruns and reorderings give the same factors) and one evaluation variant at
``eval_alpha``. ``method``:

* ``magnet``: MagNet(onset, apex, α) through its one inference path (:meth:`MagNet.encode_pair` once per
  sample, :meth:`MagNet.decode` per batch of factors); on CUDA when present;
* ``linear``: two-frame Eulerian magnification ``apex + (α − 1)(apex − onset)``;
* ``none``: the apex itself (the ablation without magnification).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch

from mfdan.core.errors import check_finite
from mfdan.core.frames import to_uint8, to_unit
from mfdan.core.params import AtLeast, DEVICE, Increasing, NON_NEGATIVE, POSITIVE
from mfdan.magnify.magnet import MagNet

METHODS = ("magnet", "linear", "none")


@dataclass(frozen=True)
class MagnifyConfig:
    """Mirrors params.yaml ``magnify``."""

    method: str = "magnet"
    variants: Annotated[int, AtLeast(1)] = 2                              #: training variants per sample (random factors)
    alpha_range: Annotated[tuple[float, float], POSITIVE, Increasing(strict=False)] = (1.5, 4.0)  #: training factors, uniform
    eval_alpha: Annotated[float, POSITIVE] = 2.5                        #: the one factor used for evaluation
    seed: Annotated[int, NON_NEGATIVE] = 0
    batch: Annotated[int, AtLeast(1)] = 8                                 #: frames per MagNet decoder pass
    device: Annotated[str, DEVICE] = "auto"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"magnify.method must be one of {METHODS}, not {self.method!r}")
        if self.variants < 1:
            raise ValueError("magnify.variants must be at least 1")


def draw_factors(sample_id: str, cfg: MagnifyConfig) -> np.ndarray:
    """The ``variants`` training factors of one sample, reproducible from (seed, sample id)."""
    rng = np.random.default_rng([cfg.seed, zlib.crc32(sample_id.encode())])
    return rng.uniform(*cfg.alpha_range, size=cfg.variants).astype(np.float32)


@torch.no_grad()
def magnify(onset: np.ndarray, apex: np.ndarray, alphas: np.ndarray, cfg: MagnifyConfig,
            model: MagNet | None = None) -> np.ndarray:
    """``len(alphas)`` magnified versions of one (onset, apex) pair (uint8 H×W×3) -> uint8 K×H×W×3."""
    if cfg.method == "none":
        return np.repeat(apex[None], len(alphas), axis=0)
    if cfg.method == "linear":
        a, b = to_unit(onset[None]), to_unit(apex[None])
        al = torch.from_numpy(np.asarray(alphas, np.float32)).view(-1, 1, 1, 1)
        return to_uint8(b + (al - 1) * (b - a))
    if model is None:
        raise ValueError("magnify.method magnet needs the MagNet weights")
    device = next(model.parameters()).device
    pair = model.encode_pair(to_unit(onset[None], device), to_unit(apex[None], device))  # encoded once
    out = []
    for start in range(0, len(alphas), cfg.batch):
        al = torch.as_tensor(np.asarray(alphas[start:start + cfg.batch], np.float32), device=device).view(-1, 1, 1, 1)
        frames = model.decode(pair, al)
        check_finite(frames, "MagNet output")
        out.append(to_uint8(frames))
    return np.concatenate(out)

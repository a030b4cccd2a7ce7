"""The ``magnify`` stage: motion-magnified apex frames for MFDAN's image branch.

For each sample of the cache, ``variants`` training variants with factors drawn uniformly from
``alpha_range`` (seeded by ``seed`` and the sample id, so reruns and reorderings give the same factors) and
one evaluation variant at ``eval_alpha``. ``method``:

* ``magnet``: MagNet(onset, apex, α) — the onset and apex are encoded once per sample and only the
  manipulator and decoder run per factor; batched, on CUDA when present;
* ``linear``: two-frame Eulerian magnification ``apex + (α − 1)(apex − onset)``;
* ``none``: the apex itself (the ablation without magnification).

Frames are stored as uint8 (the network's unclipped output is clipped only there), in a file of their own
(``magnified.h5``) whose ``sample_id`` list equals the cache's, checked on load.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from mfdan.cache import STR, RowWriter, read_strings
from mfdan.magnet import MagNet, pad_to_4
from mfdan.device import resolve_device

METHODS = ("magnet", "linear", "none")


@dataclass(frozen=True)
class MagnifyConfig:
    """Mirrors params.yaml ``magnify``."""

    method: str = "magnet"
    variants: int = 2                              #: training variants per sample (random factors)
    alpha_range: tuple[float, float] = (1.5, 4.0)  #: training factors, uniform
    eval_alpha: float = 2.5                        #: the one factor used for evaluation
    seed: int = 0
    batch: int = 8                                 #: frames per MagNet forward pass
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"magnify.method must be one of {METHODS}, not {self.method!r}")
        if self.variants < 1:
            raise ValueError("magnify.variants must be at least 1")


def draw_factors(sample_id: str, cfg: MagnifyConfig) -> np.ndarray:
    """The ``variants`` training factors of one sample, reproducible from (seed, sample id)."""
    rng = np.random.default_rng([cfg.seed, zlib.crc32(sample_id.encode())])
    return rng.uniform(*cfg.alpha_range, size=cfg.variants).astype(np.float32)


def to_unit(frames: np.ndarray) -> torch.Tensor:
    """uint8 N×H×W×3 -> float N×3×H×W in [−1, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """float N×3×H×W in [−1, 1] (unclipped) -> uint8 N×H×W×3."""
    return ((frames.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def magnify(onset: np.ndarray, apex: np.ndarray, alphas: np.ndarray, cfg: MagnifyConfig,
            model: MagNet | None = None) -> np.ndarray:
    """``len(alphas)`` magnified versions of one (onset, apex) pair (uint8 H×W×3) -> uint8 K×H×W×3."""
    if cfg.method == "none":
        return np.repeat(apex[None], len(alphas), axis=0)
    a, b = to_unit(onset[None]), to_unit(apex[None])
    if cfg.method == "linear":
        al = torch.from_numpy(np.asarray(alphas, np.float32)).view(-1, 1, 1, 1)
        return to_uint8(b + (al - 1) * (b - a))
    assert model is not None
    device = next(model.parameters()).device
    a, b = a.to(device), b.to(device)
    h, w = a.shape[-2:]
    a, b = pad_to_4(a, b)
    _, m_a = model.encoder(a)
    t_b, m_b = model.encoder(b)  # encoded once, reused for every factor
    out = []
    for start in range(0, len(alphas), cfg.batch):
        al = torch.as_tensor(np.asarray(alphas[start:start + cfg.batch], np.float32), device=device).view(-1, 1, 1, 1)
        k = al.shape[0]
        mag = model.manipulator(m_a.expand(k, -1, -1, -1), m_b.expand(k, -1, -1, -1), al)
        out.append(to_uint8(model.decoder(t_b.expand(k, -1, -1, -1), mag)[..., :h, :w]))
    return np.concatenate(out)


def run_magnify(cache: Path, weights: Path, out: Path, cfg: MagnifyConfig) -> None:
    model = None
    sha = ""
    if cfg.method == "magnet":
        from mfdan.magnet import load_magnet, sha256

        model = load_magnet(weights, map_location=resolve_device(cfg.device)).eval()
        sha = sha256(weights)
    with h5py.File(cache, "r") as src:
        n, s = src["apex"].shape[0], src["apex"].shape[1]
        ids = read_strings(src["sample_id"])
        specs = {"train": ((cfg.variants, s, s, 3), "u1"), "eval": ((s, s, 3), "u1"),
                 "factors": ((cfg.variants,), "f4"), "sample_id": ((), STR)}
        attrs = {"method": cfg.method, "eval_alpha": cfg.eval_alpha, "weights_sha256": sha,
                 "config": json.dumps(asdict(cfg), sort_keys=True)}
        from tqdm import tqdm

        with RowWriter(out, n, specs, attrs=attrs) as w:
            for i in tqdm(range(n), desc=f"magnify ({cfg.method})", unit="clip", disable=None):
                factors = draw_factors(ids[i], cfg)
                frames = magnify(src["onset"][i], src["apex"][i], np.append(factors, cfg.eval_alpha), cfg, model)
                w.write(i, train=frames[:-1], eval=frames[-1], factors=factors, sample_id=ids[i])

"""Training MagNet without Oh et al.'s datasets: their recipe on procedurally generated pairs.

Each example (Oh et al., ECCV 2018, Sec. 3.2) is rendered here:
* a textured foreground shape (random ellipse, soft edge) over a textured background (multi-octave colour
  noise), each layer moving by its own small sub-pixel translation from frame A to frame B;
* the ground-truth magnified frame Y renders the same layers displaced by α·d (α uniform in
  ``alpha_range``, α·|d| capped at ``max_magnified`` px); all frames rendered with bicubic interpolation;
* C and M are B and Y under one random colour perturbation (per-channel gain and offset);
* shot noise (σ·sqrt(intensity)) is added to the inputs A, B, C.

Loss: ``L1(Ŷ, Y) + λ·(L1(texture(C), texture(M)) + L1(shape(B), shape(C)))`` — C and M share colours, so
their textures should agree; B and C share shape, so their shape representations should agree. Adam.

:func:`evaluate_psnr` compares, on held-out generated pairs, the network against two-frame linear
(Eulerian) magnification ``B + (α − 1)(B − A)`` and against no magnification (``B``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mfdan.core.device import resolve_device
from mfdan.core.errors import check_finite
from mfdan.core.progress import Progress
from mfdan.core.params import AtLeast, DEVICE, Increasing, NON_NEGATIVE, POSITIVE
from mfdan.magnify.magnet import MagNet


@dataclass(frozen=True)
class MagnetConfig:
    """Mirrors params.yaml ``magnet``."""

    checkpoint: str = ""               #: community checkpoint path; empty = train on generated pairs
    seed: Annotated[int, NON_NEGATIVE] = 0
    iterations: Annotated[int, AtLeast(1)] = 150
    batch: Annotated[int, AtLeast(1)] = 8
    patch: Annotated[int, AtLeast(8)] = 64                    #: training crop side (multiple of 4)
    lr: Annotated[float, POSITIVE] = 1e-4
    alpha_range: Annotated[tuple[float, float], POSITIVE, Increasing()] = (2.0, 10.0)
    max_motion: Annotated[float, POSITIVE] = 1.0            #: largest layer displacement A -> B, px
    max_magnified: Annotated[float, POSITIVE] = 8.0         #: cap on α·|d|, px
    reg_weight: Annotated[float, NON_NEGATIVE] = 0.1            #: λ of the texture / shape regularisers
    noise: Annotated[float, NON_NEGATIVE] = 0.01                #: shot-noise σ (intensities in [0, 1])
    eval_pairs: Annotated[int, AtLeast(1)] = 64
    device: Annotated[str, DEVICE] = "auto"               #: auto | cpu | cuda

    def __post_init__(self) -> None:
        if self.patch % 4:
            raise ValueError("magnet.patch must be a multiple of 4")


def texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Multi-octave colour noise, size×size×3 float32 in [0, 1]."""
    img = np.zeros((size, size, 3), np.float32)
    for k in range(1, 6):
        n = max(2, size >> k)
        layer = rng.normal(0, 1, (n, n, 3)).astype(np.float32)
        img += cv2.resize(layer, (size, size), interpolation=cv2.INTER_CUBIC) * rng.uniform(0.3, 1.0) / k
    mix = rng.uniform(0.2, 1.0, (3, 3)).astype(np.float32)
    img = img @ mix
    img -= img.min()
    return img / max(float(img.max()), 1e-6)


def _shift(img: np.ndarray, d: np.ndarray) -> np.ndarray:
    m = np.float32([[1, 0, d[0]], [0, 1, d[1]]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def render_example(rng: np.random.Generator, cfg: MagnetConfig) -> dict[str, np.ndarray | float]:
    """One training example: frames A, B, C, Y, M (patch×patch×3 in [0, 1]) and its α."""
    size, margin = cfg.patch, 12
    full = size + 2 * margin
    bg, fg = texture(rng, full), texture(rng, full)
    yy, xx = np.mgrid[0:full, 0:full].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7, 2) * full
    ax, ay = rng.uniform(0.15, 0.35, 2) * full
    theta = rng.uniform(0, np.pi)
    xr = (xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)
    yr = -(xx - cx) * np.sin(theta) + (yy - cy) * np.cos(theta)
    mask = np.clip((1.0 - np.sqrt((xr / ax) ** 2 + (yr / ay) ** 2)) * 8.0, 0, 1).astype(np.float32)[..., None]
    alpha = float(rng.uniform(*cfg.alpha_range))
    d_bg, d_fg = (rng.uniform(-1, 1, 2) * cfg.max_motion for _ in range(2))
    cap = cfg.max_magnified / max(alpha * max(np.abs(d_bg).max(), np.abs(d_fg).max()), 1e-6)
    if cap < 1:
        d_bg, d_fg = d_bg * cap, d_fg * cap

    def frame(scale: float) -> np.ndarray:
        m = _shift(mask, scale * d_fg)[..., None] if scale else mask
        f = _shift(fg, scale * d_fg) if scale else fg
        b = _shift(bg, scale * d_bg) if scale else bg
        return np.clip(m * f + (1 - m) * b, 0, 1)[margin:-margin, margin:-margin]  # bicubic overshoot clipped

    a, b, y = frame(0.0), frame(1.0), frame(alpha)
    gain = rng.uniform(0.7, 1.3, 3).astype(np.float32)
    offset = rng.uniform(-0.1, 0.1, 3).astype(np.float32)
    c, m = np.clip(b * gain + offset, 0, 1), np.clip(y * gain + offset, 0, 1)

    def noisy(x: np.ndarray) -> np.ndarray:
        return np.clip(x + rng.normal(0, 1, x.shape).astype(np.float32) * cfg.noise * np.sqrt(x), 0, 1)

    return {"A": noisy(a), "B": noisy(b), "C": noisy(c), "Y": y, "M": m, "alpha": alpha}


def batch_tensors(examples: list[dict], device: torch.device) -> dict[str, torch.Tensor]:
    """Stack examples into B×3×H×W tensors in [−1, 1] and α as B×1×1×1."""
    out = {k: torch.from_numpy(np.stack([e[k] for e in examples])).permute(0, 3, 1, 2).to(device) * 2 - 1
           for k in ("A", "B", "C", "Y", "M")}
    out["alpha"] = torch.tensor([e["alpha"] for e in examples], dtype=torch.float32, device=device).view(-1, 1, 1, 1)
    return out


def training_loss(model: MagNet, t: dict[str, torch.Tensor], reg_weight: float) -> torch.Tensor:
    _, m_a = model.encoder(t["A"])
    t_b, m_b = model.encoder(t["B"])
    t_c, m_c = model.encoder(t["C"])
    t_m, _ = model.encoder(t["M"])
    y_hat = model.decoder(t_b, model.manipulator(m_a, m_b, t["alpha"]))
    return F.l1_loss(y_hat, t["Y"]) + reg_weight * (F.l1_loss(t_c, t_m) + F.l1_loss(m_b, m_c))


def train(cfg: MagnetConfig, *, progress: bool = True) -> tuple[MagNet, list[float], float]:
    """Train a fresh MagNet; returns it, the per-iteration losses and the wall time in seconds."""
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, 1])
    model = MagNet().to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
    losses = []
    t0 = time.perf_counter()
    bar = Progress(cfg.iterations, desc="train MagNet", unit="iteration", enabled=progress)
    for _ in range(cfg.iterations):
        t = batch_tensors([render_example(rng, cfg) for _ in range(cfg.batch)], device)
        loss = training_loss(model, t, cfg.reg_weight)
        check_finite(loss, f"MagNet training loss at iteration {len(losses) + 1}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        bar.update(1, loss=losses[-1])
    bar.close()
    return model.eval(), losses, time.perf_counter() - t0


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of frames in [−1, 1] (x clipped to that range first)."""
    mse = ((x.clamp(-1, 1) - y) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


@torch.no_grad()
def evaluate_psnr(model: MagNet, cfg: MagnetConfig) -> dict[str, float]:
    """Mean PSNR on ``eval_pairs`` held-out generated pairs (a seed stream training never draws from)."""
    device = next(model.parameters()).device
    rng = np.random.default_rng([cfg.seed, 2])
    scores: dict[str, list[float]] = {"magnet": [], "linear": [], "none": []}
    for start in range(0, cfg.eval_pairs, cfg.batch):
        n = min(cfg.batch, cfg.eval_pairs - start)
        t = batch_tensors([render_example(rng, cfg) for _ in range(n)], device)
        scores["magnet"] += psnr(model(t["A"], t["B"], t["alpha"]), t["Y"]).tolist()
        scores["linear"] += psnr(t["B"] + (t["alpha"] - 1) * (t["B"] - t["A"]), t["Y"]).tolist()
        scores["none"] += psnr(t["B"], t["Y"]).tolist()
    out = {k: float(np.mean(v)) for k, v in scores.items()}
    check_finite(out, "MagNet PSNR on held-out pairs")
    return out

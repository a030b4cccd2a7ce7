"""Training MagNet without Oh et al.'s datasets: their recipe on procedurally generated pairs.

Each example (Oh et al., ECCV 2018, Sec. 3.2) is rendered here:
* a textured foreground shape (random ellipse, soft edge) over a textured background, each layer moving by its
  own small sub-pixel translation from frame A to frame B (``motion``: its length log-uniform from
  max_motion/20 to max_motion, or ``uniform`` per axis). Textures (``textures``): ``photos`` = random crops
  of the non-face photographs scikit-image ships (:data:`PHOTOS`; Oh et al. use COCO backgrounds and VOC
  objects), one in four multi-octave colour noise; ``noise`` = noise only (the earlier recipe);
* the ground-truth magnified frame Y renders the same layers displaced by α·d (α uniform in
  ``alpha_range``, α·|d| capped at ``max_magnified`` px); all frames rendered with bicubic interpolation;
* C and M are B and Y under one random colour perturbation (per-channel gain and offset);
* shot noise (σ·sqrt(intensity)) is added to the inputs A, B, C, then (``quantize``) they are rounded to 8-bit
  levels, as Oh et al. model quantization: the frames MagNet magnifies here are uint8.

Loss: ``L1(Ŷ, Y) + λ·(L1(texture(C), texture(M)) + L1(shape(B), shape(C)))`` — C and M share colours, so
their textures should agree; B and C share shape, so their shape representations should agree. Adam, with
``lr_schedule: cosine`` a linear warm-up over the first 2 % of iterations then a cosine decay to lr / 20.

:func:`evaluate_psnr` compares, on held-out generated pairs, the network against two-frame linear
(Eulerian) magnification ``B + (α − 1)(B − A)`` and against no magnification (``B``).
"""
from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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
    textures: str = "photos"                              #: photos | noise (the layers' textures)
    quantize: bool = True                                 #: round the inputs A, B, C to 8-bit levels
    lr_schedule: str = "cosine"                           #: cosine (warm-up, decay to lr/20) | constant
    #: each layer's motion A -> B: ``uniform`` per axis in ±max_motion, or ``log_uniform`` length from
    #: max_motion/20 to max_motion in a random direction (sub-pixel facial motion is mostly tiny)
    motion: str = "log_uniform"

    def __post_init__(self) -> None:
        if self.patch % 4:
            raise ValueError("magnet.patch must be a multiple of 4")
        if self.textures not in TEXTURES:
            raise ValueError(f"magnet.textures must be one of {list(TEXTURES)}, not {self.textures!r}")
        if self.motion not in MOTIONS:
            raise ValueError(f"magnet.motion must be one of {list(MOTIONS)}, not {self.motion!r}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"magnet.lr_schedule must be one of {list(SCHEDULES)}, not {self.lr_schedule!r}")


TEXTURES = ("photos", "noise")
SCHEDULES = ("cosine", "constant")
MOTIONS = ("log_uniform", "uniform")
#: scikit-image's bundled photographs with no face in them (the demo's face, ``astronaut``, and matplotlib's
#: ``grace_hopper`` are left out, so magnification is never trained on the faces it is checked on)
PHOTOS = ("brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "color.png", "grass.png",
          "gravel.png", "horse.png", "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png",
          "retina.jpg", "rocket.jpg")


@functools.lru_cache(maxsize=1)
def photos() -> tuple[np.ndarray, ...]:
    """:data:`PHOTOS` as H×W×3 float32 RGB in [0, 1] (grey ones repeated over three channels)."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    out = []
    for name in PHOTOS:
        img = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"{folder / name}: scikit-image's sample photo is missing or unreadable")
        out.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)
    return tuple(out)


def photo_crop(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random square crop of one of :data:`PHOTOS` (side 30–100 % of the photo's shorter side, at least
    ``size``), resized to size×size×3 float32 in [0, 1], mirrored half the time."""
    img = photos()[int(rng.integers(len(PHOTOS)))]
    h, w = img.shape[:2]
    side = max(size, int(min(h, w) * rng.uniform(0.3, 1.0)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = cv2.resize(img[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop[:, ::-1]) if rng.uniform() < 0.5 else crop


def layer_texture(rng: np.random.Generator, size: int, textures: str) -> np.ndarray:
    """One layer's texture under ``magnet.textures``."""
    if textures == "photos" and rng.uniform() >= 0.25:
        return photo_crop(rng, size)
    return texture(rng, size)


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
    bg, fg = layer_texture(rng, full, cfg.textures), layer_texture(rng, full, cfg.textures)
    yy, xx = np.mgrid[0:full, 0:full].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7, 2) * full
    ax, ay = rng.uniform(0.15, 0.35, 2) * full
    theta = rng.uniform(0, np.pi)
    xr = (xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)
    yr = -(xx - cx) * np.sin(theta) + (yy - cy) * np.cos(theta)
    mask = np.clip((1.0 - np.sqrt((xr / ax) ** 2 + (yr / ay) ** 2)) * 8.0, 0, 1).astype(np.float32)[..., None]
    alpha = float(rng.uniform(*cfg.alpha_range))
    if cfg.motion == "uniform":
        d_bg, d_fg = (rng.uniform(-1, 1, 2) * cfg.max_motion for _ in range(2))
    else:  # log_uniform: |d| from max_motion/20 to max_motion, as often tiny as large, in a random direction
        d_bg, d_fg = (np.exp(rng.uniform(np.log(cfg.max_motion / 20), np.log(cfg.max_motion)))
                      * np.array([np.cos(t), np.sin(t)]) for t in rng.uniform(0, 2 * np.pi, 2))
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
        x = np.clip(x + rng.normal(0, 1, x.shape).astype(np.float32) * cfg.noise * np.sqrt(x), 0, 1)
        return np.round(x * 255) / 255 if cfg.quantize else x

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


def learning_rate(cfg: MagnetConfig, iteration: int) -> float:
    """The learning rate of 0-based ``iteration`` under ``lr_schedule``."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    warmup = max(1, cfg.iterations // 50)
    if iteration < warmup:
        return cfg.lr * (iteration + 1) / warmup
    t = (iteration - warmup) / max(1, cfg.iterations - warmup)
    low = cfg.lr / 20
    return low + (cfg.lr - low) * 0.5 * (1 + math.cos(math.pi * t))


def train(cfg: MagnetConfig, *, progress: bool = True,
          on_iteration: Callable[[int, MagNet], None] | None = None) -> tuple[MagNet, list[float], float]:
    """Train a fresh MagNet; returns it, the per-iteration losses and the wall time in seconds.
    ``on_iteration(done, model)`` is called after each step (for monitoring; it must not draw from torch's
    random generator, and it does not change the weights)."""
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, 1])
    model = MagNet().to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
    losses = []
    t0 = time.perf_counter()
    bar = Progress(cfg.iterations, desc="train MagNet", unit="iteration", enabled=progress)
    for it in range(cfg.iterations):
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, it)
        t = batch_tensors([render_example(rng, cfg) for _ in range(cfg.batch)], device)
        loss = training_loss(model, t, cfg.reg_weight)
        check_finite(loss, f"MagNet training loss at iteration {len(losses) + 1}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        bar.update(1, loss=losses[-1])
        if on_iteration is not None:
            on_iteration(it + 1, model)
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


#: The held-out protocol every MagNet is scored on (trained here or the community checkpoint), whatever recipe
#: trained it: 64-px generated pairs with photo textures, motion up to 1 px, factors 2–8 (magnified motion up
#: to 8 px), shot noise and 8-bit inputs, from a seed stream training never draws from.
EVAL_PROTOCOL = MagnetConfig(patch=64, alpha_range=(2.0, 8.0), max_motion=1.0, max_magnified=8.0, noise=0.01,
                             textures="photos", quantize=True, motion="uniform", batch=8)


@torch.no_grad()
def evaluate_quality(model: MagNet, *, pairs: int = 64, seed: int = 0) -> dict[str, dict[str, float]]:
    """MagNet on ``pairs`` held-out pairs of :data:`EVAL_PROTOCOL`, mean PSNR (dB) against the generated truth:

    * ``reconstruction``: α = 1, the output against the clean B (``none``: the noisy 8-bit B itself, which no
      denoising magnifier is expected to reach);
    * ``magnification``: α from the protocol's range, against the magnified truth Y; ``none`` is the
      unmagnified B, ``linear`` two-frame Eulerian magnification; ``gain_db`` = magnet − none.
    """
    out: dict[str, dict[str, float]] = {}
    for part, alphas in (("reconstruction", (1.0, 1.0)), ("magnification", EVAL_PROTOCOL.alpha_range)):
        cfg = MagnetConfig(**{**EVAL_PROTOCOL.__dict__, "alpha_range": alphas, "eval_pairs": pairs, "seed": seed})
        scores = evaluate_psnr(model, cfg)
        if part == "reconstruction":
            scores.pop("linear")  # at α = 1 it is B itself, as is "none": the noisy 8-bit input, a reference only
        else:
            scores["gain_db"] = scores["magnet"] - scores["none"]
        out[part] = scores
    return out

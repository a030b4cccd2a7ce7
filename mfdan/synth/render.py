"""A clip's frames: the identity's face window re-sampled per frame with the expression (its AUs' field, weighted
by the onset → apex → offset profile), small head jitter, and, in the hard set, the confounders of real
recordings (:class:`ClipNuisance`: a blink, head drift and roll); then Gaussian sensor noise over the whole
frame (:func:`with_sensor_noise`, shared with the long-video generator)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mfdan.synth import exact
from mfdan.synth.action_units import motion_field, temporal_profile
from mfdan.synth.config import SynthConfig, seeded_rng
from mfdan.synth.face import Identity
from mfdan.synth.plan import ClipPlan


@dataclass(frozen=True)
class ClipNuisance:
    """The confounders drawn for one clip (``blink_rate``, ``drift``, ``roll``), per frame t = 0..n−1.

    * blink: AU45 at ``blink_amplitude`` px times ``blink[t]``, a cos² pulse 2–5 frames wide centred anywhere
      in the clip (it may cover the onset or the apex);
    * head: a rigid motion about the face centre, from none at the onset (where alignment is estimated) to a
      translation ``shift`` (px) and a roll ``angle`` (degrees) at the offset, growing linearly.
    """

    blink: np.ndarray               #: (n,) weight of the blink field per frame (all 0: no blink)
    blink_amplitude: float          #: px
    shift: tuple[float, float]      #: head translation at the offset (dx, dy), px
    angle: float                    #: head roll at the offset, degrees

    def head(self, t: int, n: int) -> tuple[float, float, float]:
        """(dx, dy, degrees) of the head at frame t."""
        s = t / (n - 1)
        return self.shift[0] * s, self.shift[1] * s, self.angle * s

    def head_source(self, t: int, n: int, gx: np.ndarray, gy: np.ndarray,
                    centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Where the content of each pixel (gx, gy) comes from at frame t: the inverse of the rigid head motion
        about the face ``centre`` (the pixels themselves while the head has not moved)."""
        hx, hy, deg = self.head(t, n)
        if not (hx or hy or deg):
            return gx, gy
        cx, cy = centre
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        qx, qy = gx - (cx + hx), gy - (cy + hy)
        return c * qx + s * qy + cx, c * qy - s * qx + cy


def clip_nuisance(plan: ClipPlan, cfg: SynthConfig, n: int, face: float) -> ClipNuisance | None:
    """The clip's confounders, from their own seed (so switching them on leaves every other draw as it was);
    None when the config has none."""
    if cfg.blink_rate == 0 and cfg.drift == 0 and cfg.roll == 0:
        return None
    rng = seeded_rng(cfg, plan.layout, plan.subject, plan.sample, "confounders")
    blink = np.zeros(n)
    has_blink, centre, half = rng.uniform() < cfg.blink_rate, rng.uniform(0, n - 1), rng.uniform(1.0, 2.5)
    amp = float(rng.uniform(*cfg.blink_amplitude))
    if has_blink:
        blink = np.array([math.cos(0.5 * math.pi * (t - centre) / half) ** 2 if abs(t - centre) < half else 0.0
                          for t in range(n)])
    phi, size = rng.uniform(0, 2 * math.pi), cfg.drift * face * rng.uniform()
    angle = float(rng.uniform(-cfg.roll, cfg.roll))
    return ClipNuisance(blink=blink, blink_amplitude=amp, shift=(size * math.cos(phi), size * math.sin(phi)),
                        angle=angle)


def with_sensor_noise(img: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """``img`` (float32, modified in place) plus Gaussian noise of std ``noise`` grey levels, rounded to uint8.
    Float32 and element-wise, so the same bits on every CPU."""
    draw = rng.standard_normal(size=img.shape, dtype=np.float32)
    draw *= np.float32(noise)
    img += draw
    return np.clip(img, 0, 255).round().astype(np.uint8)


def render_clip(identity: Identity, plan: ClipPlan, cfg: SynthConfig) -> list[np.ndarray]:
    """The clip's frames (H×W×3 RGB, or H×W grey, uint8), onset to offset: the face window re-sampled
    with the expression and head jitter (and, in the hard set, a blink and head drift and roll:
    :func:`clip_nuisance`), over the identity's static frame, plus sensor noise everywhere.
    The window is sampled in float64; adding the noise and rounding run in float32 over the whole frame
    (element-wise, so still the same bits on every CPU)."""
    rng = seeded_rng(cfg, plan.layout, plan.subject, plan.sample, "render")
    x0, y0, x1, y1 = identity.geometry.window()
    n = plan.offset - plan.onset + 1
    amp = rng.uniform(*cfg.amplitude)
    unit = motion_field(identity.points - [x0, y0], plan.motion, x1 - x0, y1 - y0, plan.weights)  # (2, wh, ww)
    weights = temporal_profile(n, plan.apex - plan.onset)
    gx, gy = identity.geometry.window_grid()
    still = identity.image.astype(np.float32)
    nuisance = clip_nuisance(plan, cfg, n, identity.geometry.face)
    blink_unit = None
    if nuisance is not None and nuisance.blink.any():
        blink_unit = motion_field(identity.points - [x0, y0], ("AU45",), x1 - x0, y1 - y0)  # (2, wh, ww)
    frames = []
    for t, w in enumerate(weights):
        jx, jy = rng.normal(0, cfg.jitter, size=2)
        d = (amp * w) * unit
        sx, sy = gx, gy  # where each window pixel's content comes from before the expression
        if nuisance is not None:
            if blink_unit is not None and nuisance.blink[t] > 0:
                d = d + (nuisance.blink_amplitude * nuisance.blink[t]) * blink_unit
            sx, sy = nuisance.head_source(t, n, gx, gy, identity.geometry.centre)
        img = still.copy()
        # backward map: content at p moves to p + d (first order, d is small and smooth)
        img[y0:y1, x0:x1] = exact.sample_cubic(identity.image, sx - d[0] - jx, sy - d[1] - jy)
        frames.append(with_sensor_noise(img, rng, cfg.noise))
    return frames

"""Does MagNet magnify? The bar every MagNet must pass, on generated pairs with a known truth and on the clips
themselves, where none exists, and the figure that shows it.

On generated pairs (:data:`SYNTHETIC_BAR`, scored by :func:`mfdan.magnify.magnet_training.evaluate_quality`):
the output at α = 1 must reproduce the frame, and at known α it must be closer to the magnified truth than the
unmagnified frame is.

On the clips: magnifying the onset→apex motion by α should add to the apex a change that is the true
onset→apex change continued: the same places, the same direction, (α − 1) times its size (two-frame Eulerian
magnification adds exactly ``(α − 1)(apex − onset)``). A learned magnifier also redraws the face, imperfectly,
so its motion is read off the difference between its outputs at α and at α = 1 (both decoded from the same
encoding), and its redrawing off the output at α = 1. Per clip:

* ``motion_r``: Pearson correlation over pixels (grey levels) of M(α) − M(1) with apex − onset;
* ``motion_size``: mean |M(α) − M(1)| / ((α − 1) · mean |apex − onset|); 1 = the expected size;
* ``flow_cosine``: Farnebäck flow apex→M(α) against onset→apex where the true motion is largest (its top
  decile), as the cosine of the two flow fields there taken as vectors — 1 when the added motion continues the
  true one everywhere it is large;
* ``reconstruction_db``: PSNR of M(1) against the apex: the face kept (99 for linear and none, exact there);
* ``pixel_r`` and ``size_ratio``: the same two as motion_r and motion_size on M(α) − apex, redrawing included
  (diagnostics, not in the bar: on the blur this bar was written against, issue 48 measured r −0.05 and 14.5×).

:data:`BAR` says what every magnifier must reach (medians over clips); :func:`sample_row` and :func:`figure` draw
onset | apex | magnified at two factors | the true change | the motion added | everything changed, side by side.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from mfdan.core.pictures import CAPTION, put_text


@dataclass(frozen=True)
class SyntheticBar:
    """Held-out generated pairs (:data:`mfdan.magnify.magnet_training.EVAL_PROTOCOL`), mean PSNR."""

    reconstruction_db: float = 28.0   #: at α = 1 against the clean frame, at least
    gain_db: float = 3.0              #: at α 2–8, PSNR above the unmagnified frame's, at least


SYNTHETIC_BAR = SyntheticBar()


def synthetic_failures(scores: dict[str, dict[str, float]], bar: SyntheticBar = SYNTHETIC_BAR) -> list[str]:
    """What a MagNet's held-out scores (``evaluate_quality``) miss of the bar; empty = passes."""
    out = []
    if scores["reconstruction"]["magnet"] < bar.reconstruction_db:
        out.append(f"reconstruction at alpha 1: {scores['reconstruction']['magnet']:.2f} dB < {bar.reconstruction_db} dB")
    if scores["magnification"]["gain_db"] < bar.gain_db:
        out.append(f"magnification gain over the unmagnified frame: {scores['magnification']['gain_db']:+.2f} dB "
                   f"< +{bar.gain_db} dB")
    return out


@dataclass(frozen=True)
class ClipBar:
    """Medians over a set's clips that a magnifier must reach (docs/magnet.md says how they were chosen)."""

    motion_r: float = 0.5             #: correlation of the factor's change with the true change, at least
    flow_cosine: float = 0.5          #: direction agreement where the face moves most, at least
    motion_size: tuple[float, float] = (0.25, 4.0)  #: the factor's change over (α − 1) × true change, within
    reconstruction_db: float = 25.0   #: M(1) against the apex, at least


BAR = ClipBar()


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)


def farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense Farnebäck flow between two grey frames (float, 0–255) -> H×W×2 px. Window 15: with smaller windows
    Farnebäck reports up to 0.1 px of motion between two identical 64-px faces, as much as the motion measured."""
    to8 = (lambda x: np.clip(np.round(x), 0, 255).astype(np.uint8))
    return cv2.calcOpticalFlowFarneback(to8(a), to8(b), None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                        poly_n=5, poly_sigma=1.1, flags=0)


def _grey_corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0


def clip_agreement(onset: np.ndarray, apex: np.ndarray, magnified: np.ndarray, alpha: float,
                   reconstructed: np.ndarray | None = None) -> dict[str, float]:
    """One clip's measures (uint8 H×W×3 frames; α > 1; ``reconstructed`` = the magnifier at α = 1, ``None`` for
    magnifiers that return the apex itself there: linear and none). Flow is compared inside a border of a tenth
    of the side (Farnebäck is unreliable at the edges)."""
    if alpha <= 1:
        raise ValueError(f"the check needs a factor above 1, got {alpha}")
    base = apex if reconstructed is None else reconstructed
    o, a, m, r = _grey(onset), _grey(apex), _grey(magnified), _grey(base)
    true = a - o
    expected = max((alpha - 1) * float(np.abs(true).mean()), 1e-6)
    mse = float(((base.astype(np.float64) - apex) ** 2).mean())
    b = max(1, o.shape[0] // 10)
    f_true, f_added = farneback(o, a)[b:-b, b:-b], farneback(a, m)[b:-b, b:-b]
    length = np.linalg.norm(f_true, axis=-1)
    moving = length >= np.quantile(length, 0.9)
    ft, fa = f_true[moving].ravel(), f_added[moving].ravel()
    norms = float(np.linalg.norm(ft) * np.linalg.norm(fa))
    return {"motion_r": _grey_corr(m - r, true), "motion_size": float(np.abs(m - r).mean() / expected),
            "flow_cosine": float(ft @ fa / norms) if norms > 0 else 0.0,
            "reconstruction_db": min(99.0, 10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else 99.0,
            "pixel_r": _grey_corr(m - a, true), "size_ratio": float(np.abs(m - a).mean() / expected)}


MEASURES = ("motion_r", "motion_size", "flow_cosine", "reconstruction_db", "pixel_r", "size_ratio")


def summarise(per_clip: list[dict[str, float]], bar: ClipBar = BAR) -> dict:
    """Medians (and quartiles) over clips, and which part of the bar they miss (``failures``, empty = passes)."""
    out: dict = {"clips": len(per_clip)}
    for key in MEASURES:
        v = np.array([c[key] for c in per_clip], np.float64)
        out[key] = {"median": float(np.median(v)), "q25": float(np.quantile(v, 0.25)),
                    "q75": float(np.quantile(v, 0.75))}
    med = {k: out[k]["median"] for k in MEASURES}
    failures = []
    for key in ("motion_r", "flow_cosine", "reconstruction_db"):
        if med[key] < getattr(bar, key):
            failures.append(f"{key} median {med[key]:.3f} < {getattr(bar, key)}")
    lo, hi = bar.motion_size
    if not lo <= med["motion_size"] <= hi:
        failures.append(f"motion_size median {med['motion_size']:.3f} outside [{lo}, {hi}]")
    out["bar"] = asdict(bar)
    out["failures"] = failures
    out["passes"] = not failures
    return out


DIFF_GAIN = 8.0   #: the figure's difference columns show grey levels × 8
FIGURE_PARTS = ("onset", "apex", "magnified a={a1}", "magnified a={a2}", "|apex-onset| x{g}",
                "|M(a)-M(1)|/(a-1) x{g}", "|M(a)-apex| x{g}")


def difference_picture(a: np.ndarray, b: np.ndarray, gain: float) -> np.ndarray:
    """|a − b| in grey levels × ``gain`` as an RGB picture (white = large), clipped at 255."""
    d = np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=-1) * gain
    g = np.clip(np.round(d), 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


def sample_row(onset: np.ndarray, apex: np.ndarray, low: np.ndarray, high: np.ndarray, caption: str, *,
               alpha: float, gain: float, base: np.ndarray | None = None, tile: int = 128) -> np.ndarray:
    """One clip under a caption line: onset | apex | magnified at the two factors (``high`` at ``alpha``) |
    the true change | the motion the magnifier added, per unit of factor, |M(α) − M(1)| / (α − 1) (``base`` =
    M(1); ``None``: the apex, as for linear and none) — where it magnifies, the same picture as the true change
    | everything it changed, |M(α) − apex|, its redrawing of the face included. Differences × ``gain``."""
    base = apex if base is None else base
    parts = [onset, apex, low, high, difference_picture(apex, onset, gain),
             difference_picture(high, base, gain / max(alpha - 1, 1e-6)), difference_picture(high, apex, gain)]
    row = np.concatenate([cv2.resize(p, (tile, tile), interpolation=cv2.INTER_AREA if p.shape[0] > tile
                                     else cv2.INTER_NEAREST) for p in parts], axis=1)
    panel = np.zeros((CAPTION + tile, row.shape[1], 3), dtype=np.uint8)
    panel[CAPTION:] = row
    put_text(panel, caption, 3, CAPTION - 4)
    return panel


def figure(rows: list[np.ndarray], title: str, *, factors: tuple[float, float], gain: float) -> np.ndarray:
    """Clip rows stacked under a title line and a header naming the columns."""
    width = rows[0].shape[1]
    tile = width // len(FIGURE_PARTS)
    head = np.zeros((2 * CAPTION + 4, width, 3), dtype=np.uint8)
    put_text(head, title, 3, CAPTION - 2, (255, 255, 160))
    for k, name in enumerate(FIGURE_PARTS):
        label = name.format(a1=f"{factors[0]:g}", a2=f"{factors[1]:g}", g=f"{gain:g}")
        put_text(head, label, k * tile + 3, 2 * CAPTION, (200, 200, 200))
    return np.concatenate([head, *rows], axis=0)

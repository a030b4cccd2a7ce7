"""The generated subjects: a real face photo (:func:`face_photo`) made into one subject's identity
(:func:`make_identity`) in a layout's frame: random affine placement (scale, aspect, roll, shift), a smooth
elastic warp of the face shape, skin tone (per-channel gain and gamma) and illumination (brightness and a
directional gradient), all drawn from the subject's seed. All arithmetic is :mod:`mfdan.synth.exact` (float64,
the same bits on every CPU)."""
from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from mfdan.preprocess import landmarks as lm
from mfdan.synth import exact
from mfdan.synth.config import FACE_PHOTOS, SynthConfig, seeded_rng
from mfdan.synth.geometry import Geometry, geometry

LANDMARK_SPAN = 0.7   #: the 68-landmark span as a fraction of the face area's side
BACKGROUND_STEP = 4  #: outside the face window the identity frame is rendered on a grid this much coarser


@dataclass(frozen=True)
class FacePhoto:
    image: np.ndarray               #: RGB uint8
    centre: tuple[float, float]     #: the face area's centre (x, y): the middle of the 68-landmark box, px
    side: float                     #: the face area's side: the landmark span / LANDMARK_SPAN, px


@cache
def base_face() -> np.ndarray:
    """scikit-image's astronaut photo (RGB uint8, 512×512), the demo's face."""
    return face_photo("astronaut").image


@cache
def face_photo(name: str) -> FacePhoto:
    """A real face photo that ships in a package: scikit-image's ``astronaut`` (Eileen Collins; the demo's)
    or matplotlib's ``grace_hopper`` sample image (kept for checks the demo was not tuned on), with its face
    area measured by dlib."""
    if name == "astronaut":  # skimage.data.astronaut() is this file; reading it directly skips importing skimage
        img = _read_rgb(_package_file("skimage", "data", "astronaut.png"))
    elif name == "grace_hopper":
        img = _read_rgb(_package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"))
    else:
        raise ValueError(f"unknown face photo {name!r}; expected one of {FACE_PHOTOS}")
    found = lm.detect_face(img, upsample=1)
    if found is None:
        raise RuntimeError(f"synth: dlib finds no face in the {name} photo")
    pts = lm.landmarks(img, found[0])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return FacePhoto(image=img, centre=(float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2),
                     side=float(max(hi - lo)) / LANDMARK_SPAN)


def _package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"synth: the {package} package (which ships the face photo) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.is_file():
        raise RuntimeError(f"synth: {path} is missing from the installed {package}")
    return path


def _read_rgb(path: Path) -> np.ndarray:
    """An 8-bit colour image file as RGB uint8."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise RuntimeError(f"synth: {path}: not a readable image")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of float RGB (H×W×3 → H×W), as separate element-wise operations (exact)."""
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


@dataclass
class Identity:
    image: np.ndarray        # the full frame before noise: H×W×3 float64 RGB, or H×W grey, 0..255
    points: np.ndarray       # 68×2 landmarks, frame coordinates
    geometry: Geometry


@dataclass(frozen=True)
class _Appearance:
    """One draw of a subject's look: where the photo goes, how its shape is warped, its tone and lighting."""

    place: np.ndarray        #: 2×3 affine map, photo -> frame pixels
    warp: np.ndarray         #: (2, rows, cols) elastic displacement (x, y) at coarse knots over the frame, px
    gain: np.ndarray         #: per-channel skin-tone gain
    gamma: float
    theta: float             #: direction of the lighting ramp, radians
    level: float             #: brightness
    slope: float             #: the ramp's strength across the face box

    def tone(self, rgb: np.ndarray, gx: np.ndarray, gy: np.ndarray, geo: Geometry) -> np.ndarray:
        """Skin tone, gamma and the lighting ramp at frame coordinates (gx, gy); grey for SAMM."""
        out = 255.0 * exact.power(np.clip(rgb * self.gain, 0, 255) / 255.0, self.gamma)
        ramp = ((gx - geo.centre[0]) * math.cos(self.theta) + (gy - geo.centre[1]) * math.sin(self.theta)) / geo.face
        out = out * (self.level * (1 + self.slope * ramp))[..., None]
        return np.clip(grey_of(out) if geo.grey else out, 0, 255)


def _draw_appearance(rng: np.random.Generator, photo: FacePhoto, geo: Geometry) -> _Appearance:
    """The look's random draws, in a fixed order (the bytes depend on it)."""
    k, f = photo.side / 134.0, geo.face  # k: the offsets below were set on the astronaut's 134 px face
    w, h = geo.frame
    # placement: map the photo's face area to the frame's
    scale = f / photo.side * rng.uniform(0.92, 1.08)
    aspect = rng.uniform(0.94, 1.06)
    angle = math.radians(rng.uniform(-4, 4))
    cx, cy = photo.centre[0] + k * rng.uniform(-6, 6), photo.centre[1] + k * rng.uniform(-6, 6)
    cos, sin = math.cos(angle), math.sin(angle)
    a = [[scale * aspect * cos, -scale * sin], [scale * aspect * sin, scale * cos]]
    t = [geo.centre[0] - (a[0][0] * cx + a[0][1] * cy), geo.centre[1] - (a[1][0] * cx + a[1][1] * cy)]
    place = np.array([[*a[0], t[0]], [*a[1], t[1]]])
    # face shape: a smooth elastic warp, up to ~2.5 % of the face, on a grid of ~4 knots per face side
    warp = rng.normal(0, 0.012 * f, size=(2, max(2, round(4 * h / f)), max(2, round(4 * w / f))))
    # skin tone and illumination (the ramp spans the face box)
    gain = rng.uniform([0.85, 0.82, 0.78], [1.10, 1.05, 1.05])
    gamma = rng.uniform(0.85, 1.15)
    theta = rng.uniform(0, 2 * math.pi)
    level, slope = rng.uniform(0.85, 1.1), rng.uniform(0, 0.35)
    return _Appearance(place=place, warp=warp, gain=gain, gamma=gamma, theta=theta, level=level, slope=slope)


def _face_window(src: np.ndarray, look: _Appearance, geo: Geometry) -> np.ndarray:
    """The face window at full resolution: the elastic displacement over the window, then the photo placed over
    the window grown by the largest displacement (so no tap reaches past what was placed), toned."""
    w, h = geo.frame
    x0, y0, x1, y1 = geo.window()
    gx, gy = geo.window_grid()
    dx, dy = (exact.resize(c, (w, h), (x0, y0, x1, y1)) for c in look.warp)
    m = int(math.ceil(max(float(np.abs(dx).max()), float(np.abs(dy).max())))) + 3
    ex0, ey0, ex1, ey1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    shifted = look.place - np.array([[0, 0, ex0], [0, 0, ey0]])  # photo -> grown-window pixels
    placed = exact.warp_affine(src, shifted, (ex1 - ex0, ey1 - ey0))
    return look.tone(exact.sample_cubic(placed, gx - dx - ex0, gy - dy - ey0), gx, gy, geo)


def _background(src: np.ndarray, look: _Appearance, geo: Geometry) -> np.ndarray:
    """The whole frame without the elastic warp, one pixel per BACKGROUND_STEP × BACKGROUND_STEP cell (at the
    cell's centre), repeated."""
    w, h = geo.frame
    st = BACKGROUND_STEP
    bw, bh = -(-w // st), -(-h // st)
    centre = (st - 1) / 2
    coarse_place = (look.place - np.array([[0, 0, centre], [0, 0, centre]])) / st  # photo -> cell grid
    bx, by = exact.grid(bw, bh)
    back = look.tone(exact.warp_affine(src, coarse_place, (bw, bh)), bx * st + centre, by * st + centre, geo)
    return np.repeat(np.repeat(back, st, axis=0), st, axis=1)[:h, :w]


def make_identity(layout: str, subject: str, cfg: SynthConfig, face: str = "astronaut") -> Identity:
    """One subject's face (photo ``face``) in ``layout``'s frame geometry: placement, shape, skin tone and
    illumination drawn from the subject's seed, redrawn (up to 20 times) until dlib finds the face.

    Only the face window (:meth:`Geometry.window`), which every later stage crops from, is rendered at full
    resolution, elastic warp included. The rest of the frame (most of SAMM's 2040×1088) is the same photo,
    placement and lighting rendered every :data:`BACKGROUND_STEP` px and repeated: a plausible static
    background at a sixteenth of the cost."""
    photo = face_photo(face)
    geo = geometry(layout, cfg, subject)
    x0, y0, x1, y1 = geo.window()
    for attempt in range(20):
        look = _draw_appearance(seeded_rng(cfg, layout, subject, "identity", str(attempt)), photo, geo)
        window = _face_window(photo.image, look, geo)
        u8 = window.round().astype(np.uint8)
        found = lm.detect_face(u8)
        if found is None:
            continue
        img = _background(photo.image, look, geo)
        img[y0:y1, x0:x1] = window
        return Identity(image=img, points=lm.landmarks(u8, found[0]) + [x0, y0], geometry=geo)
    raise RuntimeError(f"synth: no detectable identity for {layout}/{subject} in 20 draws ({geo})")

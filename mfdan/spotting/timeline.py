"""A PNG of one long recording: its score curve over time, the spotted intervals with their classes and,
when known, the ground truth, drawn with OpenCV (no plotting stack).

Layout, top to bottom: the curve (grey where there is no face), the threshold as a dashed line; a band of
spotted intervals (micro orange, macro blue, each labelled with its class); a band of true intervals (same
colours); the time axis in seconds."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from mfdan.spotting.peaks import Interval

COLOURS = {"micro": (0, 140, 255), "macro": (200, 110, 20)}  # BGR


def draw(curve: np.ndarray, fps: float, spotted: Sequence[Interval], truth: Sequence[Interval] = (), *,
         threshold: float | None = None, face: np.ndarray | None = None, title: str = "",
         width: int = 1200) -> np.ndarray:
    """The timeline as an H×W×3 uint8 BGR image."""
    n = curve.size
    h_plot, band, pad = 200, 34, 40
    height = pad + h_plot + 2 * band + 50
    img = np.full((height, width, 3), 255, np.uint8)
    x = lambda i: int(pad + (width - 2 * pad) * i / max(1, n - 1))  # noqa: E731
    finite = curve[np.isfinite(curve)]
    top = float(finite.max()) if finite.size else 1.0
    top = top if top > 0 else 1.0
    y = lambda v: int(pad + h_plot - h_plot * min(1.0, max(0.0, v / top)))  # noqa: E731
    cv2.rectangle(img, (pad, pad), (width - pad, pad + h_plot), (0, 0, 0), 1)
    if face is not None:
        for i in np.flatnonzero(~face):
            cv2.line(img, (x(i), pad + 1), (x(i), pad + h_plot - 1), (225, 225, 225), 1)
    pts = [(x(i), y(v)) for i, v in enumerate(curve) if np.isfinite(v)]
    if len(pts) > 1:
        cv2.polylines(img, [np.array(pts, np.int32)], False, (60, 60, 60), 1, cv2.LINE_AA)
    if threshold is not None and np.isfinite(threshold):
        for x0 in range(pad, width - pad, 12):
            cv2.line(img, (x0, y(threshold)), (min(x0 + 6, width - pad), y(threshold)), (0, 0, 200), 1)
    for row, (name, ivs) in enumerate((("spotted", spotted), ("truth", truth))):
        y0 = pad + h_plot + 6 + row * band
        cv2.putText(img, name, (2, y0 + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
        for iv in ivs:
            c = COLOURS.get(iv.kind, (0, 0, 0))
            cv2.rectangle(img, (x(iv.onset), y0), (max(x(iv.offset), x(iv.onset) + 2), y0 + band - 10), c, -1)
            if iv.label:
                cv2.putText(img, iv.label[:3], (x(iv.onset), y0 + band - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                            (0, 0, 0), 1, cv2.LINE_AA)
    axis = pad + h_plot + 2 * band + 20
    seconds = n / fps if fps else n
    step = max(1, int(round(seconds / 10)))
    for s in range(0, int(seconds) + 1, step):
        i = int(s * fps) if fps else s
        cv2.line(img, (x(i), axis - 6), (x(i), axis), (0, 0, 0), 1)
        cv2.putText(img, f"{s}s", (x(i) - 8, axis + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title + "   micro: orange, macro: blue; dashed: threshold", (pad, 24),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def write(path: str | Path, image: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError(f"{path}: PNG encoding failed")
    path.write_bytes(buf.tobytes())

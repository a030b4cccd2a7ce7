"""The project's figures as plain RGB arrays: a caption font and size, and PNG writing (no plotting library in the
pipeline's stages: OpenCV draws the text)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mfdan.core.errors import DatasetError
from mfdan.core.files import write_bytes

CAPTION = 16  # px of text above each panel row


def put_text(canvas: np.ndarray, text: str, x: int, y: int, colour=(255, 255, 255)) -> None:
    """``text`` at (x, y) (its baseline) on an RGB uint8 canvas, in the figures' small font."""
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.38, colour, 1, cv2.LINE_AA)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """An RGB uint8 picture as PNG, under a temporary name then renamed."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DatasetError(path, "PNG encoding failed")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, buf.tobytes())

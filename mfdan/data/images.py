"""Reading one frame file of a dataset: every stage that decodes frames goes through here."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mfdan.core.errors import DatasetError


def read_image(path: str | Path) -> np.ndarray:
    """An image file as H×W×3 uint8 RGB, or a :class:`DatasetError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "image file not found")
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise DatasetError(path, "cannot decode image (file is empty, truncated or not an image)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

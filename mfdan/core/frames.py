"""The project's one image convention: frames are stored as uint8 N×H×W×3 (RGB) and enter networks (MagNet,
MFDAN) as float N×3×H×W in [−1, 1]."""
from __future__ import annotations

import numpy as np
import torch


def to_unit(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 N×H×W×3 -> float N×3×H×W in [−1, 1] on ``device``, in PyTorch's default float type (float32;
    the engines' equivalence tests run in float64)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).to(torch.get_default_dtype()) / 127.5 - 1


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """float N×3×H×W in [−1, 1] (unclipped) -> uint8 N×H×W×3 (clipped, rounded)."""
    return ((frames.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

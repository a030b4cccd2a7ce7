"""What the baselines share: their input step (a resize of the cache's maps, in the model, never a second
preprocessing path) and the fields every baseline config has."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, S, S) -> (B, C, size, size) by area averaging (the cache is never smaller: the size check); the
    maps pass unchanged at size S."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="area")

"""Network layers shared by MFDAN and a baseline, so that neither imports the other.

Local response normalisation is written out (:class:`LocalResponseNorm2d`) rather than taken from
``torch.nn.LocalResponseNorm``, whose ``avg_pool3d`` backward has no deterministic CUDA kernel; the tests check
both agree. Used by MFDAN's SSSN flow encoder (:mod:`mfdan.model.flow_encoder`) and by SSSNet
(:mod:`mfdan.baselines.sssnet`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LocalResponseNorm2d(nn.Module):
    """b_c = a_c / (k + α/n · Σ_{c' ∈ window(c)} a_{c'}²)^β over ``size`` neighbouring channels (same
    definition and defaults as ``torch.nn.LocalResponseNorm``)."""

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        sq = F.pad(x * x, (0, 0, 0, 0, self.size // 2, (self.size - 1) // 2))  # (B, C+size-1, H, W)
        total = sum(sq[:, i:i + c] for i in range(self.size))
        return x / (self.k + self.alpha / self.size * total) ** self.beta

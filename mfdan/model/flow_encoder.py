"""The optical-flow encoder (MFDAN Sec. III-A, Fig. 3): an SSSN-style shallow network (Khor et al., ICIP
2019) — two modules of convolution, ReLU, max pooling and local response normalisation — then a fully
connected layer. It reads the (u, v, strain) map, average-pooled to ``input_size`` first (SSSN works on small
inputs; the pooling factor is a config field).

Local response normalisation is written out (:class:`LocalResponseNorm2d`) rather than taken from
``torch.nn.LocalResponseNorm``, whose ``avg_pool3d`` backward has no deterministic CUDA kernel; the tests
check both agree.
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


class OpticalFlowEncoder(nn.Module):
    def __init__(self, *, in_chans: int = 3, input_size: int = 56, channels: tuple[int, int] = (6, 16),
                 kernel: int = 5, out_dim: int = 256, lrn_size: int = 5, image_size: int = 224) -> None:
        super().__init__()
        if image_size % input_size or input_size % 4:
            raise ValueError(f"flow encoder input {input_size} must divide the image size {image_size} and be a "
                             "multiple of 4")
        self.pool = image_size // input_size
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, c1, kernel, padding=kernel // 2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            LocalResponseNorm2d(lrn_size),
            nn.Conv2d(c1, c2, kernel, padding=kernel // 2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            LocalResponseNorm2d(lrn_size),
        )
        self.fc = nn.Linear(c2 * (input_size // 4) ** 2, out_dim)
        self.act = nn.ReLU(inplace=True)

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, out_dim)"""
        if self.pool > 1:
            flow = F.avg_pool2d(flow, self.pool)
        return self.act(self.fc(self.features(flow).flatten(1)))

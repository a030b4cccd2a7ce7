"""The optical-flow encoder (MFDAN Sec. III-A: "we use the shallow network structure of SSSN"): SSSN (Khor et
al., ICIP 2019) is a shallow AlexNet — its first two convolution modules, 96 filters 11×11 stride 4, then 256
filters 5×5, each followed by ReLU, max-pooling and local response normalisation — then a fully connected
layer. It reads the (u, v, strain) map at full size by default; ``input_size`` below the image size average-
pools it first, and every width, kernel, stride and pooling is a config field (the CPU demo uses a narrow one).

Local response normalisation is :class:`mfdan.core.layers.LocalResponseNorm2d` (written out: see there), shared
with the SSSNet baseline.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mfdan.core.layers import LocalResponseNorm2d


def _conv_out(n: int, kernel: int, stride: int, padding: int = 0) -> int:
    return (n + 2 * padding - kernel) // stride + 1


class OpticalFlowEncoder(nn.Module):
    """SSSN's two convolution modules (conv → ReLU → max-pool → LRN, twice), then a fully connected layer.

    Defaults are SSSN's (AlexNet's first two modules): 96 filters 11×11 stride 4, then 256 filters 5×5
    (padding 2), max-pooling 3×3 stride 2 after each; on the full 224×224 (u, v, strain) map: 224 → 54 → 26
    → 26 → 12, so the FC layer reads 256·12·12 features.
    """

    def __init__(self, *, in_chans: int = 3, input_size: int = 224, channels: tuple[int, int] = (96, 256),
                 kernels: tuple[int, int] = (11, 5), strides: tuple[int, int] = (4, 1),
                 paddings: tuple[int, int] = (0, 2), pool: tuple[int, int] = (3, 2), out_dim: int = 256,
                 lrn_size: int = 5, image_size: int = 224) -> None:
        super().__init__()
        if image_size % input_size:
            raise ValueError(f"flow encoder input {input_size} must divide the image size {image_size}")
        self.pool = image_size // input_size  # average pooling of the flow map before the encoder (1 = none)
        (c1, c2), (k1, k2), (s1, s2), (p1, p2), (pk, ps) = channels, kernels, strides, paddings, pool
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, c1, k1, stride=s1, padding=p1), nn.ReLU(inplace=True), nn.MaxPool2d(pk, ps),
            LocalResponseNorm2d(lrn_size),
            nn.Conv2d(c1, c2, k2, stride=s2, padding=p2), nn.ReLU(inplace=True), nn.MaxPool2d(pk, ps),
            LocalResponseNorm2d(lrn_size),
        )
        side = input_size
        for k, s, p in ((k1, s1, p1), (k2, s2, p2)):
            side = _conv_out(_conv_out(side, k, s, p), pk, ps)
        if side < 1:
            raise ValueError(f"flow encoder input {input_size} is too small for kernels {kernels}, strides "
                             f"{strides} and pooling {pool}")
        self.fc = nn.Linear(c2 * side * side, out_dim)
        self.act = nn.ReLU(inplace=True)

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, out_dim)"""
        if self.pool > 1:
            flow = F.avg_pool2d(flow, self.pool)
        return self.act(self.fc(self.features(flow).flatten(1)))

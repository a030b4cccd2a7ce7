"""SSSNet: the single-stream shallow network SSSN of Khor, See, Liong, Phan, Lin, Dual-stream Shallow Networks for
Facial Micro-expression Recognition, ICIP 2019 — the network MFDAN takes its optical-flow encoder from.

SSSN is AlexNet cut after its second convolution module (authors' code, IcedDoggie/DSSN-MER, networks.py and
models.py): 96 filters 11×11 stride 4, ReLU, 3×3/2 max-pooling, local response normalisation; 256 filters 5×5
(padding 2, two groups as AlexNet's), ReLU, 3×3/2 max-pooling, LRN; then flatten, dropout 0.5 and one fully
connected layer to the classes. Input: the (u, v, strain) map stacked as three channels.
Deviations: the authors start from ImageNet AlexNet weights; nothing is downloaded here, so it trains from
scratch. Input 224 (our caches' paper size; AlexNet's is 227), so the last map is 12×12, not 13×13: 452,995
parameters for three classes (472,195 at 227). The recipe is not public: we use meb's for its SSSNet (SGD, lr
0.01, momentum 0.9, weight decay 1e-3, 200 epochs, batch 128; profiles/baseline-sssnet.yaml).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from torch import nn

from mfdan.baselines.common import resize
from mfdan.core.architectures import register
from mfdan.core.layers import LocalResponseNorm2d
from mfdan.core.params import RATE, AtLeast


@dataclass(frozen=True)
class SSSNetConfig:
    num_classes: Annotated[int, AtLeast(2)] = 3
    input_size: Annotated[int, AtLeast(35)] = 224      #: 35: the smallest map both modules leave a pixel of
    channels: Annotated[tuple[int, int], AtLeast(1)] = (96, 256)
    groups: Annotated[int, AtLeast(1)] = 2            #: of the second convolution (AlexNet's)
    dropout: Annotated[float, RATE] = 0.5

    def __post_init__(self) -> None:
        if self.channels[0] % self.groups or self.channels[1] % self.groups:
            raise ValueError(f"channels {list(self.channels)} must be divisible by groups {self.groups}")


def final_side(size: int) -> int:
    """Side of the map after conv1 (11, stride 4), max-pool (3, 2), conv2 (5, padding 2), max-pool (3, 2)."""
    return (((size - 11) // 4 + 1 - 3) // 2 + 1 - 3) // 2 + 1


@register("sssnet", title="SSSNet",
          citation="Khor, See, Liong, Phan, Lin, Dual-stream Shallow Networks for Facial Micro-expression "
                   "Recognition, ICIP 2019 (its single-stream network, SSSN)",
          config=SSSNetConfig, reads="(u, v, strain) stacked as three channels, resized to 224×224",
          deviations="trained from scratch (the authors start from ImageNet AlexNet); 224 input, not 227; recipe "
                     "meb's (SGD), the authors' is not public")
class SSSNet(nn.Module):
    inputs = ("flow",)

    def __init__(self, cfg: SSSNetConfig = SSSNetConfig()) -> None:
        super().__init__()
        self.config = cfg
        c1, c2 = cfg.channels
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 11, stride=4), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2), LocalResponseNorm2d(5),
            nn.Conv2d(c1, c2, 5, padding=2, groups=cfg.groups), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            LocalResponseNorm2d(5))
        self.cam_layer = nn.Identity()
        side = final_side(cfg.input_size)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(c2 * side * side, cfg.num_classes)

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        """flow (B, 3, S, S): u, v, strain -> (B, num_classes)"""
        x = self.cam_layer(self.features(resize(flow, self.config.input_size)))  # (B, 256, 12, 12) at 224
        return self.fc(self.dropout(x.flatten(1)))

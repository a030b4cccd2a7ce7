"""STSTNet: Shallow Triple Stream Three-dimensional CNN (Liong, Gan, See, Khor, Huang, FG 2019), the MEGC2019
baseline.

Input: the onset → apex (u, v, optical strain) map resized to 28×28×3. Three parallel streams each read all
three channels: a 3×3 convolution (padding 2) with 3, 5 and 8 filters, then ReLU, batch norm, 3×3 max-pooling
(stride 3, padding 1) and dropout 0.5; the 16 channels are concatenated, 2×2 average-pooled and classified by one
fully connected layer (400 → classes). 1,683 trainable parameters for three classes. Layer order and batch norm
as in the authors' PyTorch code (christy1206/STSTNet, main.py; tvaranka/meb has the same model). Recipe there:
Adam, lr 5e-5, batch 256, 800 epochs, cross-entropy, the last epoch (profiles/baseline-ststnet.yaml).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
from torch import nn

from mfdan.baselines.common import resize
from mfdan.core.architectures import register
from mfdan.core.params import RATE, AtLeast


@dataclass(frozen=True)
class STSTNetConfig:
    num_classes: Annotated[int, AtLeast(2)] = 3
    input_size: Annotated[int, AtLeast(4)] = 28          #: the flow map is resized to this (paper: 28)
    filters: Annotated[tuple[int, int, int], AtLeast(1)] = (3, 5, 8)   #: per stream
    dropout: Annotated[float, RATE] = 0.5


@register("ststnet", title="STSTNet",
          citation="Liong, Gan, See, Khor, Huang, Shallow Triple Stream Three-dimensional CNN (STSTNet) for "
                   "micro-expression recognition, FG 2019 (MEGC2019 baseline)",
          config=STSTNetConfig, reads="(u, v, strain) resized to 28×28",
          deviations="none in the network (the authors' PyTorch code, christy1206/STSTNet main.py)")
class STSTNet(nn.Module):
    inputs = ("flow",)

    def __init__(self, cfg: STSTNetConfig = STSTNetConfig()) -> None:
        super().__init__()
        self.config = cfg
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(3, n, 3, padding=2), nn.ReLU(inplace=True), nn.BatchNorm2d(n),
                          nn.MaxPool2d(3, stride=3, padding=1), nn.Dropout(cfg.dropout))
            for n in cfg.filters)
        self.cam_layer = nn.Identity()  # the concatenated streams: what Grad-CAM reads
        self.pool = nn.AvgPool2d(2, stride=2)
        side = ((cfg.input_size + 2 + 2 - 3) // 3 + 1) // 2   # conv (pad 2) -> max-pool (3, 3, pad 1) -> avg-pool 2
        self.fc = nn.Linear(sum(cfg.filters) * side * side, cfg.num_classes)

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        """flow (B, 3, S, S): u, v, strain -> (B, num_classes)"""
        x = resize(flow, self.config.input_size)                         # (B, 3, 28, 28)
        x = self.cam_layer(torch.cat([s(x) for s in self.streams], 1))   # (B, 16, 10, 10)
        return self.fc(self.pool(x).flatten(1))                          # (B, 16·5·5) -> (B, classes)

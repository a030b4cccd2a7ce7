"""OFF-ApexNet (Gan, Liong, Yau, Huang, Tan, Signal Processing: Image Communication 2019).

Input: the onset → apex flow, horizontal u and vertical v, each resized to 28×28, one stream each (no strain).
Each stream: 5×5 convolution with 6 filters, 2×2 max-pooling, 5×5 convolution with 16 filters, 2×2 max-pooling
(7×7×16); the two streams are concatenated (1,568) and classified by FC 1024 → FC 1024 → classes with dropout 0.5
after each hidden layer. 2,664,475 parameters for three classes. Layer widths as in the paper's table and the
Off-TANet reimplementation (ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet, models/off_apexnet.py); ReLU after
each convolution and hidden layer is our reading of the paper. Recipe: Adam, lr 1e-4, 3000 epochs, cross-entropy
(batch 64 as Off-TANet's; profiles/baseline-off_apexnet.yaml).
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
class OffApexNetConfig:
    num_classes: Annotated[int, AtLeast(2)] = 3
    input_size: Annotated[int, AtLeast(4)] = 28
    filters: Annotated[tuple[int, int], AtLeast(1)] = (6, 16)
    hidden: Annotated[int, AtLeast(1)] = 1024
    dropout: Annotated[float, RATE] = 0.5


def _stream(filters: tuple[int, int]) -> nn.Sequential:
    a, b = filters
    return nn.Sequential(nn.Conv2d(1, a, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                         nn.Conv2d(a, b, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2))


@register("off_apexnet", title="OFF-ApexNet",
          citation="Gan, Liong, Yau, Huang, Tan, OFF-ApexNet on micro-expression recognition system, "
                   "Signal Processing: Image Communication 2019",
          config=OffApexNetConfig, reads="(u, v) resized to 28×28, one stream each",
          deviations="ReLU after each convolution (our reading; the Off-TANet port has none); batch 64 is "
                     "Off-TANet's (the paper's batch size is not known to us)")
class OffApexNet(nn.Module):
    inputs = ("flow",)

    def __init__(self, cfg: OffApexNetConfig = OffApexNetConfig()) -> None:
        super().__init__()
        self.config = cfg
        self.u_stream, self.v_stream = _stream(cfg.filters), _stream(cfg.filters)
        self.cam_layer = nn.Identity()  # both streams' maps, stacked: what Grad-CAM reads
        side = cfg.input_size // 4
        self.head = nn.Sequential(
            nn.Linear(2 * cfg.filters[1] * side * side, cfg.hidden), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.num_classes))

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        """flow (B, 3, S, S): u, v (strain unused) -> (B, num_classes)"""
        x = resize(flow[:, :2], self.config.input_size)                                    # (B, 2, 28, 28)
        maps = torch.cat([self.u_stream(x[:, :1]), self.v_stream(x[:, 1:2])], 1)          # (B, 32, 7, 7)
        return self.head(self.cam_layer(maps).flatten(1))                                  # (B, classes)

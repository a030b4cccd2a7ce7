"""Dual-Inception (Zhou, Mao, Xue, Dual-Inception Network for Cross-Database Micro-Expression Recognition,
FG 2019).

Input: the onset → apex flow, u and v, each resized to 28×28, one stream each. A stream is two Inception
blocks, each four paths concatenated and 2×2 max-pooled: 1×1 → 5×5, 1×1 → 3×3, 3×3 max-pool → 1×1, and 1×1
(6 filters per path in the first block, 16 in the second: 28 → 14 → 7, 64 channels); the two streams are
concatenated (6,272) and classified by FC 1024 → classes. 6,449,867 parameters for three classes. The paper has
no public code: widths as the Off-TANet reimplementation (models/dual_inception.py), ReLU on every path
(GoogLeNet's, our choice). Recipe: not published; Off-TANet's Adam, lr 1e-3, 501 epochs, batch 64, cross-entropy
(profiles/baseline-dual_inception.yaml).
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
class DualInceptionConfig:
    num_classes: Annotated[int, AtLeast(2)] = 3
    input_size: Annotated[int, AtLeast(4)] = 28
    widths: Annotated[tuple[int, int], AtLeast(1)] = (6, 16)   #: filters per path in blocks 1 and 2
    hidden: Annotated[int, AtLeast(1)] = 1024
    dropout: Annotated[float, RATE] = 0.0                      #: before the classifier (not in the paper)


def _conv(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), nn.ReLU(inplace=True))


class InceptionBlock(nn.Module):
    """Four paths (1×1 → 5×5, 1×1 → 3×3, max-pool → 1×1, 1×1) concatenated, then 2×2 max-pooling."""

    def __init__(self, cin: int, width: int) -> None:
        super().__init__()
        self.paths = nn.ModuleList([
            nn.Sequential(_conv(cin, width, 1), _conv(width, width, 5)),
            nn.Sequential(_conv(cin, width, 1), _conv(width, width, 3)),
            nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _conv(cin, width, 1)),
            _conv(cin, width, 1),
        ])
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, cin, H, W) -> (B, 4·width, H/2, W/2)"""
        return self.pool(torch.cat([p(x) for p in self.paths], 1))


def _stream(widths: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(InceptionBlock(1, widths[0]), InceptionBlock(4 * widths[0], widths[1]))


@register("dual_inception", title="Dual-Inception",
          citation="Zhou, Mao, Xue, Dual-Inception Network for Cross-Database Micro-Expression Recognition, FG 2019",
          config=DualInceptionConfig, reads="u and v, each resized to 28×28, one Inception stream each",
          deviations="no public code: widths as the Off-TANet port, ReLU on every path; recipe Off-TANet's "
                     "(the paper's is not published)")
class DualInception(nn.Module):
    inputs = ("flow",)

    def __init__(self, cfg: DualInceptionConfig = DualInceptionConfig()) -> None:
        super().__init__()
        self.config = cfg
        self.u_stream, self.v_stream = _stream(cfg.widths), _stream(cfg.widths)
        self.cam_layer = nn.Identity()
        side = cfg.input_size // 4
        self.head = nn.Sequential(nn.Linear(2 * 4 * cfg.widths[1] * side * side, cfg.hidden), nn.ReLU(inplace=True),
                                  nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, cfg.num_classes))

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        """flow (B, 3, S, S): u, v (strain unused) -> (B, num_classes)"""
        x = resize(flow[:, :2], self.config.input_size)                              # (B, 2, 28, 28)
        maps = torch.cat([self.u_stream(x[:, :1]), self.v_stream(x[:, 1:2])], 1)    # (B, 128, 7, 7)
        return self.head(self.cam_layer(maps).flatten(1))

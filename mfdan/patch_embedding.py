"""Patch embedding (MFDAN Eq. 8) and patch merging (Sec. III-B), as in Swin.

Eq. 8 embeds non-overlapping 4×4 patches of the magnified image and of the flow map (u, v, strain) into
C = 96 channels each. Merging concatenates each 2×2 neighbourhood (4C), normalises and projects it.
"""
from __future__ import annotations

import torch
from torch import nn


class PatchEmbed(nn.Module):
    def __init__(self, *, in_chans: int = 3, dim: int = 96, patch: int = 4) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, H/patch, W/patch, dim)"""
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class PatchMerging(nn.Module):
    def __init__(self, *, dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H/2, W/2, out_dim)"""
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)  # (B,H/2,W/2,4C)
        return self.reduction(self.norm(x))

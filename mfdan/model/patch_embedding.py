"""Patch embedding (MFDAN Eq. 8) and patch merging (Sec. III-B), as in Swin.

Eq. 8 embeds non-overlapping 4×4 patches of the magnified image and of the flow map (u, v, strain) into
C = 96 channels each. Merging concatenates each 2×2 neighbourhood (4C), normalises and projects it.

Both are written as one reshape and one linear map over channel-last tokens: the embedding equals the
strided 4×4 convolution (its weights stay a ``Conv2d``'s, so checkpoints keep Swin's layout) and the
merging equals Swin's concatenation of the four strided slices, each in one copy instead of several
(tested against both).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchEmbed(nn.Module):
    def __init__(self, *, in_chans: int = 3, dim: int = 96, patch: int = 4, norm: bool = True) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, H/patch, W/patch, dim)"""
        b, c, h, w = x.shape
        p = self.patch
        patches = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)  # (B, H/p, W/p, c, p, p)
        patches = patches.reshape(b, h // p, w // p, c * p * p)  # (B, H/p, W/p, c·p·p), the conv weight's order
        return self.norm(F.linear(patches, self.proj.weight.flatten(1), self.proj.bias))


class PatchMerging(nn.Module):
    def __init__(self, *, dim: int, out_dim: int, norm: bool = True) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim) if norm else nn.Identity()
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H/2, W/2, out_dim)"""
        b, h, w, c = x.shape
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5)  # (B, H/2, W/2, col, row, C)
        # (B, H/2, W/2, 4C) in Swin's order, (row, col) offsets (0,0), (1,0), (0,1), (1,1)
        x = x.reshape(b, h // 2, w // 2, 4 * c)
        return self.reduction(self.norm(x))

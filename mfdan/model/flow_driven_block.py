"""The Flow-Driven block, MFDAN Eqs. 4–7: a W-Driven layer then an SW-Driven layer (shifted windows), each
window attention (:mod:`mfdan.model.flow_driven_attention`) followed by an MLP, with post-norm residuals

    z'  = LN(attn(z)) + z          (Eqs. 4, 6)
    z'' = LN(MLP(z')) + z'         (Eqs. 5, 7)

The flow tokens are the same for both layers; the SW-Driven layer rolls them with the image tokens so each
image window still meets the flow of the same pixels. Where the grid is no larger than the window (block 2
at 7×7), the window shrinks to the grid and the shift is 0 (Swin's rule): the SW layer is then a second
W layer.
"""
from __future__ import annotations

import torch
from torch import nn

from mfdan.model.flow_driven_attention import FlowDrivenWindowAttention
from mfdan.model.windows import shifted_window_mask, window_partition, window_reverse


class Mlp(nn.Module):
    def __init__(self, *, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class FlowDrivenLayer(nn.Module):
    """One W-Driven (``shift=0``) or SW-Driven (``shift=window//2``) layer with its MLP."""

    def __init__(self, *, dim: int, heads: int, resolution: int, window: int, shift: int, mlp_ratio: float = 4.0,
                 flow_driven: bool = True, dropkey: float = 0.0, tau_init: float = 0.1, qkv_bias: bool = True,
                 impl: str = "auto") -> None:
        super().__init__()
        if resolution <= window:
            window, shift = resolution, 0
        if resolution % window:
            raise ValueError(f"token grid {resolution} is not a multiple of the window {window}")
        self.resolution, self.window, self.shift = resolution, window, shift
        self.attn = FlowDrivenWindowAttention(dim=dim, heads=heads, window=window, flow_driven=flow_driven,
                                              dropkey=dropkey, tau_init=tau_init, qkv_bias=qkv_bias, impl=impl)
        self.norm1 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim=dim, hidden=int(dim * mlp_ratio))
        self.norm2 = nn.LayerNorm(dim)
        mask = shifted_window_mask(resolution, resolution, window, shift) if shift else None
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None) -> torch.Tensor:
        """x: image tokens (B, H, W, C); flow: flow tokens (B, H, W, C) or None. Returns (B, H, W, C)."""
        b, h, w, c = x.shape
        shortcut = x
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
            if flow is not None:
                flow = torch.roll(flow, shifts=(-self.shift, -self.shift), dims=(1, 2))
        xw = window_partition(x, self.window)  # (B·nW, win², C)
        fw = window_partition(flow, self.window) if flow is not None else None  # (B·nW, win², C)
        a = window_reverse(self.attn(xw, fw, mask=self.attn_mask), self.window, h, w)  # (B, H, W, C)
        if self.shift:
            a = torch.roll(a, shifts=(self.shift, self.shift), dims=(1, 2))
        x = shortcut + self.norm1(a)  # Eqs. 4, 6
        return x + self.norm2(self.mlp(x))  # Eqs. 5, 7


class FlowDrivenBlock(nn.Module):
    """W-Driven then SW-Driven (Eqs. 4–7)."""

    def __init__(self, *, dim: int, heads: int, resolution: int, window: int, **kw) -> None:
        super().__init__()
        self.w = FlowDrivenLayer(dim=dim, heads=heads, resolution=resolution, window=window, shift=0, **kw)
        self.sw = FlowDrivenLayer(dim=dim, heads=heads, resolution=resolution, window=window, shift=window // 2, **kw)

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None) -> torch.Tensor:
        return self.sw(self.w(x, flow), flow)

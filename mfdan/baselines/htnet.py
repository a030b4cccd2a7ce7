"""HTNet: Hierarchical Transformer Network (Wang, Zhang, Luo, Sankaranarayana, HTNet for micro-expression
recognition, Neurocomputing 2024; code: wangzhifengharrison/HTNet, main_HTNet.py and Model.py).

Input (its ``crop_optical_flow_block``): the onset → apex (u, v, strain) map at 28×28; four 14×14 regions cut
around facial landmarks — left eye, left mouth corner, right eye, right mouth corner, centres clamped to
[7, 21] — tiled into one 28×28 image (top: left eye | left lip; bottom: right eye | right lip). Ours: the
centres are our dlib landmarks on the aligned onset (eye centres = means of points 36–41 and 42–47, mouth
corners = points 48 and 54), scaled to 28 px, instead of MTCNN's five points on the 28-px apex; rows are indexed
by y (the public code indexes them by x, which swaps the names but not the layout).

Network (NesT-style, its Model.py): 7×7 patches (a 4×4 token map) embedded by a 1×1 convolution; three levels, finest first, each a Transformer over local blocks of the token map
(PreNorm multi-head attention with 1×1-convolution projections, dim_head = dim // heads, and a 4× GELU
feed-forward, a learned position embedding per block position), widths dim·(1, 2, 4), heads heads·(1, 2, 4),
``block_repeats`` layers each, with an aggregation between levels (3×3 convolution to twice the width,
LayerNorm, 3×3/2 max-pooling); then LayerNorm, global mean and a linear classifier. At the paper's sizes every
local block holds one token (seq_len 1), as in the public code. Recipe: Adam, lr 5e-5, batch 256, 800 epochs,
cross-entropy (profiles/baseline-htnet.yaml); its code keeps each subject's best test epoch, we keep the last.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from mfdan.baselines.common import resize
from mfdan.core.architectures import register
from mfdan.core.params import RATE, AtLeast
from mfdan.core.face_points import LEFT_EYE, MOUTH_LEFT, MOUTH_RIGHT, RIGHT_EYE



@dataclass(frozen=True)
class HTNetConfig:
    num_classes: Annotated[int, AtLeast(2)] = 3
    input_size: Annotated[int, AtLeast(8)] = 28          #: the flow map's side before the regions are cut
    region: Annotated[int, AtLeast(2)] = 14              #: side of each of the four regions (input_size / 2)
    patch_size: Annotated[int, AtLeast(1)] = 7
    dim: Annotated[int, AtLeast(1)] = 256
    heads: Annotated[int, AtLeast(1)] = 3
    block_repeats: Annotated[tuple[int, ...], AtLeast(1)] = (2, 2, 10)   #: layers per level, finest first
    mlp_mult: Annotated[int, AtLeast(1)] = 4
    dropout: Annotated[float, RATE] = 0.0

    def __post_init__(self) -> None:
        if self.region % 2:
            raise ValueError(f"region {self.region} must be even (regions are centred on a landmark)")
        if 2 * self.region != self.input_size:
            raise ValueError(f"four {self.region}-px regions tile a {2 * self.region}-px image, not input_size "
                             f"{self.input_size}")
        grid = self.input_size // self.patch_size
        blocks = 2 ** (len(self.block_repeats) - 1)
        if self.input_size % self.patch_size or grid % blocks:
            raise ValueError(f"input_size {self.input_size} / patch_size {self.patch_size} must give a token grid "
                             f"divisible by {blocks} ({len(self.block_repeats)} levels)")


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.b = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, unbiased=False, keepdim=True)
        return (x - mean) / (var + self.eps).sqrt() * self.g + self.b


class Attention(nn.Module):
    """Multi-head self-attention over the positions of a (B', C, h, w) block, 1×1-convolution projections."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dim_head = heads, dim // heads
        inner = self.heads * self.dim_head
        self.to_qkv = nn.Conv2d(dim, inner * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(inner, dim, 1), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = self.to_qkv(x).chunk(3, dim=1)  # each (B', inner, h, w)
        q, k, v = (t.reshape(b, self.heads, self.dim_head, h * w).transpose(-1, -2) for t in (q, k, v))  # (B', heads, hw, d)
        out = F.softmax(q @ k.transpose(-1, -2) * self.dim_head ** -0.5, dim=-1) @ v                       # (B', heads, hw, d)
        return self.to_out(out.transpose(-1, -2).reshape(b, self.heads * self.dim_head, h, w))


class Transformer(nn.Module):
    def __init__(self, dim: int, seq_len: int, depth: int, heads: int, mlp_mult: int, dropout: float) -> None:
        super().__init__()
        self.pos_emb = nn.Parameter(torch.randn(seq_len))
        self.layers = nn.ModuleList(nn.ModuleList([
            nn.Sequential(ChannelNorm(dim), Attention(dim, heads, dropout)),
            nn.Sequential(ChannelNorm(dim), nn.Conv2d(dim, dim * mlp_mult, 1), nn.GELU(), nn.Dropout(dropout),
                          nn.Conv2d(dim * mlp_mult, dim, 1), nn.Dropout(dropout)),
        ]) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B', C, h, w) -> same"""
        x = x + self.pos_emb.view(1, 1, x.shape[2], x.shape[3])
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return x


def region_centres(landmarks: torch.Tensor, frame: int, size: int, region: int) -> torch.Tensor:
    """(B, 68, 2) landmarks in pixels of a ``frame``-px face -> (B, 4, 2) integer (x, y) centres in a ``size``-px
    map of: left eye, left mouth corner, right eye, right mouth corner, clamped so each ``region`` fits."""
    lm = landmarks * (size / frame)
    centres = torch.stack([lm[:, LEFT_EYE].mean(1), lm[:, MOUTH_LEFT], lm[:, RIGHT_EYE].mean(1), lm[:, MOUTH_RIGHT]], 1)
    half = region // 2
    return centres.round().clamp(half, size - half).long()


def regions_image(flow: torch.Tensor, centres: torch.Tensor, region: int) -> torch.Tensor:
    """(B, C, S, S) map, (B, 4, 2) centres -> (B, C, 2·region, 2·region): top row left eye | left lip, bottom row
    right eye | right lip. One gather (no per-sample loop or host copy of the centres), so the fold-batched
    engine can ``vmap`` it; :func:`regions_image_loop` is the crop-by-crop reference the tests compare it with."""
    b, c, _, size = flow.shape
    offsets = torch.arange(region, device=flow.device) - region // 2                 # (region,)
    xs = centres[..., 0, None] + offsets                                             # (B, 4, region)
    ys = centres[..., 1, None] + offsets                                             # (B, 4, region)
    # per region and pixel (row i, column j): the flat index ys[i]·S + xs[j] into the S×S map
    flat = (ys[..., :, None] * size + xs[..., None, :]).reshape(b, 1, 4 * region * region)
    crops = flow.reshape(b, c, size * size).gather(2, flat.expand(b, c, -1))         # (B, C, 4·region²)
    crops = crops.reshape(b, c, 2, 2, region, region)                                # (B, C, row, column, r, r)
    # regions in order left eye, left lip, right eye, right lip: row = side (left, right), column = eye | lip
    return crops.permute(0, 1, 2, 4, 3, 5).reshape(b, c, 2 * region, 2 * region)


def regions_image_loop(flow: torch.Tensor, centres: torch.Tensor, region: int) -> torch.Tensor:
    """The reference of :func:`regions_image`: each crop sliced out and concatenated, sample by sample."""
    half = region // 2
    rows = []
    for b in range(flow.shape[0]):
        crops = [flow[b, :, y - half:y - half + region, x - half:x - half + region] for x, y in centres[b].tolist()]
        top, bottom = torch.cat(crops[:2], dim=2), torch.cat(crops[2:], dim=2)  # (C, region, 2·region) each
        rows.append(torch.cat([top, bottom], dim=1))                            # (C, 2·region, 2·region)
    return torch.stack(rows)


@register("htnet", title="HTNet",
          citation="Wang, Zhang, Luo, Sankaranarayana, HTNet for micro-expression recognition, Neurocomputing 2024",
          config=HTNetConfig,
          reads="(u, v, strain) around four landmark regions (eyes and mouth corners) of the aligned onset",
          deviations="regions around our dlib landmarks on the aligned onset (theirs: MTCNN on the 28-px apex); "
                     "the last epoch (its code keeps each subject's best test epoch)")
class HTNet(nn.Module):
    inputs = ("flow", "landmarks")

    def __init__(self, cfg: HTNetConfig = HTNetConfig()) -> None:
        super().__init__()
        self.config = cfg
        p = cfg.patch_size
        levels = len(cfg.block_repeats)
        grid = cfg.input_size // p
        seq_len = (grid // 2 ** (levels - 1)) ** 2  # tokens per local block, the same at every level
        dims = [cfg.dim * 2 ** i for i in range(levels)]
        self.embed = nn.Conv2d(3 * p * p, dims[0], 1)  # Model.py: the patch rearrangement, then a 1×1 convolution
        self.levels = nn.ModuleList()
        for i, depth in enumerate(cfg.block_repeats):
            last = i == levels - 1
            self.levels.append(nn.ModuleList([
                Transformer(dims[i], seq_len, depth, cfg.heads * 2 ** i, cfg.mlp_mult, cfg.dropout),
                nn.Identity() if last else nn.Sequential(nn.Conv2d(dims[i], dims[i + 1], 3, padding=1),
                                                         ChannelNorm(dims[i + 1]), nn.MaxPool2d(3, 2, padding=1)),
            ]))
        self.norm = ChannelNorm(dims[-1])
        self.head = nn.Linear(dims[-1], cfg.num_classes)

    def forward(self, flow: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        """flow (B, 3, S, S), landmarks (B, 68, 2) in pixels of the S-px face -> (B, num_classes)"""
        cfg = self.config
        small = resize(flow, cfg.input_size)                                         # (B, 3, 28, 28)
        x = regions_image(small, region_centres(landmarks, flow.shape[-1], cfg.input_size, cfg.region), cfg.region)
        b, c, s, _ = x.shape
        p = cfg.patch_size
        g = s // p
        x = x.reshape(b, c, g, p, g, p).permute(0, 3, 5, 1, 2, 4).reshape(b, p * p * c, g, g)  # (B, p·p·C, g, g)
        x = self.embed(x)                                                            # (B, dim, g, g)
        for i, (transformer, aggregate) in enumerate(self.levels):
            k = 2 ** (len(self.levels) - 1 - i)                                      # k×k local blocks
            bb, cc, h, w = x.shape
            x = x.reshape(bb, cc, k, h // k, k, w // k).permute(0, 2, 4, 1, 3, 5).reshape(bb * k * k, cc, h // k, w // k)
            x = transformer(x)                                                       # (B·k·k, C, h/k, w/k)
            x = x.reshape(bb, k, k, cc, h // k, w // k).permute(0, 3, 1, 4, 2, 5).reshape(bb, cc, h, w)
            x = aggregate(x)                                                         # (B, 2C, h/2, w/2)
        return self.head(self.norm(x).mean(dim=(2, 3)))

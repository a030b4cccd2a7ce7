"""MFDAN: Multi-level Flow-Driven Attention Network (Cai et al., IEEE TCSVT 2024), Sec. III.

    image (magnified apex)  ─ PatchEmbed ─ Flow-Driven block 1 ─ merge ×3 ─ Flow-Driven block 2 ─ LN, pool ─┐
                                               ▲ flow tokens                ▲ flow tokens                  ├ cat ─ head
    flow (u, v, strain) ──── PatchEmbed ───────┴──── merge ×3 (own layers) ─┘                              │
                        └─── optical-flow encoder (SSSN-style) ──────────────────────────────────────────┘
                                                                              (fusion: image drops this input)

``MFDAN(MFDANConfig())`` is the paper configuration; ``model(image, flow)`` takes two B×3×H×W tensors and
returns B×num_classes logits. Choices the paper leaves open are config fields, listed in
``docs/equations.md``. ``python -m mfdan.model`` prints the parameter count and a per-module breakdown.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

import torch
from torch import nn

from mfdan.core.architectures import register
from mfdan.core.params import NON_NEGATIVE, POSITIVE, RATE, AtLeast
from mfdan.model.flow_driven_block import FlowDrivenBlock
from mfdan.model.flow_encoder import OpticalFlowEncoder
from mfdan.model.patch_embedding import PatchEmbed, PatchMerging

FUSIONS = ("concat", "image")  #: MFDANConfig.fusion


@dataclass(frozen=True)
class MFDANConfig:
    """Mirrors params.yaml's ``model`` section. Defaults: the paper's configuration."""

    num_classes: Annotated[int, AtLeast(2)] = 3
    img_size: Annotated[int, AtLeast(8)] = 224
    patch_size: Annotated[int, AtLeast(1)] = 4                      #: Eq. 8: 4×4 patches
    embed_dim: Annotated[int, AtLeast(1)] = 96                      #: Eq. 8: C = 96
    merge_dims: Annotated[tuple[int, int, int], AtLeast(1)] = (192, 384, 768)  #: widths after each patch merging (Swin doubling)
    heads: Annotated[tuple[int, int], AtLeast(1)] = (3, 6)          #: heads of Flow-Driven blocks 1 and 2
    window: Annotated[int, AtLeast(1)] = 7
    mlp_ratio: Annotated[float, POSITIVE] = 4.0
    qkv_bias: bool = True
    flow_driven: bool = True                 #: False = self-attention only (Table V, M1)
    dropkey: Annotated[float, RATE] = 0.3      #: DropKey rate d (Eq. 12; Sec. V: 0.4 CASME II, 0.3 SAMM and SMIC)
    tau_init: Annotated[float, POSITIVE] = 0.1                    #: initial τ of the cosine flow branch (Eq. 13)
    share_patch_embed: bool = False          #: one patch embedding for image and flow
    share_merging: bool = False              #: one set of merging layers for image and flow tokens
    #: LayerNorm in the flow tokens' patch embedding and merging (Swin's, as for the image). False keeps the
    #: motion's magnitude in the flow tokens: a still patch stays near zero instead of being rescaled to unit
    #: variance (its noise then sets the flow query's direction). A documented deviation (docs/equations.md).
    flow_token_norm: bool = True
    #: what the classifier sees: ``concat`` = pooled image tokens ⊕ SSSN flow-encoder features (the paper's fusion
    #: head); ``image`` = the pooled image tokens alone, so motion reaches the classifier only through the
    #: flow-driven attention (a diagnostic ablation, not in the paper; with flow_driven false: no flow at all)
    fusion: str = "concat"
    #: LayerNorm on the SSSN flow-encoder features before they are concatenated with the (LayerNorm-ed, pooled)
    #: image tokens. The paper does not say how the two are fused beyond concatenation; without it the flow
    #: features (ReLU of a std-0.02 linear layer on max-abs-scaled flow) vary ~50x less across samples than the
    #: image features at initialisation (demo configuration), so the head starts out reading the image alone. Ours,
    #: documented in docs/equations.md; ``false`` is the earlier head.
    flow_feature_norm: bool = True
    #: SSSN flow encoder (Sec. III-A): input side (the flow map is average-pooled to it; = img_size: none),
    #: widths, kernels, strides, paddings of its two convolutions, max-pool (kernel, stride), FC width
    flow_encoder_input: Annotated[int, AtLeast(4)] = 224
    flow_encoder_channels: Annotated[tuple[int, int], AtLeast(1)] = (96, 256)
    flow_encoder_kernels: Annotated[tuple[int, int], AtLeast(1)] = (11, 5)
    flow_encoder_strides: Annotated[tuple[int, int], AtLeast(1)] = (4, 1)
    flow_encoder_paddings: Annotated[tuple[int, int], NON_NEGATIVE] = (0, 2)
    flow_encoder_pool: Annotated[tuple[int, int], AtLeast(1)] = (3, 2)
    flow_encoder_dim: Annotated[int, AtLeast(1)] = 256                #: FC width (not given by the paper)
    lrn_size: Annotated[int, AtLeast(1)] = 5
    dropout: Annotated[float, RATE] = 0.0                     #: before the classifier
    attention_impl: str = "auto"             #: auto (sdpa on CUDA, matmul on CPU) | matmul | sdpa | reference

    def __post_init__(self) -> None:
        grid = self.img_size // self.patch_size
        if self.img_size % self.patch_size or grid % 8:
            raise ValueError(f"img_size {self.img_size} / patch_size {self.patch_size} must give a token grid "
                             "divisible by 8 (three patch mergings)")
        if grid % self.window and grid > self.window:
            raise ValueError(f"token grid {grid} is not a multiple of window {self.window}")
        if not 0 <= self.dropkey < 1:
            raise ValueError(f"dropkey must be in [0, 1), got {self.dropkey}")
        if self.embed_dim % self.heads[0] or self.merge_dims[-1] % self.heads[1]:
            raise ValueError(f"embed_dim {self.embed_dim} and merge_dims[-1] {self.merge_dims[-1]} must be divisible "
                             f"by heads {list(self.heads)}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {list(FUSIONS)}, got {self.fusion!r}")
        if not self.flow_token_norm and (self.share_patch_embed or self.share_merging):
            raise ValueError("flow_token_norm: false needs the flow's own embedding and merging layers "
                             "(share_patch_embed and share_merging false)")

    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size


@register("mfdan", title="MFDAN",
          citation="Cai et al., Multi-level Flow-Driven Attention Network, IEEE TCSVT 2024",
          config=MFDANConfig, reads="magnified apex + (u, v, strain) at model.img_size",
          deviations="choices the paper leaves open: docs/equations.md")
class MFDAN(nn.Module):
    inputs = ("image", "flow")  #: what forward reads (mfdan.model.registry.forward)

    def __init__(self, config: MFDANConfig = MFDANConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        common = dict(window=cfg.window, mlp_ratio=cfg.mlp_ratio, flow_driven=cfg.flow_driven, dropkey=cfg.dropkey,
                      tau_init=cfg.tau_init, qkv_bias=cfg.qkv_bias, impl=cfg.attention_impl)
        self.patch_embed = PatchEmbed(dim=cfg.embed_dim, patch=cfg.patch_size)
        self.block1 = FlowDrivenBlock(dim=cfg.embed_dim, heads=cfg.heads[0], resolution=cfg.grid, **common)
        dims = (cfg.embed_dim, *cfg.merge_dims)
        self.merge = nn.ModuleList(PatchMerging(dim=a, out_dim=b) for a, b in zip(dims, dims[1:]))
        self.block2 = FlowDrivenBlock(dim=dims[-1], heads=cfg.heads[1], resolution=cfg.grid // 8, **common)
        if cfg.flow_driven:
            self.flow_embed = self.patch_embed if cfg.share_patch_embed else \
                PatchEmbed(dim=cfg.embed_dim, patch=cfg.patch_size, norm=cfg.flow_token_norm)
            self.flow_merge = self.merge if cfg.share_merging else \
                nn.ModuleList(PatchMerging(dim=a, out_dim=b, norm=cfg.flow_token_norm) for a, b in zip(dims, dims[1:]))
        self.norm = nn.LayerNorm(dims[-1])
        head_in = dims[-1]
        if cfg.fusion == "concat":
            self.flow_encoder = OpticalFlowEncoder(input_size=cfg.flow_encoder_input,
                                                   channels=cfg.flow_encoder_channels,
                                                   kernels=cfg.flow_encoder_kernels, strides=cfg.flow_encoder_strides,
                                                   paddings=cfg.flow_encoder_paddings, pool=cfg.flow_encoder_pool,
                                                   out_dim=cfg.flow_encoder_dim, lrn_size=cfg.lrn_size,
                                                   image_size=cfg.img_size)
            self.flow_norm = nn.LayerNorm(cfg.flow_encoder_dim) if cfg.flow_feature_norm else nn.Identity()
            head_in += cfg.flow_encoder_dim
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(head_in, cfg.num_classes)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def features(self, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """The last Flow-Driven block's image tokens: image (B, 3, H, W), flow (B, 3, H, W) -> (B, G/8, G/8, C)."""
        x = self.patch_embed(image)  # (B, G, G, C)
        f = self.flow_embed(flow) if self.config.flow_driven else None  # (B, G, G, C), taken before block 1
        x = self.block1(x, f)
        for i, merge in enumerate(self.merge):
            x = merge(x)  # (B, G/2^(i+1), G/2^(i+1), dims[i+1])
            if f is not None:
                f = self.flow_merge[i](f)
        return self.block2(x, f)  # (B, G/8, G/8, dims[-1])

    def classify(self, tokens: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Fusion head: pooled image tokens ⊕ flow-encoder features (LayerNorm-ed unless ``flow_feature_norm`` is
        false) -> (B, num_classes) logits (``fusion: image``: the pooled image tokens alone)."""
        pooled = self.norm(tokens).mean(dim=(1, 2))  # (B, dims[-1])
        if self.config.fusion == "concat":
            motion = self.flow_norm(self.flow_encoder(flow))  # (B, flow_encoder_dim)
            feats = torch.cat([pooled, motion], dim=1)  # (B, dims[-1] + flow_encoder_dim)
        else:  # fusion == "image"
            feats = pooled
        return self.head(self.dropout(feats))

    def forward(self, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """image: magnified face (B, 3, H, W); flow: (u, v, strain) (B, 3, H, W). Returns (B, num_classes)."""
        return self.classify(self.features(image, flow), flow)


def parameter_breakdown(model: nn.Module) -> dict[str, int]:
    """Trainable parameters per top-level child module (shared modules counted once, under their first name)."""
    seen: set[int] = set()
    out: dict[str, int] = {}
    for name, child in model.named_children():
        n = 0
        for p in child.parameters():
            if id(p) not in seen and p.requires_grad:
                seen.add(id(p))
                n += p.numel()
        out[name] = n
    return out


def main() -> None:
    import json
    import sys

    cfg = MFDANConfig()
    model = MFDAN(cfg)
    parts = parameter_breakdown(model)
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"MFDAN, paper configuration ({cfg.img_size}×{cfg.img_size}, C={cfg.embed_dim}, heads {cfg.heads}, "
          f"window {cfg.window})")
    for name, n in parts.items():
        print(f"  {name:<14} {n:>12,}")
    print(f"  {'total':<14} {total:>12,}")
    if "--json" in sys.argv:
        print(json.dumps({"config": asdict(cfg), "parameters": parts, "total": total}))


if __name__ == "__main__":
    main()

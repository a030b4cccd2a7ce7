"""Flow-driven window attention, MFDAN Eqs. 9–15.

One qkv projection is shared by image tokens z_m and flow tokens z_f (Eq. 9): Q_m, K_m, V_m = z_m W_qkv and
Q_f = z_f W_q. Two branches attend over the image keys and values of the same window:

* self branch (Eq. 10): ``softmax(Q_m K_mᵀ / √d + B) V_m``
* flow branch (Eqs. 11, 13): ``softmax(cos(Q_f, K_m) / τ + B) V_m`` with a learnable temperature τ per head
  (Eq. 14); cosine similarity makes it invariant to the scale of Q_f and K_m;
* DropKey (Eq. 12) masks the same Bernoulli(d) set of keys in both branches' logits, in training only;
* output (Eq. 15): ``Attn_self + Attn_flow``, then the output projection.

B is a relative-position bias table (Swin), shared by both branches; shifted windows add their region
mask to it.

Three implementations (``impl``), checked against each other in float64 by the tests:

* ``reference``: each equation as written — two softmaxes, two products with V, a sum.
* ``matmul``: the same maths with one product with V, since both branches share V_m:
  ``softmax(L_s) V + softmax(L_f) V = (softmax(L_s) + softmax(L_f)) V``, and the biases added in place
  to the logits. Fastest on CPU.
* ``sdpa``: each branch through ``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient
  kernels on CUDA; τ is folded into the normalised Q_f so the kernel's scale is 1).
* ``auto`` (default): ``sdpa`` on CUDA, ``matmul`` elsewhere.

The fast paths normalise Q_f and K_m with :func:`scaled_unit`: the same maths as ``F.normalize(x) / τ``, with a
hand-written backward that makes fewer passes over the (B·nW, heads, N, d) tensors than autograd's chain of
divisions; ``reference`` keeps ``F.normalize``.

With ``flow_driven=False`` (Table V, M1) only the self branch exists.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mfdan.model.dropkey import DROP_VALUE, dropkey_mask
from mfdan.model.windows import relative_position_index

TAU_MIN = 0.01
IMPLS = ("auto", "matmul", "sdpa", "reference")
NORM_EPS = 1e-12  # as F.normalize


class _ScaledUnit(torch.autograd.Function):
    """y = c · x / max(‖x‖, ε) along the last axis, c one scale per head (axis 1).

    Written in the form ``torch.func`` transforms accept (``forward`` without ``ctx``, :meth:`setup_context`,
    ``generate_vmap_rule``), so the fold-batched engine can ``vmap`` MFDAN (:mod:`mfdan.train.batched`). The
    forward also returns the reciprocal norm r and where the norm was not clamped, which the backward reads;
    :func:`scaled_unit` hands on y alone."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, scale: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)  # (B·nW, heads, N, 1)
        unclamped = norm > NORM_EPS
        r = norm.clamp_min(NORM_EPS).reciprocal()
        if scale is not None:
            r = r * scale.view(1, -1, 1, 1)
        r = r.to(x.dtype)  # autocast may compute the norm in float32; keep x's dtype
        return x * r, r, unclamped

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        _, scale = inputs
        y, r, unclamped = output
        ctx.mark_non_differentiable(r, unclamped)
        ctx.save_for_backward(y, r, unclamped, scale)

    @staticmethod
    def backward(ctx, dy: torch.Tensor, _dr: torch.Tensor | None, _du: torch.Tensor | None):
        # With u = x/‖x‖ and y = c·u: dx = (c/‖x‖)(dy − y⟨dy, y⟩/c²) and dc = Σ⟨dy, y⟩/c. Where ‖x‖ < ε the
        # norm is the constant ε, so dx = (c/ε)·dy there.
        y, r, unclamped, scale = ctx.saved_tensors
        s = (dy * y).sum(-1, keepdim=True)  # ⟨dy, y⟩, (B·nW, heads, N, 1)
        dscale = None
        if scale is not None and ctx.needs_input_grad[1]:
            dscale = s.sum(dim=(0, 2, 3)) / scale
        coef = s * unclamped
        if scale is not None:
            coef = coef / scale.view(1, -1, 1, 1).square()
        return dy.addcmul(y, coef, value=-1).mul_(r), dscale


def scaled_unit(x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """``F.normalize(x, dim=-1) * scale.view(1, -1, 1, 1)`` for x of (B·nW, heads, N, d), with a cheaper backward."""
    return _ScaledUnit.apply(x, scale)[0]


class FlowDrivenWindowAttention(nn.Module):
    def __init__(self, *, dim: int, heads: int, window: int, flow_driven: bool = True, dropkey: float = 0.0,
                 tau_init: float = 0.1, qkv_bias: bool = True, impl: str = "auto") -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        if impl not in IMPLS:
            raise ValueError(f"attention impl must be one of {IMPLS}, not {impl!r}")
        self.dim, self.heads, self.window = dim, heads, window
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.flow_driven = flow_driven
        self.dropkey = dropkey
        self.impl = impl
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))  # B, Eqs. 10–11
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("rel_index", relative_position_index(window), persistent=False)
        if flow_driven:  # τ > TAU_MIN, stored as log(τ − TAU_MIN)
            self.tau_raw = nn.Parameter(torch.full((heads,), math.log(tau_init - TAU_MIN)))

    @property
    def tau(self) -> torch.Tensor:
        """The per-head temperature τ of Eq. 13, (heads,)."""
        return self.tau_raw.exp() + TAU_MIN

    def position_bias(self) -> torch.Tensor:
        """B: (heads, N, N), N = window²."""
        n = self.window * self.window
        return self.bias_table[self.rel_index.view(-1)].view(n, n, self.heads).permute(2, 0, 1)

    def flow_logits(self, qf: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """cos(Q_f, K_m) / τ (Eq. 13), (B·nW, heads, N, N): invariant to the scale of Q_f and K_m."""
        qn = F.normalize(qf, dim=-1) / self.tau.to(qf.dtype).view(1, -1, 1, 1)
        return qn @ F.normalize(k, dim=-1).transpose(-2, -1)

    def _cosine_operands(self, qf: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q_f/(τ‖Q_f‖) and K_m/‖K_m‖ through :func:`scaled_unit` (fast paths)."""
        return scaled_unit(qf, self.tau.to(qf.dtype).reciprocal()), scaled_unit(k)

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.heads, self.head_dim).transpose(1, 2).contiguous()  # (B·nW, heads, N, d)

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None = None, *, mask: torch.Tensor | None = None,
                drop: torch.Tensor | None = None) -> torch.Tensor:
        """Attend within windows.

        Args:
            x: image tokens (B·nW, N, C).
            flow: flow tokens of the same windows (B·nW, N, C); required when ``flow_driven``.
            mask: shifted-window mask (nW, N, N) or None.
            drop: an explicit boolean DropKey mask (B·nW, heads, N, N), for tests; by default one is drawn when
                training with ``dropkey > 0``.
        Returns:
            (B·nW, N, C)
        """
        bw, n, c = x.shape
        # 3×(B·nW, h, N, d); contiguous, since batched products of the permuted views run several times slower
        q, k, v = self.qkv(x).view(bw, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).contiguous()
        if drop is None and self.training and self.dropkey > 0:
            drop = dropkey_mask((bw, self.heads, n, n), self.dropkey, device=x.device)
        qf = None
        if self.flow_driven:
            if flow is None:
                raise ValueError("flow-driven attention needs flow tokens")
            b_q = self.qkv.bias[: self.dim] if self.qkv.bias is not None else None
            qf = self._split_heads(F.linear(flow, self.qkv.weight[: self.dim], b_q))  # Q_f, Eq. 9
        impl = self.impl if self.impl != "auto" else ("sdpa" if x.is_cuda else "matmul")
        out = getattr(self, f"_{impl}")(q, k, v, qf, mask, drop)  # (B·nW, h, N, d)
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor, flow: torch.Tensor | None = None, *,
                       mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """For analysis: the self map softmax(Q_m K_mᵀ/√d + B) (Eq. 10) and, when flow-driven, the flow map
        softmax(cos(Q_f, K_m)/τ + B) (Eq. 11), each (B·nW, heads, N, N), without DropKey (eval)."""
        bw, n, _ = x.shape
        q, k, _ = self.qkv(x).view(bw, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        bias = self._full_bias(bw, mask, None, q.dtype)
        maps = {"self": torch.softmax(q @ k.transpose(-2, -1) * self.scale + bias, dim=-1)}
        if self.flow_driven and flow is not None:
            b_q = self.qkv.bias[: self.dim] if self.qkv.bias is not None else None
            qf = self._split_heads(F.linear(flow, self.qkv.weight[: self.dim], b_q))
            maps["flow"] = torch.softmax(self.flow_logits(qf, k) + bias, dim=-1)
        return maps

    # --- implementations -------------------------------------------------------------------------
    def _full_bias(self, bw: int, mask: torch.Tensor | None, drop: torch.Tensor | None, dtype) -> torch.Tensor:
        """B (+ shift mask) (+ DropKey), materialised to broadcast against (B·nW, heads, N, N)."""
        bias = self.position_bias().to(dtype)[None]  # (1, h, N, N)
        if mask is not None:
            nw, n = mask.shape[0], mask.shape[-1]
            bias = (bias[:, None] + mask.to(dtype)[None, :, None])  # (1, nW, h, N, N)
            bias = bias.expand(bw // nw, -1, -1, -1, -1).reshape(bw, self.heads, n, n)
        if drop is not None:
            bias = bias.masked_fill(drop, DROP_VALUE)
        return bias

    def _reference(self, q, k, v, qf, mask, drop):
        bias = self._full_bias(q.shape[0], mask, drop, q.dtype)
        attn = torch.softmax(q @ k.transpose(-2, -1) * self.scale + bias, dim=-1)  # Eq. 10 (+ Eq. 12)
        out = attn @ v
        if qf is not None:
            attn_f = torch.softmax(self.flow_logits(qf, k) + bias, dim=-1)  # Eqs. 11, 13 (+ Eq. 12)
            out = out + attn_f @ v  # Eq. 15
        return out

    def _matmul(self, q, k, v, qf, mask, drop):
        bias = self._full_bias(q.shape[0], mask, drop, q.dtype)  # built once, shared by both branches
        probs = torch.softmax(((q * self.scale) @ k.transpose(-2, -1)).add_(bias), dim=-1)
        if qf is not None:
            qn, kn = self._cosine_operands(qf, k)
            probs = probs + torch.softmax((qn @ kn.transpose(-2, -1)).add_(bias), dim=-1)  # Eqs. 11, 13
        return probs @ v  # (softmax_self + softmax_flow) V = Attn_self + Attn_flow, Eq. 15

    def _sdpa(self, q, k, v, qf, mask, drop):
        bias = self._full_bias(q.shape[0], mask, drop, q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
        if qf is not None:
            qn, kn = self._cosine_operands(qf, k)
            out = out + F.scaled_dot_product_attention(qn, kn, v, attn_mask=bias, scale=1.0)
        return out

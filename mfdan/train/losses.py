"""Classification losses compared in MFDAN Table VI: focal (the paper's choice), CE, NLL and KL.

* ``focal`` (Lin et al., 2017): ``FL = −α_t (1 − p_t)^γ log p_t``, γ = 2 by default, optional per-class α;
  with γ = 0 it is (weighted) cross-entropy. Reduction matches ``F.cross_entropy``: a weighted mean,
  ``Σ α_t ℓ_t / Σ α_t``.
* ``ce``: ``F.cross_entropy`` on logits.
* ``nll``: ``F.nll_loss`` on ``log_softmax`` (the "NLL" row; numerically the same objective as CE).
* ``kl``: ``KL(q ‖ softmax)`` against a label-smoothed target q (ε = ``smoothing``); with ε = 0 it equals CE.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LOSSES = ("focal", "ce", "nll", "kl")


class FocalLoss(nn.Module):
    def __init__(self, *, gamma: float = 2.0, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)  # log p_t, (B,)
        loss = -((1 - logp.exp()) ** self.gamma) * logp
        if self.weight is None:
            return loss.mean()
        w = self.weight.to(loss.dtype)[target]
        return (w * loss).sum() / w.sum()


class KLLoss(nn.Module):
    def __init__(self, *, num_classes: int, smoothing: float = 0.1, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.num_classes, self.smoothing = num_classes, smoothing
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        q = F.one_hot(target, self.num_classes).float() * (1 - self.smoothing) + self.smoothing / self.num_classes
        per = F.kl_div(F.log_softmax(logits.float(), dim=1), q, reduction="none").sum(1)  # (B,)
        if self.weight is None:
            return per.mean()
        w = self.weight.to(per.dtype)[target]
        return (w * per).sum() / w.sum()


def build_loss(name: str, *, num_classes: int, gamma: float = 2.0, class_weights: Sequence[float] | None = None,
               smoothing: float = 0.1) -> nn.Module:
    """The loss ``name`` (one of :data:`LOSSES`) as a module ``loss(logits, target)``."""
    weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
    if weight is not None and len(weight) != num_classes:
        raise ValueError(f"class_weights has {len(weight)} entries for {num_classes} classes")
    if name == "focal":
        return FocalLoss(gamma=gamma, weight=weight)
    if name == "ce":
        return nn.CrossEntropyLoss(weight=weight)
    if name == "nll":
        nll = nn.NLLLoss(weight=weight)
        return _Composed(nll)
    if name == "kl":
        return KLLoss(num_classes=num_classes, smoothing=smoothing, weight=weight)
    raise ValueError(f"unknown loss {name!r}; expected one of {LOSSES}")


class _Composed(nn.Module):
    """``nll(log_softmax(logits))``."""

    def __init__(self, nll: nn.NLLLoss) -> None:
        super().__init__()
        self.nll = nll

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.nll(F.log_softmax(logits.float(), dim=1), target)

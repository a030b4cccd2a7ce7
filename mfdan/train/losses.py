"""Classification losses compared in MFDAN Table VI: focal (the paper's choice), CE, NLL and KL.

* ``focal`` (Lin et al., 2017): ``FL = −α_t (1 − p_t)^γ log p_t``, γ = 2 by default, optional per-class α;
  with γ = 0 it is (weighted) cross-entropy. Reduction matches ``F.cross_entropy``: a weighted mean,
  ``Σ α_t ℓ_t / Σ α_t``.
* ``ce``: ``F.cross_entropy`` on logits.
* ``nll``: ``F.nll_loss`` on ``log_softmax`` (the "NLL" row; numerically the same objective as CE).
* ``kl``: ``KL(q ‖ softmax)`` against a label-smoothed target q (ε = ``smoothing``); with ε = 0 it equals CE.

Each loss module also gives its per-sample terms (``per_sample``: ℓ_i and the class weight α_i of each sample),
which :func:`masked_loss` reduces over the samples a mask keeps: the fold-batched engine pads each task's batch
to the step's size and masks the padding (:mod:`mfdan.train.batched`). ``forward`` keeps the library's own
reduction, so the per-fold engine's numbers are what they were.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LOSSES = ("focal", "ce", "nll", "kl")


def at_least_float(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32, or float64 where it is float64 (half-precision logits under autocast are widened; the
    engines' float64 equivalence tests keep their precision)."""
    return x if x.dtype == torch.float64 else x.float()


class _PerSample(nn.Module):
    """A loss whose per-sample terms are ℓ_i and class weights α_i (α = 1 without ``weight``)."""

    weight: torch.Tensor | None

    def terms(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def per_sample(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ℓ_i, α_i), each (B,): the loss is Σ α_i ℓ_i / Σ α_i."""
        values = self.terms(logits, target)
        if self.weight is None:
            return values, torch.ones_like(values)
        return values, self.weight.to(values.dtype)[target]


class FocalLoss(_PerSample):
    def __init__(self, *, gamma: float = 2.0, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight, persistent=False)

    def terms(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(at_least_float(logits), dim=1).gather(1, target[:, None]).squeeze(1)  # log p_t, (B,)
        return -((1 - logp.exp()) ** self.gamma) * logp

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = self.terms(logits, target)
        if self.weight is None:
            return loss.mean()
        w = self.weight.to(loss.dtype)[target]
        return (w * loss).sum() / w.sum()


class KLLoss(_PerSample):
    def __init__(self, *, num_classes: int, smoothing: float = 0.1, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.num_classes, self.smoothing = num_classes, smoothing
        self.register_buffer("weight", weight, persistent=False)

    def terms(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        classes = torch.arange(self.num_classes, device=target.device)
        one_hot = (target[:, None] == classes).to(at_least_float(logits).dtype)  # F.one_hot's, without its bounds
        q = one_hot * (1 - self.smoothing) + self.smoothing / self.num_classes    # check (a data-dependent branch)
        return F.kl_div(F.log_softmax(at_least_float(logits), dim=1), q, reduction="none").sum(1)  # (B,)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        per = self.terms(logits, target)
        if self.weight is None:
            return per.mean()
        w = self.weight.to(per.dtype)[target]
        return (w * per).sum() / w.sum()


class CrossEntropy(nn.CrossEntropyLoss):
    """``nn.CrossEntropyLoss`` (its forward), with per-sample terms."""

    def per_sample(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values = F.cross_entropy(logits, target, reduction="none")  # unweighted ℓ_i
        alpha = torch.ones_like(values) if self.weight is None else self.weight.to(values.dtype)[target]
        return values, alpha


class NLLOfLogSoftmax(nn.Module):
    """``nll(log_softmax(logits))`` (``nn.NLLLoss``'s forward), with per-sample terms."""

    def __init__(self, nll: nn.NLLLoss) -> None:
        super().__init__()
        self.nll = nll

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.nll(F.log_softmax(at_least_float(logits), dim=1), target)

    def per_sample(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values = F.nll_loss(F.log_softmax(at_least_float(logits), dim=1), target, reduction="none")
        w = self.nll.weight
        return values, torch.ones_like(values) if w is None else w.to(values.dtype)[target]


def masked_loss(loss_fn: nn.Module, logits: torch.Tensor, target: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The loss over the samples ``keep`` (B,) weighs 1 (the rest 0): Σ keep·α·ℓ / Σ keep·α — the library's
    weighted mean over the kept samples. With nothing kept it is 0 (the task does not step)."""
    values, alpha = loss_fn.per_sample(logits, target)
    alpha = alpha * keep.to(alpha.dtype)
    return (alpha * values).sum() / alpha.sum().clamp_min(torch.finfo(alpha.dtype).tiny)


def build_loss(name: str, *, num_classes: int, gamma: float = 2.0, class_weights: Sequence[float] | None = None,
               smoothing: float = 0.1) -> nn.Module:
    """The loss ``name`` (one of :data:`LOSSES`) as a module ``loss(logits, target)`` with ``per_sample``."""
    weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
    if weight is not None and len(weight) != num_classes:
        raise ValueError(f"class_weights has {len(weight)} entries for {num_classes} classes")
    if name == "focal":
        return FocalLoss(gamma=gamma, weight=weight)
    if name == "ce":
        return CrossEntropy(weight=weight)
    if name == "nll":
        return NLLOfLogSoftmax(nn.NLLLoss(weight=weight))
    if name == "kl":
        return KLLoss(num_classes=num_classes, smoothing=smoothing, weight=weight)
    raise ValueError(f"unknown loss {name!r}; expected one of {LOSSES}")

"""Optimizers: Adan (Xie et al., 2022; MFDAN's choice) via ``adan-pytorch``, AdamW (Table V, M4), and the
baselines' recipes: Adam (STSTNet, OFF-ApexNet, Dual-Inception, HTNet) and SGD with momentum (SSSNet as meb).

Adan's betas are configured in the convention of the Adan paper (and of its official code): β is the decay of
a running average, ``m_k = β1·m_{k−1} + (1 − β1)·g_k``, with Adan's default values (0.98, 0.92, 0.99) — MFDAN
names Adan but not its betas. AdamW uses its own standard (0.9, 0.999).
``adan-pytorch`` instead takes the weight of the *new* term, ``m_k = (1 − b1)·m_{k−1} + b1·g_k``, so we pass
``b = 1 − β``: (0.02, 0.08, 0.01). :func:`adan_pytorch_betas` is the one place that converts.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

OPTIMIZERS = ("adan", "adamw", "adam", "sgd")
ADAN_BETAS = (0.98, 0.92, 0.99)   #: Adan's defaults, in the Adan paper's convention
ADAMW_BETAS = (0.9, 0.999)        #: AdamW's (and Adam's) standard betas


def _skip_dynamo_import() -> None:
    """Let ``torch.optim.Optimizer``'s methods run without importing ``torch._dynamo`` (~4 s here).

    PyTorch wraps ``Optimizer.zero_grad``, ``add_param_group`` (called by ``__init__``), ``state_dict`` and
    ``load_state_dict`` in ``torch._disable_dynamo``, which imports the compiler stack on the first call and
    caches the disabled function on the wrapped one as ``__dynamo_disable``. We never compile, so we cache the
    plain function there first: the same code runs, without the import. Every fold, ``train_final`` and
    ``mfdan predict`` is a fresh process, so this is seconds per stage. A PyTorch without that attribute
    protocol is left as it is (no ``__wrapped__``: nothing to do). Nothing is changed once ``torch._dynamo`` is
    loaded, so code that compiles keeps PyTorch's behaviour."""
    import sys

    if "torch._dynamo" in sys.modules:
        return
    for name in ("zero_grad", "add_param_group", "state_dict", "load_state_dict"):
        fn = getattr(getattr(torch.optim.Optimizer, name, None), "__wrapped__", None)
        if fn is not None and getattr(fn, "__dynamo_disable", None) is None:
            fn.__dynamo_disable = fn


def adan_pytorch_betas(paper_betas: Sequence[float]) -> tuple[float, float, float]:
    """Paper-convention Adan betas (decay of the averages) -> ``adan-pytorch``'s (weight of the new term)."""
    if len(paper_betas) != 3 or not all(0 < b < 1 for b in paper_betas):
        raise ValueError(f"Adan needs three betas in (0, 1), got {paper_betas}")
    return tuple(round(1.0 - b, 12) for b in paper_betas)  # type: ignore[return-value]


def build_optimizer(params: Iterable[torch.nn.Parameter], name: str, *, lr: float, weight_decay: float = 0.0,
                    betas: Sequence[float] = ADAN_BETAS, eps: float = 1e-8,
                    momentum: float = 0.9) -> torch.optim.Optimizer:
    """``adan`` with ``betas`` in the Adan paper's convention (three); ``adamw`` or ``adam`` (L2 weight decay
    added to the gradient, as ``torch.optim.Adam``) with ``betas`` = (β1, β2); ``sgd`` with ``momentum``."""
    _skip_dynamo_import()
    if name == "adan":
        from adan_pytorch import Adan

        return Adan(params, lr=lr, betas=adan_pytorch_betas(betas), eps=eps, weight_decay=weight_decay)
    if name == "adamw":
        if len(betas) != 2:
            raise ValueError(f"AdamW needs two betas (β1, β2), got {tuple(betas)}")
        return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
    if name == "adam":
        if len(betas) != 2:
            raise ValueError(f"Adam needs two betas (β1, β2), got {tuple(betas)}")
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")

"""DropKey (Li et al., CVPR 2023), MFDAN Eq. 12: drop keys by adding a Bernoulli(d) mask of −∞ to the
attention logits before the softmax, in training only.

The mask is boolean (True = dropped) and applied with ``masked_fill(DROP_VALUE)``, DROP_VALUE = −10⁴, rather
than adding a literal −∞: after the softmax it is exactly 0 in float32, float16 and bfloat16 alike (exp
underflows), and a query whose every key happens to be dropped keeps a finite softmax instead of NaN.
"""
from __future__ import annotations

import torch

DROP_VALUE = -1.0e4


def dropkey_mask(shape: tuple[int, ...], rate: float, *, device=None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """A boolean mask of ``shape``, True (drop) with probability ``rate``."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"DropKey rate must be in [0, 1), got {rate}")
    return torch.rand(shape, device=device, generator=generator) < rate

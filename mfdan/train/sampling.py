"""Class-balanced resampling (an ablation switch): draw each training sample with probability ∝ 1/count of
its class, so every class is seen equally often in expectation; seeded for reproducibility."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch
from torch.utils.data import WeightedRandomSampler


def balanced_sampler(labels: Sequence[int], *, seed: int, num_samples: int | None = None) -> WeightedRandomSampler:
    counts = Counter(labels)
    weights = torch.tensor([1.0 / counts[y] for y in labels], dtype=torch.double)
    gen = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(weights, num_samples=num_samples or len(labels), replacement=True, generator=gen)

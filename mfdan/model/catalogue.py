"""``mfdan models``: every architecture of the registry with its citation, its inputs, its parameter count at
its paper's default configuration (for ``num_classes`` classes) and where ours deviates."""
from __future__ import annotations

import torch

from mfdan.model.registry import ARCHITECTURES, build, config_class, input_size, parameter_count


def catalogue(num_classes: int = 3) -> list[dict]:
    rows = []
    for a in ARCHITECTURES.values():
        cfg = config_class(a.name)(num_classes=num_classes)  # the paper's defaults
        _, size = input_size(cfg)
        with torch.device("meta"):  # shapes only: HTNet's 140 M parameters allocate nothing
            n = parameter_count(build(cfg))
        rows.append({"name": a.name, "title": a.title, "citation": a.citation, "kind": a.kind,
                     "parameters": n, "input": f"{size}×{size}" if size else "the cache's size",
                     "reads": a.reads, "deviations": a.deviations})
    return rows

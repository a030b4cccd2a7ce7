"""The long-video datasets' settings, beside :mod:`mfdan.data.config` (the clip datasets')."""
from __future__ import annotations

from dataclasses import dataclass, field

from mfdan.data.long_protocols import LONG_DATASETS


@dataclass(frozen=True)
class LongDataConfig:
    """Mirrors the ``long_data`` section of long/params.yaml: the long-video datasets to read, and their frame
    rates where they are not the releases' (generated recordings at a compact rate)."""

    roots: dict[str, str] = field(default_factory=lambda: {"casme_sq": "data/raw/casme_sq", "samm_lv": "data/raw/samm_lv"})
    fps: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = sorted((set(self.roots) | set(self.fps)) - set(LONG_DATASETS))
        if bad:
            raise ValueError(f"long_data: unknown dataset(s) {bad}; known: {list(LONG_DATASETS)}")
        if any(v <= 0 for v in self.fps.values()):
            raise ValueError("long_data.fps values must be positive")

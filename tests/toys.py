"""Tiny generated training data and a tiny MFDAN, for the tests that train a fold in seconds (fixtures generated,
not committed binaries)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mfdan.model.network import MFDANConfig
from mfdan.train.fold_data import FoldData

#: an MFDAN small enough to train a fold of a few 32-px samples in a second on a CPU
TINY_MFDAN = MFDANConfig(img_size=32, embed_dim=8, merge_dims=(8, 8, 8), heads=(2, 2), window=4,
                         flow_encoder_input=8, flow_encoder_channels=(4, 4), flow_encoder_kernels=(3, 3),
                         flow_encoder_strides=(1, 1), flow_encoder_paddings=(1, 1), flow_encoder_pool=(2, 2),
                         flow_encoder_dim=4)


def toy_fold_data(subjects: Sequence[str], *, seed: int = 0, size: int = 32, variants: int = 1, dataset: str = "d",
                  classes: Sequence[str] = ("x", "y", "z"), flow: np.ndarray | None = None,
                  labels: np.ndarray | None = None, images: np.ndarray | None = None,
                  landmarks: np.ndarray | None = None) -> FoldData:
    """One sample per entry of ``subjects`` (folds ``<dataset>_<subject>``): random frames (``variants`` training
    variants each; or ``images``, one per sample, for both), random flow unless given, labels cycling through
    ``classes`` unless given."""
    rng = np.random.default_rng(seed)
    n = len(subjects)
    if images is None:
        train = rng.integers(0, 255, (n, variants, size, size, 3), dtype=np.uint8)
        evaluation = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    else:
        train, evaluation = np.repeat(images[:, None], variants, axis=1), images
    if flow is None:
        flow = rng.normal(size=(n, 3, size, size)).astype(np.float32)
    if labels is None:
        labels = np.arange(n) % len(classes)
    return FoldData(train_images=train, eval_images=evaluation, flow=flow, labels=np.asarray(labels, np.int64),
                    folds=[f"{dataset}_{s}" for s in subjects], sample_ids=[f"t{i}" for i in range(n)],
                    datasets=[dataset] * n, subjects=list(subjects), classes=list(classes), landmarks=landmarks)

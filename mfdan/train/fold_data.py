"""The data a LOSO fold trains and predicts on: the packed cache (flow, labels, ids) and the magnified frames
(training variants and the evaluation frame), in one sample order."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfdan.core.errors import DatasetError
from mfdan.core.rows import open_rows, read_strings
from mfdan.data.folds import fold_name, folds_fix


@dataclass
class FoldData:
    """The cached samples in memory: images for training (K variants) and evaluation, flow, labels, ids."""

    train_images: np.ndarray   # (N, K, S, S, 3) uint8
    eval_images: np.ndarray    # (N, S, S, 3) uint8
    flow: np.ndarray           # (N, 3, S, S) float32
    labels: np.ndarray         # (N,) int64
    folds: list[str]
    sample_ids: list[str]
    datasets: list[str]
    subjects: list[str]
    classes: list[str]


def load_data(cache: Path, magnified: Path) -> FoldData:
    with open_rows(cache, ("flow", "label", "sample_id", "dataset", "subject")) as c, \
            open_rows(magnified, ("train", "eval", "sample_id")) as m:
        ids = read_strings(c["sample_id"])
        if read_strings(m["sample_id"]) != ids:
            raise DatasetError(magnified, f"does not hold the samples of {cache} in order; rerun the magnify stage")
        datasets, subjects = read_strings(c["dataset"]), read_strings(c["subject"])
        return FoldData(train_images=m["train"][()], eval_images=m["eval"][()], flow=c["flow"][()],
                        labels=c["label"][()].astype(np.int64),
                        folds=[fold_name(d, s) for d, s in zip(datasets, subjects)], sample_ids=ids,
                        datasets=datasets, subjects=subjects, classes=json.loads(c.attrs["classes"]))


def check_sizes(data: FoldData, img_size: int, cache: Path) -> None:
    """The cache's frames and flow maps must already be at the model's input size (no silent resizing)."""
    sizes = {"magnified frames": data.eval_images.shape[1], "flow maps": data.flow.shape[-1]}
    bad = {k: v for k, v in sizes.items() if v != img_size}
    if bad:
        raise DatasetError(cache, f"{bad} do not match model.img_size {img_size}; set align.output_size and "
                                  f"flow.output_size to {img_size} in params.yaml (or model.img_size to theirs)")


def check_fold(fold: str, data: FoldData, cache: Path) -> None:
    """``fold`` must name a subject of the cache."""
    have = sorted(set(data.folds))
    if fold not in have:
        raise DatasetError(cache, f"fold {fold!r} names no subject of this cache; params.yaml `folds` should be "
                                  f"(`mfdan folds --cache {cache}`):\n{folds_fix(have)}")

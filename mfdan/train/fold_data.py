"""The data a LOSO fold trains and predicts on: the packed cache (flow, labels, ids) and the magnified frames
(training variants and the evaluation frame), in one sample order."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mfdan.core.errors import DatasetError
from mfdan.core.rows import open_rows, read_strings
from mfdan.data.folds import fold_name, folds_fix, held_out
from mfdan.model.registry import check_sizes as registry_check


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
    landmarks: np.ndarray | None = None   # (N, 68, 2) float32, dlib points on the aligned onset (pixels of S×S)

    def subset(self, idx: np.ndarray) -> "FoldData":
        """Samples ``idx`` alone, in that order (copies): what inner selection trains on, so it cannot read
        the held-out samples (:mod:`mfdan.train.inner_selection`)."""
        def pick(xs: list[str]) -> list[str]:
            return [xs[i] for i in idx]

        return FoldData(train_images=self.train_images[idx], eval_images=self.eval_images[idx], flow=self.flow[idx],
                        labels=self.labels[idx], folds=pick(self.folds), sample_ids=pick(self.sample_ids),
                        datasets=pick(self.datasets), subjects=pick(self.subjects), classes=list(self.classes),
                        landmarks=None if self.landmarks is None else self.landmarks[idx])


def load_data(cache: Path, magnified: Path) -> FoldData:
    with open_rows(cache, ("flow", "label", "sample_id", "dataset", "subject")) as c, \
            open_rows(magnified, ("train", "eval", "sample_id")) as m:
        ids = read_strings(c["sample_id"])
        if read_strings(m["sample_id"]) != ids:
            raise DatasetError(magnified, f"does not hold the samples of {cache} in order; rerun the magnify stage")
        datasets, subjects = read_strings(c["dataset"]), read_strings(c["subject"])
        landmarks = c["landmarks"][()].astype(np.float32) if "landmarks" in c else None
        return FoldData(landmarks=landmarks, train_images=m["train"][()], eval_images=m["eval"][()], flow=c["flow"][()],
                        labels=c["label"][()].astype(np.int64),
                        folds=[fold_name(d, s) for d, s in zip(datasets, subjects)], sample_ids=ids,
                        datasets=datasets, subjects=subjects, classes=json.loads(c.attrs["classes"]))


def check_sizes(data: FoldData, model_cfg: Any, cache: Path) -> None:
    """The cache against what ``model_cfg``'s architecture reads: MFDAN's input size exactly, a baseline's at
    least (it resizes down in its input step), landmarks where it reads them (no silent resizing up)."""
    registry_check(model_cfg, frames=data.eval_images.shape[1], flow=data.flow.shape[-1],
                   has_landmarks=data.landmarks is not None, source=cache)


def check_fold(fold: str, data: FoldData, cache: Path) -> None:
    """``fold`` must name a subject (LOSO) or a dataset (HDE) of the cache."""
    have = sorted(set(data.folds))
    if fold not in have and fold not in set(data.datasets):
        raise DatasetError(cache, f"fold {fold!r} names no subject or dataset of this cache; params.yaml `folds` "
                                  f"should be (`mfdan folds --cache {cache}`; `--evaluation hde`: the datasets):"
                                  f"\n{folds_fix(have)}")
    training = set(data.labels[~held_out(fold, data.datasets, data.subjects)].tolist())
    if len(training) < 2:
        raise DatasetError(cache, f"fold {fold!r} leaves {len(training)} class(es) to train on (holding out "
                                  f"{'the only dataset' if fold in set(data.datasets) else 'this subject'} of "
                                  "the cache); a fold needs the other samples to hold two classes or more")

"""Inner selection, ``train.budget: inner``: how long a fold trains (and, from a small fixed grid, at which
learning rate) is chosen for each outer fold by an inner split of **its training subjects only**; the network is
then trained on all of them for that long and scores the held-out subject once (docs/baselines.md, "Budget
rules"). Per outer fold F:

1. **the training samples only**: a copy of the data without F's samples (:meth:`FoldData.subset`), so nothing
   before the last step can read F's samples or labels;
2. **inner folds** (:func:`inner_groups`): the units F's protocol holds out — subjects under LOSO, datasets under
   HDE — among the training samples, shuffled by F's seed and cut into ``train.inner_folds`` groups;
3. **inner training**: for each candidate learning rate and each inner fold, one training of ``train.epochs``
   epochs on the other groups (:func:`mfdan.train.loop.train_fold`, seeded as the fold ``F/inner<j>``), which
   predicts the held-out group at the candidate epoch counts ``epochs·j // inner_points``, j = 1..inner_points;
4. **the choice** (:func:`choose`): the (learning rate, epochs) whose predictions, concatenated over the inner
   folds, score the highest UF1 — the outer protocol's metric; ties go to fewer epochs, then to the learning rate
   listed first;
5. **the outer fold**: :func:`mfdan.train.loop.train_fold` on every training sample with that learning rate for
   that many epochs, seeded as the recipe's fold F is, predicting F once.

Inner folds train on fewer samples than the outer fold, so an epoch there is fewer steps; the choice carries over
as epochs (each sample seen as often), not as steps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from mfdan.core.device import resolve_device
from mfdan.core.errors import NonFiniteError
from mfdan.data.folds import fold_seed, held_out
from mfdan.evaluate.metrics import uf1_uar
from mfdan.train.fold_data import FoldData
from mfdan.train.loop import FoldResult, Split, TrainConfig, predict, train_fold

SELECTION_INNER = ("inner selection: {epochs} epochs at lr {lr:g}, the best pooled UF1 ({uf1:.4f}) of {k} inner "
                   "folds of the training {unit}s; the test subject is never seen in training or model selection")


@dataclass(frozen=True)
class InnerFold:
    """One inner fold: the units it holds out and the sample indices (into the training-only data) of both sides."""

    units: list[str]
    train: np.ndarray
    val: np.ndarray


def candidate_epochs(cfg: TrainConfig) -> list[int]:
    """``epochs·j // inner_points`` for j = 1..inner_points, at least 1, each once."""
    return sorted({max(1, cfg.epochs * j // cfg.inner_points) for j in range(1, cfg.inner_points + 1)})


def inner_groups(fold: str, data: FoldData, cfg: TrainConfig, *, unit: str) -> list[InnerFold]:
    """``data`` (the outer fold's training samples) cut into inner folds by ``unit`` (``subject``: the
    ``<dataset>_<subject>`` names; ``dataset``), at most ``train.inner_folds`` of them, in a shuffle seeded by
    ``fold`` and ``train.seed``."""
    names = np.array(data.folds if unit == "subject" else data.datasets)
    units = sorted(set(names.tolist()))
    if len(units) < 2:
        raise ValueError(f"fold {fold}: its training samples hold {len(units)} {unit}(s); inner selection holds "
                         f"{unit}s out in turn and needs two or more (train.budget: recipe or steps)")
    rng = np.random.default_rng(fold_seed(f"{fold}/inner", cfg.seed))
    out = []
    for group in np.array_split(rng.permutation(units), min(cfg.inner_folds, len(units))):
        out_mask = np.isin(names, group)
        out.append(InnerFold(units=sorted(group.tolist()), train=np.flatnonzero(~out_mask),
                             val=np.flatnonzero(out_mask)))
    return out


def choose(scores: list[dict]) -> dict:
    """The row of ``scores`` ({lr, epochs, uf1}, in the grid's order) with the highest UF1; ties: fewer epochs,
    then the earlier row (the learning rate listed first)."""
    usable = [(i, r) for i, r in enumerate(scores) if r["uf1"] is not None]
    if not usable:
        raise NonFiniteError("every candidate learning rate's inner training diverged (non-finite loss); "
                             "lower train.lr / train.inner_lrs")
    return min(usable, key=lambda ir: (-ir[1]["uf1"], ir[1]["epochs"], ir[0]))[1]


def fit_inner(fold: str, data: FoldData, model_cfg: Any, cfg: TrainConfig, *, progress: bool = True,
              unit: str | None = None) -> FoldResult:
    """Outer fold ``fold`` under ``train.budget: inner`` (the module docstring's steps). ``unit``: what the inner
    folds hold out, ``subject`` or ``dataset``; by default the outer fold's own unit (an HDE fold is a dataset);
    the all-sample final model (which names neither) is told its protocol's."""
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    amp = cfg.amp and device.type == "cuda"
    unit = unit or ("dataset" if fold in set(data.datasets) else "subject")
    if unit not in ("subject", "dataset"):
        raise ValueError(f"inner selection's unit {unit!r}: expected subject or dataset")
    # 1. the training samples only
    training = data.subset(np.flatnonzero(~held_out(fold, data.datasets, data.subjects)))
    # 2. inner folds
    groups = inner_groups(fold, training, cfg, unit=unit)
    epochs = candidate_epochs(cfg)
    lrs = list(cfg.inner_lrs) or [cfg.lr]
    # 3. inner training: predictions of each inner fold's held-out units at every candidate epoch count
    scores = []
    for lr in lrs:
        inner_cfg = replace(cfg, lr=lr, budget="recipe")
        probs: dict[int, list[np.ndarray]] = {e: [] for e in epochs}
        try:
            for j, g in enumerate(groups):
                def checkpoint(epoch: int, model: torch.nn.Module, g: InnerFold = g) -> None:
                    if epoch in probs:
                        probs[epoch].append(predict(model, training, g.val, device, cfg.batch, amp))

                train_fold(f"{fold}/inner{j}", training, model_cfg, inner_cfg, progress=progress,
                           on_epoch=checkpoint, split=Split(train=g.train, val=g.val[:0], test=g.val))
        except NonFiniteError:
            scores += [{"lr": lr, "epochs": e, "uf1": None} for e in epochs]
            continue
        labels = np.concatenate([training.labels[g.val] for g in groups])
        for e in epochs:
            pred = np.concatenate(probs[e]).argmax(1)
            scores.append({"lr": lr, "epochs": e, "uf1": round(float(uf1_uar(labels, pred, len(data.classes))[0]), 6)})
    # 4. the choice
    best = choose(scores)
    # 5. the outer fold, once
    result = train_fold(fold, data, model_cfg, replace(cfg, epochs=best["epochs"], lr=best["lr"], budget="recipe"),
                        progress=progress)
    result.selection = SELECTION_INNER.format(epochs=best["epochs"], lr=best["lr"], uf1=best["uf1"],
                                              k=len(groups), unit=unit)
    result.inner = {"unit": unit, "groups": [g.units for g in groups], "candidates": scores, "chosen": best}
    result.seconds = time.perf_counter() - t0
    return result

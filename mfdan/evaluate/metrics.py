"""MER metrics over concatenated LOSO predictions (the MEGC2019 convention).

* UF1 (unweighted F1): the mean over classes of F1_c = 2·TP_c / (2·TP_c + FP_c + FN_c), counts summed over
  all folds' predictions concatenated (not averaged per fold);
* UAR (unweighted average recall): the mean over classes of TP_c / N_c.

A class with no samples and no predictions contributes F1 = 0 and is left out of UAR (its recall is
undefined), matching scikit-learn's ``f1_score(average="macro", zero_division=0)`` and
``recall_score(average="macro", zero_division=0)`` over the labels present. Folds are reported as named scalars.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """num_classes × num_classes counts, rows = true class, columns = predicted class."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def uf1_uar(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> tuple[float, float]:
    """(UF1, UAR) of the given predictions, classes 0..num_classes−1."""
    m = confusion(y_true, y_pred, num_classes)
    tp = np.diag(m).astype(np.float64)
    support = m.sum(axis=1).astype(np.float64)
    predicted = m.sum(axis=0).astype(np.float64)
    present = (support + predicted) > 0
    denom = 2 * tp + (predicted - tp) + (support - tp)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    uf1 = float(f1[present].mean()) if present.any() else 0.0
    uar = float(recall[support > 0].mean()) if (support > 0).any() else 0.0
    return uf1, uar

"""UF1 / UAR against scikit-learn's macro F1 and macro recall on concatenated predictions."""
import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from mfdan.evaluate.metrics import confusion, uf1_uar


def _sk(y, p, labels):
    present = sorted(set(y) | set(p))
    return (f1_score(y, p, labels=present, average="macro", zero_division=0),
            recall_score(y, p, labels=sorted(set(y)), average="macro", zero_division=0))


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn_on_concatenated_folds(seed):
    rng = np.random.default_rng(seed)
    folds = []
    for k in range(6):  # per-fold predictions; fold 2 has no class-2 sample at all
        n = int(rng.integers(3, 12))
        y = rng.integers(0, 3 if k != 2 else 2, n)
        p = np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n))
        folds.append((y, p))
    y = np.concatenate([f[0] for f in folds])
    p = np.concatenate([f[1] for f in folds])
    got = uf1_uar(y, p, 3)
    np.testing.assert_allclose(got, _sk(list(y), list(p), [0, 1, 2]))
    # the concatenated metric is not the mean of per-fold metrics
    per_fold = np.mean([uf1_uar(a, b, 3)[0] for a, b in folds])
    assert not np.isclose(per_fold, got[0])


def test_class_absent_everywhere_and_perfect_predictions():
    assert uf1_uar([0, 1, 1], [0, 1, 1], 3) == (1.0, 1.0)  # class 2 never occurs nor is predicted
    uf1, uar = uf1_uar([0, 0, 1], [0, 2, 1], 3)  # class 2 predicted but never true: F1_2 = 0
    np.testing.assert_allclose([uf1, uar], _sk([0, 0, 1], [0, 2, 1], [0, 1, 2]))
    assert confusion([0, 0, 1], [0, 2, 1], 3).tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]

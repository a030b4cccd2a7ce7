"""Budget rules (train.budget): equal steps gives every method the same number of optimizer steps; inner selection
picks the epochs (and learning rate) on the training subjects only and never reads the held-out subject before
its one prediction."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mfdan.train import loop
from mfdan.train.inner_selection import candidate_epochs, choose, fit_inner, inner_groups
from mfdan.train.fold import fit_fold
from mfdan.train.loop import Split, TrainConfig, train_fold, write_fold
from tests.toys import TINY_MFDAN, toy_fold_data

SUBJECTS = [f"s{i}" for i in range(6) for _ in range(4)]          # 6 subjects, 4 samples each
INNER = TrainConfig(epochs=4, batch=4, lr=3e-3, device="cpu", threads=1, budget="inner", inner_folds=3,
                    inner_points=4)


def hde_data():
    """Three toy datasets (a, b, c) of two subjects each, as one fold data."""
    parts = [toy_fold_data(SUBJECTS[8 * i:8 * i + 8], dataset=d, seed=i) for i, d in enumerate("abc")]

    def cat(name):
        return np.concatenate([getattr(p, name) for p in parts])

    return dataclasses.replace(
        parts[0], train_images=cat("train_images"), eval_images=cat("eval_images"), flow=cat("flow"),
        labels=cat("labels"), folds=sum((p.folds for p in parts), []), sample_ids=[f"t{i}" for i in range(24)],
        datasets=sum((p.datasets for p in parts), []), subjects=sum((p.subjects for p in parts), []))


def training_forwards(monkeypatch) -> list[int]:
    """Counts the batches the training loop steps on (forwards in training mode), one list entry per batch."""
    seen: list[int] = []
    real = loop.forward

    def counting(model, inputs):
        if model.training:
            seen.append(len(inputs["flow"]))
        return real(model, inputs)

    monkeypatch.setattr(loop, "forward", counting)
    return seen


@pytest.mark.parametrize("batch", [3, 5, 24])
def test_equal_steps_give_every_batch_size_the_same_optimizer_steps(monkeypatch, batch):
    """20 training samples: 7, 4 or 1 batches an epoch; budget steps 9 trains exactly 9 steps for each (the last
    epoch cut short), and the recipe trains epochs x batches."""
    data = toy_fold_data(SUBJECTS)
    seen = training_forwards(monkeypatch)
    cfg = TrainConfig(epochs=2, batch=batch, device="cpu", threads=1, budget="steps", steps=9)
    r = train_fold("d_s0", data, TINY_MFDAN, cfg, progress=False)
    per_epoch = -(-20 // batch)
    assert len(seen) == 9
    assert len(r.curve) == -(-9 // per_epoch)
    assert "9-step schedule" in r.selection
    seen.clear()
    train_fold("d_s0", data, TINY_MFDAN, dataclasses.replace(cfg, budget="recipe"), progress=False)
    assert len(seen) == 2 * per_epoch


def test_inner_groups_hold_out_training_units_only():
    """LOSO: the training subjects, cut into inner_folds groups that partition them; HDE: one group per
    training dataset. No group holds the outer fold's units."""
    data = toy_fold_data(SUBJECTS)
    training = data.subset(np.flatnonzero(np.array(data.folds) != "d_s0"))
    groups = inner_groups("d_s0", training, INNER, unit="subject")
    assert len(groups) == 3
    assert sorted(u for g in groups for u in g.units) == [f"d_s{i}" for i in range(1, 6)]
    for g in groups:
        assert set(np.array(training.folds)[g.val]) == set(g.units)
        assert not set(np.array(training.folds)[g.train]) & set(g.units)
        assert len(g.train) + len(g.val) == 20
    hde = hde_data()
    training = hde.subset(np.flatnonzero(np.array(hde.datasets) != "a"))
    groups = inner_groups("a", training, INNER, unit="dataset")
    assert sorted(g.units for g in groups) == [["b"], ["c"]]
    with pytest.raises(ValueError, match="hold 1 dataset"):
        inner_groups("a", hde.subset(np.flatnonzero(np.array(hde.datasets) == "b")), INNER, unit="dataset")


def test_candidate_epochs_and_the_choice():
    assert candidate_epochs(dataclasses.replace(INNER, epochs=10, inner_points=8)) == [1, 2, 3, 5, 6, 7, 8, 10]
    assert candidate_epochs(dataclasses.replace(INNER, epochs=3, inner_points=8)) == [1, 2, 3]
    rows = [{"lr": 1e-3, "epochs": 2, "uf1": 0.5}, {"lr": 1e-3, "epochs": 4, "uf1": 0.7},
            {"lr": 3e-3, "epochs": 2, "uf1": 0.7}, {"lr": 3e-3, "epochs": 4, "uf1": None}]
    assert choose(rows) == rows[2]       # tie at 0.7: fewer epochs
    rows[2]["epochs"] = 4
    assert choose(rows) == rows[1]       # tie at 0.7 and 4 epochs: the lr listed first
    with pytest.raises(Exception, match="diverged"):
        choose([{"lr": 1.0, "epochs": 1, "uf1": None}])


def test_inner_selection_never_reads_the_held_out_subject():
    """Scrambling the held-out subject's labels, frames and flow changes nothing before its one prediction: the
    inner folds' scores, the choice, the training curve and the final weights are the same; only what is
    predicted for it differs (its inputs changed)."""
    data = toy_fold_data(SUBJECTS)
    out = np.array(data.folds) == "d_s2"
    rng = np.random.default_rng(7)
    scrambled = dataclasses.replace(
        data, labels=np.where(out, (data.labels + 1) % 3, data.labels),
        flow=np.where(out[:, None, None, None], rng.normal(size=data.flow.shape).astype(np.float32), data.flow),
        train_images=np.where(out[:, None, None, None, None], 255 - data.train_images, data.train_images),
        eval_images=np.where(out[:, None, None, None], 255 - data.eval_images, data.eval_images))
    a = fit_fold("d_s2", data, TINY_MFDAN, INNER, progress=False)
    b = fit_fold("d_s2", scrambled, TINY_MFDAN, INNER, progress=False)
    assert a.inner == b.inner and a.curve == b.curve and a.selection == b.selection
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert not np.array_equal(a.probs, b.probs)
    # the final training is the chosen number of epochs at the chosen lr, predicted once
    assert len(a.curve) == a.inner["chosen"]["epochs"] == a.epoch_used
    assert a.probs.shape == (4, 3)
    assert "inner selection" in a.selection and "3 inner folds of the training subjects" in a.selection


def test_inner_checkpoints_are_what_a_shorter_training_predicts():
    """The inner score at e epochs comes from predictions taken during one longer training; they equal those of
    a training stopped at e epochs (taking them does not disturb the training)."""
    data = toy_fold_data(SUBJECTS)
    split = Split(train=np.arange(8, 24), val=np.arange(0), test=np.arange(8))
    cfg = dataclasses.replace(INNER, budget="recipe")
    taken = {}

    def checkpoint(epoch, model):
        taken[epoch] = loop.predict(model, data, split.test, torch.device("cpu"), cfg.batch, False)

    train_fold("d_x/inner0", data, TINY_MFDAN, cfg, progress=False, on_epoch=checkpoint, split=split)
    short = train_fold("d_x/inner0", data, TINY_MFDAN, dataclasses.replace(cfg, epochs=2), progress=False,
                       split=split)
    np.testing.assert_array_equal(taken[2], short.probs)


def test_inner_selection_with_a_learning_rate_grid_and_hde(tmp_path):
    """HDE outer fold: inner folds are the training datasets; a grid of two learning rates gives two rows per
    epoch count, and meta.json records the candidates and the choice."""
    data = hde_data()
    cfg = dataclasses.replace(INNER, inner_lrs=(1e-3, 1e-2))
    r = fit_inner("a", data, TINY_MFDAN, cfg, progress=False)
    assert r.inner["unit"] == "dataset" and sorted(r.inner["groups"]) == [["b"], ["c"]]
    assert [c["lr"] for c in r.inner["candidates"]] == [1e-3] * 4 + [1e-2] * 4
    assert r.inner["chosen"] in r.inner["candidates"]
    meta = write_fold(tmp_path / "fold", r, data, TINY_MFDAN, cfg)
    assert meta["inner"]["chosen"] == r.inner["chosen"] and meta["train"]["budget"] == "inner"


def test_budget_settings_are_checked():
    with pytest.raises(ValueError, match="budget must be one of"):
        TrainConfig(budget="longest")
    with pytest.raises(ValueError, match="val_subjects"):
        TrainConfig(budget="inner", val_subjects=2)


def test_the_final_model_takes_its_protocols_unit_and_train_fold_refuses_inner():
    """The all-sample final model names no subject or dataset: under HDE its inner folds hold out datasets, as
    the HDE folds' did (train_final passes the LOSO metrics' protocol); and the bare loop refuses budget inner,
    which would otherwise train the ceiling's epochs with no selection."""
    data = hde_data()
    r = fit_fold("final", data, TINY_MFDAN, INNER, progress=False, inner_unit="dataset")
    assert r.inner["unit"] == "dataset" and sorted(map(tuple, r.inner["groups"])) == [("a",), ("b",), ("c",)]
    assert fit_fold("final", data, TINY_MFDAN, INNER, progress=False).inner["unit"] == "subject"
    with pytest.raises(ValueError, match="fit_fold"):
        train_fold("a", data, TINY_MFDAN, INNER, progress=False)
    with pytest.raises(ValueError, match="unit"):
        fit_inner("final", data, TINY_MFDAN, INNER, progress=False, unit="clip")

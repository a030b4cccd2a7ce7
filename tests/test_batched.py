"""The fold-batched engine (mfdan.train.batched) against the per-fold engine (mfdan.train.loop), the stacked
optimizers against the libraries, and the pieces that make padding exact (masked loss, masked batch norm).

Equivalence is checked in float64: the two engines compute the same sums in different orders, and in float32
Adam-type optimizers turn rounding-level gradient differences into whole steps wherever a gradient is near
zero (they divide by its running magnitude), so float32 trajectories part after a few dozen steps at the
demo's learning rate. In float64 the same few dozen steps agree to 1e-7 or better."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mfdan.model.registry import ARCHITECTURES, config_class
from mfdan.train.batched import GroupTask, masked_batch_norm, train_group
from mfdan.train.fold import fit_fold
from mfdan.train.loop import TrainConfig, train_fold
from mfdan.train.losses import LOSSES, build_loss, masked_loss
from mfdan.train.optim import build_optimizer
from mfdan.train.stacked_optim import PER_TASK_FROM, StackedOptimizer
from tests.test_baselines import SIZE, SMALL, canonical_landmarks
from tests.toys import TINY_MFDAN, toy_fold_data

BETAS = {"adan": (0.98, 0.92, 0.99), "adam": (0.9, 0.999), "adamw": (0.9, 0.999), "sgd": (0.9, 0.999)}


@pytest.mark.parametrize("name", sorted(BETAS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.02])
def test_stacked_optimizers_follow_the_libraries_task_by_task(name, weight_decay):
    """K tasks on one stack, random masks (a masked task neither moves nor counts a step): each task's weights
    are those of its own library optimizer stepped only where its mask was set. A small tensor takes the stacked
    update, a large one the task-by-task path."""
    torch.manual_seed(0)
    k = 3
    shapes = {"small": (5, 4), "large": (PER_TASK_FROM,)}
    init = {n: torch.randn(k, *s) for n, s in shapes.items()}
    stack = {n: v.clone() for n, v in init.items()}
    opt = StackedOptimizer(stack, name, tasks=k, lr=1e-2, weight_decay=weight_decay, betas=BETAS[name])
    singles = [{n: init[n][i].clone().requires_grad_(True) for n in shapes} for i in range(k)]
    libs = [build_optimizer(list(s.values()), name, lr=1e-2, weight_decay=weight_decay, betas=BETAS[name])
            for s in singles]
    masks = torch.rand(25, k) < 0.7
    masks[:3] = True  # every task at one step: the scalar path
    for mask in masks:
        grads = {n: torch.randn(k, *s) for n, s in shapes.items()}
        opt.step(grads, mask)
        for i in range(k):
            if mask[i]:
                for n in shapes:
                    singles[i][n].grad = grads[n][i].clone()
                libs[i].step()
    for i in range(k):
        for n in shapes:
            torch.testing.assert_close(stack[n][i], singles[i][n].detach(), rtol=1e-6, atol=1e-7)
    assert opt.steps.tolist() == masks.sum(0).tolist()


@pytest.mark.parametrize("name", LOSSES)
def test_masked_loss_is_the_library_loss_over_the_kept_samples(name):
    torch.manual_seed(0)
    logits, target = torch.randn(7, 3), torch.tensor([0, 1, 2, 0, 1, 2, 2])
    keep = torch.tensor([1, 1, 0, 1, 0, 1, 1], dtype=torch.bool)
    for weights in (None, [1.0, 2.0, 0.5]):
        fn = build_loss(name, num_classes=3, class_weights=weights)
        torch.testing.assert_close(masked_loss(fn, logits, target, keep), fn(logits[keep], target[keep]))
    assert masked_loss(fn, logits, target, torch.zeros(7, dtype=torch.bool)) == 0


def test_masked_batch_norm_is_batch_norm_over_the_kept_samples():
    torch.manual_seed(0)
    x, keep = torch.randn(6, 4, 5, 5), torch.tensor([1, 0, 1, 1, 0, 1], dtype=torch.bool)
    bn = torch.nn.BatchNorm2d(4).train()
    y, stats = masked_batch_norm(bn, x, keep)
    ref = torch.nn.BatchNorm2d(4).train()
    torch.testing.assert_close(y[keep], ref(x[keep]), rtol=1e-5, atol=1e-5)
    for k in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(stats[k], getattr(ref, k), rtol=1e-5, atol=1e-6)
    _, none = masked_batch_norm(bn, x, torch.zeros(6, dtype=torch.bool))  # no sample: statistics unchanged
    assert torch.equal(none["running_mean"], bn.running_mean) and none["num_batches_tracked"] == 0


def test_masked_batch_norm_gradients_are_exact():
    """Its gradients against finite differences, float64 (the input's, kept and padded samples, the gain's and the
    shift's); and, over the kept samples, against the library's batch norm."""
    torch.manual_seed(0)
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    keep = torch.tensor([1, 1, 0, 1, 0], dtype=torch.bool)
    bn = torch.nn.BatchNorm2d(3).double().train()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    assert torch.autograd.gradcheck(lambda x_: masked_batch_norm(bn, x_, keep)[0], (x,))
    def affine(w_, b_):  # the gain and shift varied: a stand-in module holding them, no running statistics
        norm = SimpleNamespace(weight=w_, bias=b_, eps=bn.eps, affine=True, track_running_stats=False)
        return masked_batch_norm(norm, x.detach(), keep)[0]

    assert torch.autograd.gradcheck(affine, (bn.weight.detach().clone().requires_grad_(True),
                                             bn.bias.detach().clone().requires_grad_(True)))
    g = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    g[~keep] = 0  # the masked loss gives padding no gradient: then the kept samples' are batch norm's own
    y, _ = masked_batch_norm(bn, x, keep)
    (dx,) = torch.autograd.grad((y * g).sum(), x)
    ref = torch.nn.BatchNorm2d(3).double().train()
    ref.load_state_dict(bn.state_dict())
    xk = x.detach()[keep].clone().requires_grad_(True)
    (dk,) = torch.autograd.grad((ref(xk) * g[keep]).sum(), xk)
    torch.testing.assert_close(dx[keep], dk)


def toy(size: int = 32) -> "object":
    """Subjects of unequal sizes (so folds train on different numbers of samples: different last batches and
    steps per epoch), two magnification variants, landmarks, float64 flow (the float64 runs)."""
    subjects = ["s0"] * 5 + ["s1"] * 9 + ["s2"] * 7 + ["s3"] * 4
    n = len(subjects)
    rng = np.random.default_rng(1)
    labels = rng.permutation(np.arange(n) % 3)
    flow = rng.normal(0, 0.3, (n, 3, size, size))
    flow[:, 0] += labels[:, None, None] * 0.5
    return toy_fold_data(subjects, size=size, variants=2, dataset="toy", flow=flow, labels=labels,
                         landmarks=canonical_landmarks(size, n).astype(np.float64))


def model_config(name: str, size: int):
    if name == "mfdan":
        return dataclasses.replace(TINY_MFDAN, img_size=size, dropkey=0.0)
    cfg = config_class(name)(num_classes=3, **SMALL.get(name, {}))
    fields = {f.name for f in dataclasses.fields(cfg)}
    return dataclasses.replace(cfg, **({"dropout": 0.0} if "dropout" in fields else {}))


def size_of(name: str) -> int:
    """The toy's side: TINY_MFDAN's 32 px, SSSNet's smallest (48, tests.test_baselines.SIZE) for the rest."""
    return 32 if name == "mfdan" else SIZE


#: a different recipe per architecture, so every optimizer and loss goes through the group at least once
RECIPES = {"mfdan": dict(optimizer="adan", loss="focal", lr=3e-3, weight_decay=0.02),
           "ststnet": dict(optimizer="adam", loss="ce", lr=5e-3),
           "off_apexnet": dict(optimizer="adamw", loss="focal", lr=1e-3, weight_decay=0.01, class_weights=(1.0, 2.0, 1.0)),
           "dual_inception": dict(optimizer="sgd", loss="nll", lr=1e-2),
           "sssnet": dict(optimizer="adam", loss="kl", lr=1e-3, balanced_sampling=True),
           "htnet": dict(optimizer="adan", loss="ce", lr=1e-3),
           "bi_woof": {}}


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_a_group_trains_what_the_per_fold_engine_trains(name, float64):
    """Random parts off (dropout, DropKey 0; the variant draws are each task's own stream in both engines):
    three tasks — two folds of seed 0, one of seed 1, folds of unequal sizes — for 4 epochs at batch 4 (a few
    dozen steps, every last batch padded) give the per-fold engine's losses, weights and predictions."""
    data = toy(size_of(name))
    cfg = model_config(name, size_of(name))
    train = TrainConfig(epochs=4, batch=4, device="cpu", threads=1, seed=0, **RECIPES[name])
    tasks = [GroupTask("toy_s0", 0), GroupTask("toy_s2", 0), GroupTask("toy_s0", 1)]
    got = train_group(tasks, data, cfg, train, progress=False)
    for t, g in zip(tasks, got):
        assert not isinstance(g, Exception), g
        ref = fit_fold(t.fold, data, cfg, dataclasses.replace(train, seed=t.seed), progress=False)
        np.testing.assert_array_equal(g.split.test, ref.split.test)
        np.testing.assert_allclose(g.probs, ref.probs, rtol=1e-7, atol=1e-9)
        if name == "bi_woof":
            continue
        assert [r["epoch"] for r in g.curve] == [r["epoch"] for r in ref.curve]
        np.testing.assert_allclose([r["train_loss"] for r in g.curve], [r["train_loss"] for r in ref.curve],
                                   rtol=1e-9, atol=1e-10)
        assert [r["train_acc"] for r in g.curve] == [r["train_acc"] for r in ref.curve]
        want = ref.model.state_dict()
        for k, v in g.model.state_dict().items():
            torch.testing.assert_close(v, want[k], rtol=1e-6, atol=1e-7, msg=f"{name} {t}: {k}")


def test_early_stopping_is_per_task(float64):
    """Validation subjects carved from each task's training subjects, patience 1: each member stops at its own
    epoch and keeps its own best epoch, as the per-fold engine does."""
    data = toy()
    cfg = model_config("mfdan", 32)
    train = TrainConfig(epochs=6, batch=4, device="cpu", threads=1, lr=3e-3, val_subjects=1, patience=1)
    tasks = [GroupTask("toy_s0", 0), GroupTask("toy_s1", 0), GroupTask("toy_s3", 2)]
    for t, g in zip(tasks, train_group(tasks, data, cfg, train, progress=False)):
        ref = train_fold(t.fold, data, cfg, dataclasses.replace(train, seed=t.seed), progress=False)
        assert (g.epoch_used, len(g.curve), g.selection) == (ref.epoch_used, len(ref.curve), ref.selection)
        np.testing.assert_allclose(g.probs, ref.probs, rtol=1e-7, atol=1e-9)


def test_equal_steps_per_task_in_a_group(float64):
    """Budget steps: folds of unequal size have different steps per epoch, so a group's members run different
    numbers of epochs, each stopping at the same step count mid-epoch, as the per-fold engine does."""
    data = toy()
    cfg = model_config("mfdan", 32)
    train = TrainConfig(epochs=1, batch=4, device="cpu", threads=1, lr=3e-3, budget="steps", steps=11)
    tasks = [GroupTask("toy_s1", 0), GroupTask("toy_s3", 1)]   # 16 and 21 training samples: 4 and 6 steps an epoch
    got = train_group(tasks, data, cfg, train, progress=False)
    assert [len(g.curve) for g in got] == [3, 2]
    for t, g in zip(tasks, got):
        ref = train_fold(t.fold, data, cfg, dataclasses.replace(train, seed=t.seed), progress=False)
        assert (len(g.curve), g.selection) == (len(ref.curve), ref.selection)
        np.testing.assert_allclose([r["train_loss"] for r in g.curve], [r["train_loss"] for r in ref.curve],
                                   rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(g.probs, ref.probs, rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match="per-fold engine"):
        train_group(tasks, data, cfg, dataclasses.replace(train, budget="inner"), progress=False)


def test_with_randomness_on_a_group_is_deterministic():
    """DropKey 0.3 and dropout: the group's draws are its own (one generator for the group), the same twice."""
    data = toy()
    data.flow = data.flow.astype(np.float32)
    data.landmarks = data.landmarks.astype(np.float32)
    cfg = dataclasses.replace(model_config("mfdan", 32), dropkey=0.3, dropout=0.2)
    train = TrainConfig(epochs=2, batch=4, device="cpu", threads=1, lr=3e-3)
    tasks = [GroupTask("toy_s0", 0), GroupTask("toy_s1", 0)]
    a, b = (train_group(tasks, data, cfg, train, progress=False) for _ in range(2))
    for x, y in zip(a, b):
        assert np.array_equal(x.probs, y.probs) and x.curve == y.curve
    ref = train_fold("toy_s0", data, cfg, train, progress=False)
    assert not np.array_equal(a[0].probs, ref.probs)  # the draws inside the network are the group's, not the fold's


def test_a_task_whose_loss_is_not_finite_fails_alone():
    """One sample of subject s2 with infinite flow. The task that trains on it fails in training (its fold, seed
    and epoch named); the task that holds s2 out trains to the end untouched by its neighbour's NaNs and fails
    only where the per-fold engine fails, predicting the infinite sample. The group returns both errors
    instead of raising."""
    data = toy(SIZE)
    data.flow = data.flow.astype(np.float32)
    data.landmarks = data.landmarks.astype(np.float32)
    data.flow[np.flatnonzero(np.array(data.subjects) == "s2")[0]] = np.inf
    cfg = model_config("ststnet", SIZE)
    train = TrainConfig(epochs=2, batch=4, device="cpu", threads=1, optimizer="adam", loss="ce", lr=1e-3)
    held, trains = train_group([GroupTask("toy_s2", 0), GroupTask("toy_s0", 0)], data, cfg, train, progress=False)
    assert isinstance(trains, ArithmeticError) and "fold toy_s0 (seed 0), epoch 1: training loss" in str(trains)
    assert isinstance(held, ArithmeticError) and "fold toy_s2 (seed 0): predicted probabilities" in str(held)
    with pytest.raises(ArithmeticError, match="fold toy_s2: predicted probabilities"):
        train_fold("toy_s2", data, cfg, train, progress=False)


def test_htnet_regions_gather_equals_the_crops():
    from mfdan.baselines.htnet import regions_image, regions_image_loop

    torch.manual_seed(0)
    for region, size in ((14, 28), (4, 16), (6, 13)):
        flow = torch.randn(3, 3, size, size)
        centres = torch.randint(region // 2, size - region // 2 + 1, (3, 4, 2))
        assert torch.equal(regions_image(flow, centres, region), regions_image_loop(flow, centres, region))


def test_a_sweep_task_key_covers_the_code_a_group_runs():
    """Every in-repo module a worker's task imports (mfdan.sweep.tasks and what it reaches, the batched engine
    included) is in the code digest of the task keys: a change to any of them keys the results anew."""
    from pathlib import Path

    from mfdan.sweep.tasks import code_files
    from tests.dvc_deps import closure

    repo = Path(__file__).resolve().parents[1]
    covered = set()
    for f in code_files(repo):
        p = repo / f
        covered |= {x.relative_to(repo).as_posix() for x in p.rglob("*.py")} if p.is_dir() else {f}
    needed = {f for f in closure("mfdan/sweep/tasks.py", repo).files if f.startswith("mfdan/")}
    assert "mfdan/train/batched.py" in needed and not needed - covered, sorted(needed - covered)


def test_groups_pack_one_arm_in_order_and_the_automatic_size_fits_workers_and_memory():
    from mfdan.sweep.groups import auto_size, pack, resolve_engine, task_bytes

    arms = ["a", "a", "b", "a", "b", "a", "c"]
    assert pack(arms, {"a": 2, "b": 5}) == [[0, 1], [2, 4], [3, 5]]  # c: not grouped (size 0)
    assert auto_size(60, 2, None, None) == 30 and auto_size(600, 2, None, None) == 64
    assert auto_size(60, 2, memory=10 * 2**20, per_task=2**20) == 5 and auto_size(60, 2, 2**20, 2**30) == 1
    small = task_bytes(model_config("ststnet", SIZE), 4, SIZE, SIZE)
    assert task_bytes(model_config("ststnet", SIZE), 64, SIZE, SIZE) > small > 0
    assert (resolve_engine("auto", {"cuda"}), resolve_engine("auto", {"cpu"}), resolve_engine("per-fold", {"cuda"})) \
        == ("batched", "per-fold", "per-fold")
    with pytest.raises(ValueError, match="--engine"):
        resolve_engine("fast", set())

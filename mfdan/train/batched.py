"""Fold-batched training: K tasks of one architecture and recipe — different folds, training seeds (and, for
inner selection, inner folds) — trained as one vectorised model.

Why: the networks compared here are small (STSTNet 1,683 parameters; the demo's HTNet 0.35 M). One fold cannot
fill a GPU: its steps are kernel launches with little work each. Trained side by side, K folds make one launch
per operation instead of K. On a CPU, where a fold's batch already keeps a core busy, it measured slower than
the per-fold engine for the convolutional baselines (bench/batched.py, docs/sweeps.md), so ``mfdan sweep``
uses it on CUDA workers unless told otherwise.

How (``torch.func``): the K models are built exactly as the per-fold engine builds each (its seed, its
initialisation), then their parameters and persistent buffers (batch-norm statistics) are stacked along a new
first axis (:class:`ModelStack`). A step runs ``vmap(grad_and_value(loss of functional_call(model, task's
weights, task's batch)))`` over the stack: convolutions become grouped convolutions, linear layers batched
products, and each task's gradient is that of its own loss (its batch's mean).
:class:`mfdan.train.stacked_optim.StackedOptimizer` then updates each task's slice.

What stays per task, as in :func:`mfdan.train.loop.train_fold`: the split and the fold seed
(:func:`mfdan.data.folds.fold_seed` of the fold and that task's ``train.seed``), the initial weights, each epoch's
sample order and magnification variant draw (the task's own NumPy stream, drawn in the per-fold engine's
order), the optimizer state and step count, early stopping on the task's validation subjects, the selection and
the one prediction of the held-out samples (each task's model materialised and run by the per-fold engine's
:func:`mfdan.train.loop.predict`), and its schedule: ``train.epochs``, or under ``train.budget: steps`` as many
epochs as its ``train.steps`` need (a task with more training samples has more steps an epoch, so fewer
epochs). ``train.budget: inner`` trains on the per-fold engine (:mod:`mfdan.train.inner_selection`; a sweep
does not group it).

Folds differ in size, so tasks have different numbers of steps per epoch and different last-batch sizes (with
the baselines' batch of 256, every fold's one batch is its whole, differently sized training set). Each step
pads every task's batch to the step's largest with weight-0 samples: the loss is each task's weighted mean over
its real samples (:func:`mfdan.train.losses.masked_loss`), batch norm takes its statistics over them alone
(:func:`masked_batch_norm`, swapped into the stepping copy of the network), and the optimizer steps under a
mask: a task without a batch — its epoch done, or stopped early — keeps its parameters and optimizer state.

What differs: the random draws *inside* the network (dropout, DropKey) come from one generator seeded for the
group (:func:`group_seed`) through ``vmap(randomness="different")``, not from each fold's own stream: with them
on, results are deterministic for a group but not the per-fold engine's bytes, and a sweep keys them apart
(the engine and the group's members are in the key). With them off, the two engines agree to float tolerance
(tests/test_batched.py, every architecture, in float64). A task whose loss stops being finite fails alone; the
others go on. Mixed precision (CUDA) scales each task's loss by its own :class:`TaskScaler`.
"""
from __future__ import annotations

import copy
import time
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.func import functional_call, grad_and_value, vmap
from torch.nn.modules.batchnorm import _BatchNorm

from mfdan.core.device import deterministic, keep_freed_memory, resolve_device
from mfdan.core.errors import NonFiniteError, check_finite
from mfdan.core.progress import Progress
from mfdan.data.folds import fold_seed
from mfdan.evaluate.metrics import uf1_uar
from mfdan.model.registry import arch_of, build
from mfdan.train.fold import fit_fold
from mfdan.train.fold_data import FoldData
from mfdan.train.loop import (SELECTION_VAL, FoldResult, Selection, Split, TrainConfig,
                              epoch_order, predict, schedule, selection_fixed, set_threads,
                              split_fold)
from mfdan.train.losses import at_least_float, build_loss, masked_loss
from mfdan.train.stacked_optim import StackedOptimizer

@dataclass(frozen=True)
class GroupTask:
    """One member of a group: the fold it holds out and its ``train.seed``."""

    fold: str
    seed: int


def group_seed(tasks: list[GroupTask]) -> int:
    """The seed of the group's in-network random draws (dropout, DropKey): its members, in order."""
    return zlib.crc32("|".join(f"{t.fold}@{t.seed}" for t in tasks).encode())


def masked_batch_norm(bn: _BatchNorm, x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Batch norm in training mode over the samples ``keep`` (B,) weighs 1 (the padding: 0): the statistics
    ``F.batch_norm`` takes (biased variance to normalise, unbiased into the running variance, ``momentum``
    or the cumulative average when it is None), over the kept samples. Returns the output and the module's new
    running statistics (computed, not written: the caller stores them); a task with no kept sample keeps its
    statistics. x: (B, C, ...)."""
    dims = [0, *range(2, x.dim())]
    shape = [1, -1] + [1] * (x.dim() - 2)                                 # per channel, broadcast over x
    w = keep.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))                # (B, 1, ...)
    count = keep.to(x.dtype).sum() * x[0, 0].numel()                     # values per channel
    mean = (x * w).sum(dims) / count.clamp_min(1)                          # (C,)
    centred = x - mean.view(shape)
    var = (centred.square() * w).sum(dims) / count.clamp_min(1)            # (C,), biased
    y = centred * torch.rsqrt(var.view(shape) + bn.eps)
    if bn.affine:
        y = y * bn.weight.view(shape) + bn.bias.view(shape)
    stats = {}
    if bn.track_running_stats:
        seen = count > 0
        mean, var = mean.detach(), var.detach()
        tracked = bn.num_batches_tracked + seen.to(bn.num_batches_tracked.dtype)
        f = bn.momentum if bn.momentum is not None else 1.0 / tracked.clamp_min(1).to(x.dtype)
        unbiased = var * count / (count - 1).clamp_min(1)
        stats = {"running_mean": torch.where(seen, bn.running_mean * (1 - f) + mean * f, bn.running_mean),
                 "running_var": torch.where(seen, bn.running_var * (1 - f) + unbiased * f, bn.running_var),
                 "num_batches_tracked": tracked}
    return y, stats


class ModelStack:
    """K models of one architecture as stacked tensors: ``params`` (name -> (K, ...)) and ``buffers`` (the
    persistent ones, name -> (K, ...): batch-norm statistics). ``network`` is the copy whose forward a step
    runs (:func:`torch.func.functional_call` swaps each task's weights in; its batch norms read the step's
    sample mask and hand back their new statistics, :func:`masked_batch_norm`); :meth:`model` materialises one
    task as the architecture's own module."""

    def __init__(self, models: list[torch.nn.Module]) -> None:
        self.pristine = models[0]
        persistent = set(self.pristine.state_dict())
        per_model = [dict(m.named_parameters()) for m in models]
        self.params = {n: torch.stack([p[n].detach() for p in per_model]) for n, _ in self.pristine.named_parameters()}
        per_model_b = [dict(m.named_buffers()) for m in models]
        self.buffers = {n: torch.stack([b[n] for b in per_model_b])
                        for n, _ in self.pristine.named_buffers() if n in persistent}
        self.size = len(models)
        self.network = copy.deepcopy(self.pristine)
        self.norms = {name: m for name, m in self.network.named_modules() if isinstance(m, _BatchNorm)}
        for bn in self.norms.values():
            bn.forward = lambda x, bn=bn: self._norm(bn, x)  # the instance's forward, not the class's

    def _norm(self, bn: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
        y, bn.new_stats = masked_batch_norm(bn, x, bn.keep)
        return y

    def run(self, params: dict, buffers: dict, keep: torch.Tensor, inputs: tuple) -> tuple[torch.Tensor, dict]:
        """One task's logits and new buffers (called under ``vmap``): ``network`` with its weights, ``keep``
        its sample mask."""
        for bn in self.norms.values():
            bn.keep, bn.new_stats = keep, {}
        try:
            logits = functional_call(self.network, (params, buffers), inputs)
            new = {f"{name}.{k}": v for name, bn in self.norms.items() for k, v in bn.new_stats.items()}
        finally:
            for bn in self.norms.values():
                bn.keep, bn.new_stats = None, {}
        return logits, new

    def state(self, i: int) -> dict[str, torch.Tensor]:
        """Task ``i``'s state_dict (copies)."""
        return {n: t[i].detach().clone() for n, t in {**self.params, **self.buffers}.items()}

    def model(self, state: dict[str, torch.Tensor]) -> torch.nn.Module:
        """A standalone model of the architecture holding ``state`` (what the per-fold engine would have
        trained); the non-persistent buffers are the architecture's constants."""
        m = copy.deepcopy(self.pristine)
        m.load_state_dict(state, strict=False)
        return m


class TaskScaler:
    """``torch.amp.GradScaler`` per task (its defaults: scale 2¹⁶, ×2 after 2,000 finite steps, ×½ on an
    overflow, the step skipped): mixed precision on CUDA. Disabled, it scales by one and skips nothing."""

    def __init__(self, tasks: int, device: torch.device, enabled: bool) -> None:
        self.enabled = enabled
        self.scale = torch.full((tasks,), 2.0 ** 16 if enabled else 1.0, device=device)
        self.tracker = torch.zeros(tasks, dtype=torch.int64, device=device)

    def unscale(self, grads: dict[str, torch.Tensor]) -> torch.Tensor:
        """Divide each task's gradients by its scale; (K,) True where a task's gradients are not finite."""
        found = torch.zeros_like(self.scale, dtype=torch.bool)
        if not self.enabled:
            return found
        inv = self.scale.double().reciprocal().float()
        for g in grads.values():
            g.mul_(inv.view(-1, *([1] * (g.dim() - 1))))
            found |= ~torch.isfinite(g).flatten(1).all(1)
        return found

    def update(self, stepped: torch.Tensor, found: torch.Tensor) -> None:
        if not self.enabled:
            return
        self.scale = torch.where(found, self.scale * 0.5, self.scale)
        self.tracker = torch.where(found, 0, torch.where(stepped, self.tracker + 1, self.tracker))
        grow = self.tracker >= 2000
        self.scale = torch.where(grow, self.scale * 2.0, self.scale)
        self.tracker = torch.where(grow, 0, self.tracker)


@dataclass
class _Task:
    """One member's bookkeeping."""

    task: GroupTask
    seed: int
    rng: np.random.Generator
    split: Split
    result: FoldResult
    epochs: int          # its schedule (mfdan.train.loop.schedule)
    per_epoch: int
    steps: int | None
    best: Selection = field(default_factory=Selection)
    active: bool = True
    error: Exception | None = None


class _OnDevice:
    """The cached samples a training step reads, on the training device once (indexed there per step)."""

    def __init__(self, data: FoldData, device: torch.device, names: tuple[str, ...]) -> None:
        self.names = names
        self.train = torch.from_numpy(data.train_images).to(device) if "image" in names else None
        self.flow = torch.from_numpy(data.flow).to(device)
        self.landmarks = (torch.from_numpy(data.landmarks).to(device)
                          if "landmarks" in names and data.landmarks is not None else None)
        self.labels = torch.from_numpy(data.labels).to(device)

    def batch(self, idx: torch.Tensor, variant: torch.Tensor) -> list[torch.Tensor]:
        """Inputs of samples ``idx`` (K, B) with training variants ``variant`` (K, B), in the model's order: the
        per-fold engine's :func:`mfdan.train.loop.batch_inputs` arithmetic, with a task axis first."""
        out = []
        for name in self.names:
            if name == "image":  # uint8 (K, B, S, S, 3) -> [−1, 1] (K, B, 3, S, S), as core.frames.to_unit
                out.append(self.train[idx, variant].permute(0, 1, 4, 2, 3).to(torch.get_default_dtype()) / 127.5 - 1)
            elif name == "flow":
                out.append(self.flow[idx])
            else:
                out.append(self.landmarks[idx])
        return out


def _epoch_batches(t: _Task, data: FoldData, cfg: TrainConfig, epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Task ``t``'s batches this epoch, (samples, variants), drawn from its stream in the per-fold engine's
    order: the epoch's order, then one variant draw per batch (:func:`mfdan.train.loop.run_epoch`)."""
    order = epoch_order(t.split.train, data, cfg, t.rng, t.seed + epoch)
    k = data.train_images.shape[1]
    out = []
    for s in range(0, len(order), cfg.batch):
        b = np.sort(order[s:s + cfg.batch])
        out.append((b, t.rng.integers(0, k, size=len(b))))
    return out


def _padded(members: list[_Task], plans: dict[int, list], s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step ``s`` of every task as (K, B) sample indices, variants and keep mask, B the largest batch: a task's
    batch padded with its first training sample at weight 0; a task without a batch now, all padding."""
    width = max(len(p[s][0]) for p in plans.values() if s < len(p))
    k = len(members)
    idx = np.empty((k, width), dtype=np.int64)
    variant = np.zeros((k, width), dtype=np.int64)
    keep = np.zeros((k, width), dtype=bool)
    for i, m in enumerate(members):
        idx[i] = m.split.train[0]
        if i in plans and s < len(plans[i]):
            b, v = plans[i][s]
            idx[i, :len(b)], variant[i, :len(b)], keep[i, :len(b)] = b, v, True
    return idx, variant, keep


def train_group(tasks: list[GroupTask], data: FoldData, model_cfg: Any, cfg: TrainConfig, *,
                progress: bool = True) -> list[FoldResult | Exception]:
    """Train ``tasks`` (``cfg`` with each task's seed) side by side; one result per task, in order: its
    :class:`~mfdan.train.loop.FoldResult` (as :func:`mfdan.train.loop.train_fold` returns), or the error that
    stopped it. A hand-crafted method (Bi-WOOF) fits each task on its own."""
    if not tasks:
        return []
    if arch_of(model_cfg).kind == "handcrafted":
        return [fit_fold(t.fold, data, model_cfg, replace(cfg, seed=t.seed), progress=progress) for t in tasks]
    if cfg.budget == "inner":
        raise ValueError("train.budget inner trains on the per-fold engine (its outer training waits for its "
                         "inner choice): mfdan sweep does not group it; use fit_fold")
    device = resolve_device(cfg.device)
    set_threads(cfg.threads)
    if device.type == "cpu":
        keep_freed_memory()
    amp = cfg.amp and device.type == "cuda"
    deterministic()
    num_classes = len(data.classes)

    # members: each one's split, seed and initial weights exactly as the per-fold engine makes them
    members, models = [], []
    for t in tasks:
        seed = fold_seed(t.fold, t.seed)
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        split = split_fold(t.fold, data, cfg, rng)
        models.append(build(model_cfg).to(device))
        members.append(_Task(t, seed, rng, split, FoldResult(fold=t.fold, split=split, device=str(device)),
                             *schedule(len(split.train), cfg)))
    stack = ModelStack(models)
    del models
    k_tasks = stack.size
    opt = StackedOptimizer(stack.params, cfg.optimizer, tasks=k_tasks, lr=cfg.lr, weight_decay=cfg.weight_decay,
                           betas=cfg.betas if cfg.optimizer == "adan" else cfg.adamw_betas, momentum=cfg.momentum)
    loss_fn = build_loss(cfg.loss, num_classes=num_classes, gamma=cfg.gamma,
                         class_weights=list(cfg.class_weights) or None).to(device)
    scaler = TaskScaler(k_tasks, device, amp)
    on_device = _OnDevice(data, device, stack.pristine.inputs)
    torch.manual_seed(group_seed(tasks))  # dropout / DropKey draws of the whole group

    def task_loss(params, buffers, keep, scale, target, *inputs):  # one task; differentiated, under vmap
        logits, new_buffers = stack.run(params, buffers, keep, inputs)
        loss = masked_loss(loss_fn, at_least_float(logits), target, keep)
        return loss * scale, (loss.detach(), logits.detach(), new_buffers)

    # per task: gradients of its own loss, computed batched over the stack (torch.func.grad under vmap)
    step_all = vmap(grad_and_value(task_loss, has_aux=True), randomness="different")
    t0 = time.perf_counter()
    epochs = max(m.epochs for m in members)
    bar = Progress(epochs, desc=f"group of {k_tasks}", unit="epoch", every=1, enabled=progress)
    for epoch in range(epochs):
        live = [i for i, m in enumerate(members) if m.active and epoch < m.epochs]
        if not live:
            break
        plans = {i: _epoch_batches(members[i], data, cfg, epoch) for i in live}
        for i in live:  # budget steps: the last epoch cut at the task's step count
            if members[i].steps is not None:
                plans[i] = plans[i][:members[i].steps - epoch * members[i].per_epoch]
        total = torch.zeros(k_tasks, dtype=torch.float64, device=device)   # Σ loss × batch size, per task
        correct = torch.zeros(k_tasks, dtype=torch.int64, device=device)
        seen = np.zeros(k_tasks, dtype=np.int64)
        stack.network.train()
        for s in range(max(len(p) for p in plans.values())):
            idx, variant, keep = (torch.from_numpy(a).to(device) for a in _padded(members, plans, s))  # (K, B)
            target = on_device.labels[idx]
            with torch.autocast(device.type, enabled=amp):
                grads, (_, (losses, logits, new_buffers)) = step_all(
                    stack.params, stack.buffers, keep, scaler.scale, target, *on_device.batch(idx, variant))
            sizes = keep.sum(1)                                                    # (K,)
            total += torch.where(sizes > 0, losses.double() * sizes, 0.0)
            correct += ((logits.argmax(-1) == target) & keep).sum(1)
            seen += sizes.cpu().numpy()
            for n, v in new_buffers.items():  # batch-norm statistics
                stack.buffers[n].copy_(v)
            found = scaler.unscale(grads)
            stepped = (sizes > 0) & ~found
            opt.step(grads, stepped)
            scaler.update(stepped, found)
        # the epoch's rows, then validation and early stopping, per task
        total_h, correct_h = total.cpu().numpy(), correct.cpu().numpy()
        for i in live:
            m = members[i]
            if not np.isfinite(total_h[i]):
                m.error = NonFiniteError(f"fold {m.task.fold} (seed {m.task.seed}), epoch {epoch + 1}: training "
                                         "loss is not finite; lower train.lr or check the cache")
                m.active = False
                continue
            row = {"epoch": epoch + 1, "train_loss": float(total_h[i] / max(seen[i], 1)),
                   "train_acc": int(correct_h[i]) / max(int(seen[i]), 1)}
            if len(m.split.val):
                state = stack.state(i)
                pred = predict(stack.model(state), data, m.split.val, device, cfg.batch, amp).argmax(1)
                row["val_uf1"] = uf1_uar(data.labels[m.split.val], pred, num_classes)[0]
                if row["val_uf1"] > m.best.score:
                    m.best = Selection(epoch=epoch + 1, score=row["val_uf1"], state=state)
                if epoch + 1 - m.best.epoch >= cfg.patience:
                    m.active = False
            m.result.curve.append(row)
        losses_now = [members[i].result.curve[-1]["train_loss"] for i in live if members[i].error is None]
        bar.update(1, loss=float(np.mean(losses_now)) if losses_now else float("nan"),
                   tasks=sum(m.active for m in members))
    bar.close()
    seconds = (time.perf_counter() - t0) / k_tasks

    # selection and the one prediction of each task's held-out samples
    out: list[FoldResult | Exception] = []
    for i, m in enumerate(members):
        if m.error is not None:
            out.append(m.error)
            continue
        r = m.result
        if len(m.split.val) and m.best.state is not None:
            model = stack.model(m.best.state)
            r.selection = SELECTION_VAL.format(n=cfg.val_subjects, patience=cfg.patience)
            r.epoch_used = m.best.epoch
        else:
            model = stack.model(stack.state(i))
            r.selection = selection_fixed(cfg, m.epochs, m.per_epoch)
            r.epoch_used = len(r.curve)
        r.probs = predict(model, data, m.split.test, device, cfg.batch, amp)
        try:
            check_finite(r.probs, f"fold {m.task.fold} (seed {m.task.seed}): predicted probabilities")
        except NonFiniteError as exc:
            out.append(exc)
            continue
        r.seconds = seconds
        r.model = model
        out.append(r)
    return out

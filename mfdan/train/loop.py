"""Fold training of every network ``model.arch`` names (MFDAN by default): one fold per held-out subject
(LOSO) or per held-out dataset (HDE), an honest protocol.

:func:`train_fold` reads top to bottom as its steps: **split** (the held-out subject or dataset; optional
validation subjects carved from the training subjects), **loop** (:func:`run_epoch` for the fixed epochs of the
budget rule, :func:`schedule`: ``train.epochs``, or ``train.steps`` optimizer steps), **selection** (the last
epoch, or the best validation epoch under early stopping), **predict** the held-out subject, once. Under
``train.budget: inner`` :func:`mfdan.train.fold.fit_fold` first picks the epochs on the training subjects alone
(:mod:`mfdan.train.inner_selection`). The held-out
subject's samples are touched exactly once, after training. Everything is seeded (model init, sampling,
magnification variant choice) and deterministic algorithms are on, so a rerun with the same params writes the
same predictions on CPU. :func:`mfdan.train.fold.fit_fold` is what the stages call: :func:`train_fold` for a network, the
method's own fit for a hand-crafted one (Bi-WOOF). :func:`write_fold` writes the fold's folder.
"""
from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from mfdan.core.device import deterministic, keep_freed_memory, resolve_device
from mfdan.core.errors import NonFiniteError, check_finite
from mfdan.core.files import written_folder
from mfdan.core.frames import to_unit
from mfdan.core.progress import Progress
from mfdan.core.params import RATE, AtLeast, DEVICE, NON_NEGATIVE, POSITIVE, UNIT_OPEN
from mfdan.evaluate.metrics import uf1_uar
from mfdan.data.folds import fold_seed, held_out
from mfdan.model.registry import arch_of, build, forward
from mfdan.train.fold_data import FoldData
from mfdan.train.losses import LOSSES, at_least_float, build_loss
from mfdan.train.optim import ADAMW_BETAS, ADAN_BETAS, OPTIMIZERS, build_optimizer
from mfdan.train.sampling import balanced_sampler

SELECTION_FIXED = "last epoch of a fixed {epochs}-epoch schedule; the test subject is never seen in training or model selection"
SELECTION_VAL = ("early stopping on UF1 of {n} validation subjects carved from the training subjects "
                 "(patience {patience}); the test subject is never seen in training or model selection")
SELECTION_STEPS = ("last step of a fixed {steps}-step schedule ({epochs} epochs of at most {per_epoch} batches); the "
                   "test subject is never seen in training or model selection")
#: how many optimizer steps a fold gets (``train.budget``; docs/baselines.md, "Budget rules"): ``recipe`` the
#: recipe's ``train.epochs``; ``steps`` ``train.steps`` optimizer steps, whatever the batch and the fold's size;
#: ``inner`` the epochs (and learning rate) an inner split of the training subjects picks
#: (:mod:`mfdan.train.inner_selection`)
BUDGETS = ("recipe", "steps", "inner")


@dataclass(frozen=True)
class TrainConfig:
    """Mirrors params.yaml ``train``. The paper states the loss (focal, γ 2), the optimizer (Adan), the learning
    rate (1e-4) and the batch size (16) (Sec. IV); the number of epochs and the weight decay are our choices."""

    epochs: Annotated[int, AtLeast(1)] = 20
    batch: Annotated[int, AtLeast(1)] = 16
    lr: Annotated[float, POSITIVE] = 1e-4
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.02
    optimizer: str = "adan"                  #: adan | adamw | adam | sgd (the last two: baselines' recipes)
    betas: Annotated[tuple[float, float, float], UNIT_OPEN] = ADAN_BETAS  #: Adan's, in its paper's convention
    adamw_betas: Annotated[tuple[float, float], UNIT_OPEN] = ADAMW_BETAS  #: AdamW's and Adam's (Table V, M4)
    momentum: Annotated[float, RATE] = 0.9   #: SGD's
    loss: str = "focal"
    gamma: Annotated[float, NON_NEGATIVE] = 2.0
    class_weights: Annotated[tuple[float, ...], POSITIVE] = ()   #: per-class loss weights; empty = none
    balanced_sampling: bool = False         #: class-balanced resampling
    val_subjects: Annotated[int, NON_NEGATIVE] = 0                   #: >0: early stopping on this many training subjects
    patience: Annotated[int, AtLeast(1)] = 5
    seed: Annotated[int, NON_NEGATIVE] = 0
    device: Annotated[str, DEVICE] = "auto"                    #: auto | cpu | cuda
    amp: bool = False                       #: mixed precision (CUDA only)
    #: PyTorch's intra-op CPU threads for the fold; 0 = PyTorch's default (one per core here). CPU sums split
    #: over threads differently, so a fold's bytes depend on it: ``mfdan sweep`` sets it per task (--threads)
    threads: Annotated[int, NON_NEGATIVE] = 0
    #: recipe | steps | inner (:data:`BUDGETS`): the fold's training budget; every method under one rule
    budget: str = "recipe"
    steps: Annotated[int, AtLeast(1)] = 800     #: budget ``steps``: optimizer steps per fold
    #: budget ``inner``: the training subjects (HDE: datasets) are cut into this many inner folds, held out in turn
    inner_folds: Annotated[int, AtLeast(2)] = 3
    #: budget ``inner``: candidate epoch counts epochs·j/inner_points, j = 1..inner_points (``epochs`` the ceiling)
    inner_points: Annotated[int, AtLeast(1)] = 8
    #: budget ``inner``: candidate learning rates; empty = ``lr`` only (each one more inner training per inner fold)
    inner_lrs: Annotated[tuple[float, ...], POSITIVE] = ()

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"train.loss must be one of {LOSSES}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer must be one of {OPTIMIZERS}")
        if self.budget not in BUDGETS:
            raise ValueError(f"train.budget must be one of {BUDGETS}, not {self.budget!r}")
        if self.budget != "recipe" and self.val_subjects:
            raise ValueError(f"train.budget {self.budget} and train.val_subjects {self.val_subjects}: both choose "
                             "how long a fold trains; set val_subjects: 0, or budget: recipe for early stopping")


@dataclass(frozen=True)
class Split:
    """Sample indices of one fold."""

    train: np.ndarray
    val: np.ndarray     # empty unless ``val_subjects`` > 0
    test: np.ndarray    # the held-out subject


@dataclass
class Selection:
    """The model kept: the last epoch, or (early stopping) the best validation epoch so far."""

    epoch: int = 0
    score: float = -1.0
    state: dict[str, torch.Tensor] | None = None


@dataclass
class FoldResult:
    """What one fold produced: its split sizes, training curve, the epoch used and why, the held-out
    subject's class probabilities, and the trained model."""

    fold: str
    split: Split
    curve: list[dict] = field(default_factory=list)
    epoch_used: int = 0
    selection: str = ""
    probs: np.ndarray | None = None       # (len(split.test), C)
    device: str = "cpu"
    seconds: float = 0.0
    model: Any = None    # the trained nn.Module (or a hand-crafted method's fitted model)
    inner: dict | None = None   # budget inner: the candidates' inner scores and the choice (meta.json "inner")


def split_fold(fold: str, data: FoldData, cfg: TrainConfig, rng: np.random.Generator) -> Split:
    """Held out: the subject (``<dataset>_<subject>``, LOSO) or the dataset (``<dataset>``, HDE) that ``fold``
    names; ``val_subjects`` validation subjects drawn from the training subjects."""
    folds = np.array(data.folds)
    out = held_out(fold, data.datasets, data.subjects)
    test = np.flatnonzero(out)
    train = np.flatnonzero(~out)
    val = np.array([], dtype=np.int64)
    if cfg.val_subjects > 0:
        subjects = sorted(set(folds[train]))
        chosen = set(rng.choice(subjects, size=min(cfg.val_subjects, len(subjects) - 1), replace=False))
        val = np.array([i for i in train if folds[i] in chosen], dtype=np.int64)
        train = np.array([i for i in train if folds[i] not in chosen], dtype=np.int64)
    return Split(train=train, val=val, test=test)


def batch_inputs(data: FoldData, b: np.ndarray, images: np.ndarray, device: torch.device,
                 names: tuple[str, ...] = ("image", "flow", "landmarks")) -> dict[str, torch.Tensor]:
    """The named inputs of samples ``b`` (``images``: their frames, a training variant or the evaluation one)
    that a model reads (``names``, its ``inputs``): image, flow and, when the cache holds them, landmarks (what
    :func:`mfdan.model.registry.forward` hands on)."""
    batch = {"flow": torch.from_numpy(data.flow[b]).to(device)}
    if "image" in names:
        batch["image"] = to_unit(images, device)
    if "landmarks" in names and data.landmarks is not None:
        batch["landmarks"] = torch.from_numpy(data.landmarks[b]).to(device)
    return batch


@torch.no_grad()
def predict(model: torch.nn.Module, data: FoldData, idx: np.ndarray, device: torch.device, batch: int,
            amp: bool) -> np.ndarray:
    """Class probabilities (len(idx), C) on the evaluation variants; ``amp``: autocast, decided by the caller."""
    model.eval()
    out = []
    for s in range(0, len(idx), batch):
        b = idx[s:s + batch]
        with torch.autocast(device.type, enabled=amp):
            logits = forward(model, batch_inputs(data, b, data.eval_images[b], device, model.inputs))
        out.append(torch.softmax(at_least_float(logits), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(data.classes)))


def epoch_order(train: np.ndarray, data: FoldData, cfg: TrainConfig, rng: np.random.Generator, seed: int) -> np.ndarray:
    """This epoch's sample order: a permutation, or a class-balanced draw (``balanced_sampling``)."""
    if cfg.balanced_sampling:
        return train[np.fromiter(balanced_sampler(data.labels[train].tolist(), seed=seed), dtype=np.int64)]
    return rng.permutation(train)


def schedule(n_train: int, cfg: TrainConfig) -> tuple[int, int, int | None]:
    """(epochs, batches per epoch, step limit) of a fold with ``n_train`` training samples: ``train.epochs``;
    under budget ``steps``, as many epochs as ``train.steps`` optimizer steps need, the last one cut short."""
    per_epoch = max(1, math.ceil(n_train / cfg.batch))
    if cfg.budget != "steps":
        return cfg.epochs, per_epoch, None
    return math.ceil(cfg.steps / per_epoch), per_epoch, cfg.steps


def run_epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, loss_fn: torch.nn.Module,
              data: FoldData, order: np.ndarray, cfg: TrainConfig, rng: np.random.Generator, device: torch.device,
              amp: bool, max_batches: int | None = None) -> dict:
    """One pass over ``order`` in batches (the first ``max_batches`` of them when given); returns the epoch's
    mean training loss and accuracy."""
    model.train()
    k = data.train_images.shape[1]
    total, correct, seen = 0.0, 0, 0
    starts = range(0, len(order), cfg.batch)
    for s in starts if max_batches is None else starts[:max_batches]:
        b = np.sort(order[s:s + cfg.batch])
        variant = rng.integers(0, k, size=len(b))  # one random magnification factor per sample
        inputs = batch_inputs(data, b, data.train_images[b, variant], device, model.inputs)
        target = torch.from_numpy(data.labels[b]).to(device)
        with torch.autocast(device.type, enabled=amp):
            logits = forward(model, inputs)
            loss = loss_fn(at_least_float(logits), target)
        check_finite(loss, "training loss")
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        total += loss.item() * len(b)
        correct += int((logits.argmax(1) == target).sum())
        seen += len(b)
    return {"train_loss": total / max(seen, 1), "train_acc": correct / max(seen, 1)}


def set_threads(threads: int) -> None:
    """``train.threads``: PyTorch's intra-op thread count for this process (0 leaves PyTorch's default)."""
    if threads:
        torch.set_num_threads(threads)


def train_fold(fold: str, data: FoldData, model_cfg: Any, cfg: TrainConfig, *,
               progress: bool = True, on_epoch: Callable[[int, torch.nn.Module], None] | None = None,
               split: Split | None = None) -> FoldResult:
    """Train on every sample but ``fold``'s, then predict ``fold`` once. ``on_epoch(epoch, model)`` is called
    after each epoch (analysis hooks, e.g. τ per epoch, inner selection's checkpoints; it must not change the
    model). ``split``: the samples to train on and to predict, given (an inner fold: ``fold`` then only names
    its seed) instead of drawn from ``fold``."""
    if cfg.budget == "inner":
        raise ValueError(f"fold {fold}: train.budget inner chooses the epochs before training; call "
                         "mfdan.train.fold.fit_fold (inner selection, then this loop), not train_fold")
    device = resolve_device(cfg.device)
    set_threads(cfg.threads)
    if device.type == "cpu":
        keep_freed_memory()  # no page faults re-fetching each step's activations (same bytes)
    amp = cfg.amp and device.type == "cuda"  # mixed precision is a CUDA option, decided once here
    seed = fold_seed(fold, cfg.seed)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    deterministic()

    # split
    split = split_fold(fold, data, cfg, rng) if split is None else split
    num_classes = len(data.classes)
    model = build(model_cfg).to(device)  # model.arch's network (mfdan.model.registry)
    opt = build_optimizer(model.parameters(), cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
                          betas=cfg.betas if cfg.optimizer == "adan" else cfg.adamw_betas, momentum=cfg.momentum)
    loss_fn = build_loss(cfg.loss, num_classes=num_classes, gamma=cfg.gamma,
                         class_weights=list(cfg.class_weights) or None).to(device)
    scaler = torch.amp.GradScaler(enabled=amp)

    # loop (+ early-stopping bookkeeping when a validation split exists)
    result = FoldResult(fold=fold, split=split, device=str(device))
    best = Selection()
    t0 = time.perf_counter()
    epochs, per_epoch, steps = schedule(len(split.train), cfg)
    bar = Progress(epochs, desc=f"fold {fold}", unit="epoch", every=1, enabled=progress)
    for epoch in range(epochs):
        order = epoch_order(split.train, data, cfg, rng, seed + epoch)
        limit = None if steps is None else steps - epoch * per_epoch
        try:
            row = {"epoch": epoch + 1, **run_epoch(model, opt, scaler, loss_fn, data, order, cfg, rng, device, amp,
                                                   limit)}
        except NonFiniteError as exc:
            raise NonFiniteError(f"fold {fold}, epoch {epoch + 1}: {exc}; lower train.lr or check the cache") from None
        if len(split.val):
            pred = predict(model, data, split.val, device, cfg.batch, amp).argmax(1)
            row["val_uf1"] = uf1_uar(data.labels[split.val], pred, num_classes)[0]
            if row["val_uf1"] > best.score:
                best = Selection(epoch=epoch + 1, score=row["val_uf1"],
                                 state={k: v.detach().clone() for k, v in model.state_dict().items()})
        result.curve.append(row)
        if on_epoch is not None:
            on_epoch(epoch + 1, model)
        bar.update(1, loss=row["train_loss"], acc=row["train_acc"])
        if len(split.val) and epoch + 1 - best.epoch >= cfg.patience:
            break

    bar.close()

    # selection
    if len(split.val) and best.state is not None:
        model.load_state_dict(best.state)
        result.selection = SELECTION_VAL.format(n=cfg.val_subjects, patience=cfg.patience)
        result.epoch_used = best.epoch
    else:
        result.selection = selection_fixed(cfg, epochs, per_epoch)
        result.epoch_used = len(result.curve)

    # predict: the only look at the held-out subject
    result.probs = predict(model, data, split.test, device, cfg.batch, amp)
    check_finite(result.probs, f"fold {fold}: predicted probabilities")
    result.seconds = time.perf_counter() - t0
    result.model = model
    return result


def selection_fixed(cfg: TrainConfig, epochs: int, per_epoch: int) -> str:
    """What a fold without early stopping used: the last epoch of ``train.epochs`` or of ``train.steps`` steps."""
    if cfg.budget == "steps":
        return SELECTION_STEPS.format(steps=cfg.steps, epochs=epochs, per_epoch=per_epoch)
    return SELECTION_FIXED.format(epochs=cfg.epochs)


def save_model(folder: Path, model: Any) -> str:
    """A network's state_dict as ``model.pt``; a hand-crafted model as plain arrays, ``model.npz`` (its
    ``save``; never a pickle). Returns the file name."""
    if isinstance(model, torch.nn.Module):
        torch.save(model.state_dict(), folder / "model.pt")
        return "model.pt"
    model.save(folder / "model.npz")
    return "model.npz"


def write_fold(out: Path, result: FoldResult, data: FoldData, model_cfg: Any, cfg: TrainConfig, *,
               engine: dict | None = None) -> dict:
    """``out/``: model.pt (model.npz for a hand-crafted method), predictions.csv (sample, dataset, subject, fold, label, pred, class probabilities),
    curve.csv and meta.json (no timings: same params, same bytes; ``engine``: how a fold-batched group trained it,
    recorded there). Returns the meta dict. The folder is written
    under a temporary name and renamed when complete: an interrupted run leaves no half-written fold."""
    assert result.model is not None and result.probs is not None
    with written_folder(out) as folder:  # renamed onto out when complete
        weights = save_model(folder, result.model)
        with (folder / "predictions.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["sample_id", "dataset", "subject", "fold", "label", "pred",
                        *[f"prob_{c}" for c in data.classes]])
            for i, p in zip(result.split.test, result.probs):
                w.writerow([data.sample_ids[i], data.datasets[i], data.subjects[i], result.fold,
                            data.classes[data.labels[i]], data.classes[int(p.argmax())], *[f"{x:.6f}" for x in p]])
        with (folder / "curve.csv").open("w", newline="") as fh:
            keys = list(result.curve[0]) if result.curve else ["epoch", "train_loss", "train_acc"]
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            for row in result.curve:
                w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
        meta = {"fold": result.fold, "train_samples": int(len(result.split.train)),
                "val_samples": int(len(result.split.val)), "test_samples": int(len(result.split.test)),
                "epochs_run": len(result.curve), "epoch_used": result.epoch_used, "selection": result.selection,
                "device": result.device, "arch": arch_of(model_cfg).name, "weights": weights,
                "model": asdict(model_cfg), "train": asdict(cfg)}
        if result.inner is not None:
            meta["inner"] = result.inner
        if engine is not None:
            meta["engine"] = engine
        (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta

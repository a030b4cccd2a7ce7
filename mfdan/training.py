"""Leave-one-subject-out training of MFDAN: one fold per held-out subject, an honest protocol.

The held-out subject's samples are touched exactly once, after training, to write the fold's predictions.
Training runs a fixed number of epochs and keeps the last epoch's model; optional early stopping looks
only at a validation split carved from the *training* subjects (``val_subjects``). Everything is seeded
(model init, sampling, magnification variant choice) and deterministic algorithms are on, so a rerun with the
same params writes the same predictions on CPU.
"""
from __future__ import annotations

import csv
import json
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from mfdan.cache import read_strings
from mfdan.device import resolve_device
from mfdan.errors import DatasetError
from mfdan.losses import LOSSES, build_loss
from mfdan.metrics import uf1_uar
from mfdan.model import MFDAN, MFDANConfig
from mfdan.optim import OPTIMIZERS, build_optimizer
from mfdan.sampling import balanced_sampler

SELECTION_FIXED = "last epoch of a fixed {epochs}-epoch schedule; the test subject is never seen in training or model selection"
SELECTION_VAL = ("early stopping on UF1 of {n} validation subjects carved from the training subjects "
                 "(patience {patience}); the test subject is never seen in training or model selection")


@dataclass(frozen=True)
class TrainConfig:
    """Mirrors params.yaml ``train``."""

    epochs: int = 12
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.02
    optimizer: str = "adan"
    betas: tuple[float, float, float] = (0.98, 0.92, 0.99)  #: paper convention (see mfdan.optim)
    loss: str = "focal"
    gamma: float = 2.0
    class_weights: tuple[float, ...] = ()   #: per-class loss weights; empty = none
    balanced_sampling: bool = False         #: class-balanced resampling
    val_subjects: int = 0                   #: >0: early stopping on this many training subjects
    patience: int = 5
    seed: int = 0
    device: str = "auto"                    #: auto | cpu | cuda
    amp: bool = False                       #: mixed precision (CUDA only)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"train.loss must be one of {LOSSES}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer must be one of {OPTIMIZERS}")


def fold_name(dataset: str, subject: str) -> str:
    """``casme2``, ``sub02`` -> ``casme2_sub02`` (a DVC stage key)."""
    return f"{dataset}_{subject}"


@dataclass
class Data:
    """The cached samples in memory: images for training (K variants) and evaluation, flow, labels, ids."""

    train_images: np.ndarray   # (N, K, S, S, 3) uint8
    eval_images: np.ndarray    # (N, S, S, 3) uint8
    flow: np.ndarray           # (N, 3, S, S) float32
    labels: np.ndarray         # (N,)
    folds: list[str]
    sample_ids: list[str]
    datasets: list[str]
    subjects: list[str]
    classes: list[str]


def load_data(cache: Path, magnified: Path) -> Data:
    with h5py.File(cache, "r") as c, h5py.File(magnified, "r") as m:
        ids = read_strings(c["sample_id"])
        if read_strings(m["sample_id"]) != ids:
            raise DatasetError(magnified, f"does not hold the samples of {cache} in order; rerun the magnify stage")
        datasets, subjects = read_strings(c["dataset"]), read_strings(c["subject"])
        return Data(train_images=m["train"][()], eval_images=m["eval"][()], flow=c["flow"][()],
                    labels=c["label"][()].astype(np.int64),
                    folds=[fold_name(d, s) for d, s in zip(datasets, subjects)], sample_ids=ids,
                    datasets=datasets, subjects=subjects, classes=json.loads(c.attrs["classes"]))


def check_sizes(data: Data, model_cfg: MFDANConfig, cache: Path) -> None:
    """The cache's frames and flow maps must already be at the model's input size (no silent resizing)."""
    sizes = {"magnified frames": data.eval_images.shape[1], "flow maps": data.flow.shape[-1]}
    bad = {k: v for k, v in sizes.items() if v != model_cfg.img_size}
    if bad:
        raise DatasetError(cache, f"{bad} do not match model.img_size {model_cfg.img_size}; set align.output_size and "
                                  f"flow.output_size to {model_cfg.img_size} in params.yaml (or model.img_size to theirs)")


def check_folds(folds: list[str], data: Data, params_file: str = "params.yaml") -> None:
    """The params' fold list must name exactly the subjects in the cache."""
    have = sorted(set(data.folds))
    unknown = sorted(set(folds) - set(have))
    missing = sorted(set(have) - set(folds))
    if unknown or missing:
        raise ValueError(
            f"{params_file}: `folds` does not match the cached data (unknown: {unknown}; missing: {missing}). "
            f"Set it to the output of `mfdan folds --cache data/cache.h5`:\nfolds:\n"
            + "".join(f"  - {f}\n" for f in have))


def _images(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (B, S, S, 3) -> float (B, 3, S, S) in [−1, 1]."""
    return torch.from_numpy(x).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1


def _flow(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(x).to(device)


@torch.no_grad()
def predict(model: MFDAN, data: Data, idx: np.ndarray, device: torch.device, batch: int, amp: bool) -> np.ndarray:
    """Class probabilities (len(idx), C) on the evaluation variants; ``amp``: autocast, decided by the caller."""
    model.eval()
    out = []
    for s in range(0, len(idx), batch):
        b = idx[s:s + batch]
        with torch.autocast(device.type, enabled=amp):
            logits = model(_images(data.eval_images[b], device), _flow(data.flow[b], device))
        out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(data.classes)))


def train_fold(fold: str, data: Data, model_cfg: MFDANConfig, cfg: TrainConfig, out: Path,
               *, progress: bool = True) -> dict:
    """Train on every subject but ``fold``, predict ``fold``; write model.pt, predictions.csv, curve.csv and
    meta.json into ``out``. Returns the meta dict."""
    from tqdm import tqdm

    device = resolve_device(cfg.device)
    seed = cfg.seed * 1_000_003 + zlib.crc32(fold.encode())
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    folds = np.array(data.folds)
    test_idx = np.flatnonzero(folds == fold)
    train_idx = np.flatnonzero(folds != fold)
    val_idx = np.array([], dtype=np.int64)
    if cfg.val_subjects > 0:
        subjects = sorted(set(folds[train_idx]))
        val = set(rng.choice(subjects, size=min(cfg.val_subjects, len(subjects) - 1), replace=False))
        val_idx = np.array([i for i in train_idx if folds[i] in val], dtype=np.int64)
        train_idx = np.array([i for i in train_idx if folds[i] not in val], dtype=np.int64)
    num_classes = len(data.classes)
    model = MFDAN(model_cfg).to(device)
    opt = build_optimizer(model.parameters(), cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
                          betas=cfg.betas)
    loss_fn = build_loss(cfg.loss, num_classes=num_classes, gamma=cfg.gamma,
                         class_weights=list(cfg.class_weights) or None).to(device)
    amp = cfg.amp and device.type == "cuda"  # mixed precision is a CUDA option
    scaler = torch.amp.GradScaler(enabled=amp)
    k = data.train_images.shape[1]
    curve, best = [], (-1.0, None, 0)
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.epochs), desc=f"fold {fold}", unit="epoch", disable=None if progress else True)
    for epoch in bar:
        model.train()
        if cfg.balanced_sampling:
            order = train_idx[np.fromiter(balanced_sampler(data.labels[train_idx].tolist(), seed=seed + epoch),
                                          dtype=np.int64)]
        else:
            order = rng.permutation(train_idx)
        total, correct, seen = 0.0, 0, 0
        for s in range(0, len(order), cfg.batch):
            b = np.sort(order[s:s + cfg.batch])
            variant = rng.integers(0, k, size=len(b))  # one random magnification factor per sample
            image = _images(data.train_images[b, variant], device)
            flow = _flow(data.flow[b], device)
            target = torch.from_numpy(data.labels[b]).to(device)
            with torch.autocast(device.type, enabled=amp):
                logits = model(image, flow)
                loss = loss_fn(logits.float(), target)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += loss.item() * len(b)
            correct += int((logits.argmax(1) == target).sum())
            seen += len(b)
        row = {"epoch": epoch + 1, "train_loss": total / max(seen, 1), "train_acc": correct / max(seen, 1)}
        if len(val_idx):
            p = predict(model, data, val_idx, device, cfg.batch, amp).argmax(1)
            row["val_uf1"] = uf1_uar(data.labels[val_idx], p, num_classes)[0]
            if row["val_uf1"] > best[0]:
                best = (row["val_uf1"], {k_: v.detach().clone() for k_, v in model.state_dict().items()}, epoch + 1)
        curve.append(row)
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", acc=f"{row['train_acc']:.2f}")
        if len(val_idx) and epoch + 1 - best[2] >= cfg.patience:
            break
    if len(val_idx) and best[1] is not None:
        model.load_state_dict(best[1])
        selection = SELECTION_VAL.format(n=cfg.val_subjects, patience=cfg.patience)
        chosen = best[2]
    else:
        selection = SELECTION_FIXED.format(epochs=cfg.epochs)
        chosen = len(curve)
    probs = predict(model, data, test_idx, device, cfg.batch, amp)  # the only look at the test subject
    seconds = time.perf_counter() - t0
    write_fold(out, fold, data, test_idx, probs, curve, model)
    meta = {"fold": fold, "train_samples": int(len(train_idx)), "val_samples": int(len(val_idx)),
            "test_samples": int(len(test_idx)), "epochs_run": len(curve), "epoch_used": chosen,
            "selection": selection, "device": str(device),
            "model": asdict(model_cfg), "train": asdict(cfg)}
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")  # no timings: same params, same bytes
    return meta | {"seconds": round(seconds, 1)}


def write_fold(out: Path, fold: str, data: Data, test_idx: np.ndarray, probs: np.ndarray, curve: list[dict],
               model: MFDAN) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    with (out / "predictions.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sample_id", "dataset", "subject", "fold", "label", "pred",
                    *[f"prob_{c}" for c in data.classes]])
        for i, p in zip(test_idx, probs):
            w.writerow([data.sample_ids[i], data.datasets[i], data.subjects[i], fold, data.classes[data.labels[i]],
                        data.classes[int(p.argmax())], *[f"{x:.6f}" for x in p]])
    with (out / "curve.csv").open("w", newline="") as fh:
        keys = list(curve[0]) if curve else ["epoch", "train_loss", "train_acc"]
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for row in curve:
            w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})

"""Bi-WOOF: Bi-Weighted Oriented Optical Flow (Liong, See, Wong, Phan, Less is more: Micro-expression
recognition from video using apex frame, Signal Processing: Image Communication 2018), the hand-crafted row of
MFDAN's Table IV.

Descriptor (the authors' MATLAB code, christy1206/biwoof, biwoof.m), on the onset → apex (u, v, strain) map:
the face is divided into an N×N grid of blocks (5×5; neighbouring blocks share two pixels, as theirs); in each
block the flow orientations fall into 8 bins of 45° over [−180°, 180°), each pixel voting with its flow
magnitude (local weighting; their ``histc`` edges −180, −135, …, 135 leave angles in (135°, 180°) out of every
bin — we bin the whole circle); each block histogram is normalised to sum 1 and multiplied by the block's
total optical strain (global weighting); the concatenated N·N·8 vector is L2-normalised. Classifier: a linear
SVM (scikit-learn's ``LinearSVC``, one-vs-rest, C = 1: the paper's C is not stated), fitted on the training
subjects of the fold. The probabilities a fold writes are a softmax of the SVM's decision values (the class is
their argmax, the SVM's answer): scores for the prediction files' columns, not calibrated probabilities.

The fitted model is plain arrays (``model.npz``: the SVM's weights and biases and the config), read back with
``allow_pickle=False``: loading a model never executes code.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from mfdan.core.architectures import register
from mfdan.core.errors import DatasetError
from mfdan.core.params import POSITIVE, AtLeast


@dataclass(frozen=True)
class BiWOOFConfig:
    num_classes: Annotated[int, AtLeast(2)] = 3
    input_size: Annotated[int, AtLeast(0)] = 0    #: 0: the cache's flow map as it is (the descriptor needs no resize)
    grid: Annotated[int, AtLeast(1)] = 5           #: N of the N×N blocks
    bins: Annotated[int, AtLeast(2)] = 8
    C: Annotated[float, POSITIVE] = 1.0            #: the SVM's penalty
    max_iter: Annotated[int, AtLeast(1)] = 10000


def block_spans(n: int, grid: int) -> list[tuple[int, int]]:
    """[start, stop) of each of ``grid`` blocks over ``n`` pixels, h = n // grid: biwoof.m's spans made 0-based,
    (0, h + 1) for the first, (k·h − 1, (k + 1)·h + 1) for the middle ones, (k·h − 1, n) for the last — so
    neighbouring blocks share two pixels."""
    h = n // grid
    return [(0 if k == 0 else k * h - 1, n if k == grid - 1 else min(n, (k + 1) * h + 1)) for k in range(grid)]


def descriptor(flow: np.ndarray, grid: int = 5, bins: int = 8) -> np.ndarray:
    """The Bi-WOOF vector (grid·grid·bins, float64) of one (3, H, W) map: u, v, strain."""
    u, v, strain = (np.asarray(c, dtype=np.float64) for c in flow[:3])
    magnitude = np.hypot(u, v)
    angle = np.degrees(np.arctan2(v, u))                                   # (-180, 180]
    which = np.clip(np.floor((angle + 180.0) / (360.0 / bins)).astype(np.int64), 0, bins - 1)
    out = []
    for y0, y1 in block_spans(u.shape[0], grid):
        for x0, x1 in block_spans(u.shape[1], grid):
            hist = np.bincount(which[y0:y1, x0:x1].ravel(), weights=magnitude[y0:y1, x0:x1].ravel(), minlength=bins)
            total = hist.sum()
            hist = hist / total if total > 0 else hist                      # local weighting, normalised
            out.append(hist * np.abs(strain[y0:y1, x0:x1]).sum())            # global weighting
    vec = np.concatenate(out)
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec


def descriptors(flow: np.ndarray, cfg: BiWOOFConfig) -> np.ndarray:
    """(N, 3, H, W) -> (N, grid·grid·bins); ``input_size`` > 0 area-resizes the maps first."""
    if cfg.input_size and flow.shape[-1] != cfg.input_size:
        from mfdan.baselines.common import resize

        flow = resize(torch.from_numpy(np.ascontiguousarray(flow)), cfg.input_size).numpy()
    return np.stack([descriptor(f, cfg.grid, cfg.bins) for f in flow]) if len(flow) else \
        np.zeros((0, cfg.grid * cfg.grid * cfg.bins))


@register("bi_woof", title="Bi-WOOF", kind="handcrafted",
          citation="Liong, See, Wong, Phan, Less is more: Micro-expression recognition from video using apex "
                   "frame, Signal Processing: Image Communication 2018",
          config=BiWOOFConfig,
          reads="(u, v, strain) of onset → apex: orientation histograms per block, weighted by magnitude "
                "and strain",
          deviations="linear SVM (scikit-learn LinearSVC, C 1: the paper's C is not known to us); the fold files' "
                     "probabilities are a softmax of its decision values, not calibrated")
class BiWOOF:
    """The fitted linear SVM on Bi-WOOF descriptors; called like a network on a flow batch (decision values)."""

    inputs = ("flow",)

    def __init__(self, cfg: BiWOOFConfig = BiWOOFConfig()) -> None:
        self.config = cfg
        dim = cfg.grid * cfg.grid * cfg.bins
        self.coef = np.zeros((cfg.num_classes, dim))
        self.intercept = np.zeros(cfg.num_classes)

    def parameter_count(self) -> int:
        return int(self.coef.size + self.intercept.size)

    def fit(self, x: np.ndarray, y: np.ndarray, seed: int) -> "BiWOOF":
        from sklearn.svm import LinearSVC

        present = np.unique(y)
        svm = LinearSVC(C=self.config.C, max_iter=self.config.max_iter, random_state=seed, dual="auto").fit(x, y)
        coef, intercept = np.atleast_2d(svm.coef_), np.atleast_1d(svm.intercept_)
        self.coef[:], self.intercept[:] = 0.0, -np.inf  # a class absent from training is never predicted
        if len(present) == 2:  # binary: one hyperplane, positive side = present[1]
            coef = np.stack([-coef[0], coef[0]])
            intercept = np.array([-intercept[0], intercept[0]])
        self.coef[present], self.intercept[present] = coef, intercept
        return self

    def decision(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef.T + self.intercept

    def __call__(self, flow: torch.Tensor) -> torch.Tensor:
        """flow (B, 3, S, S) -> (B, num_classes) SVM decision values (argmax = the SVM's class)."""
        scores = self.decision(descriptors(flow.detach().cpu().numpy(), self.config))
        return torch.from_numpy(np.nan_to_num(scores, neginf=-1e9)).float()

    def save(self, path: Path) -> None:
        np.savez(path, coef=self.coef, intercept=np.nan_to_num(self.intercept, neginf=-1e9),
                 config=np.array(json.dumps(asdict(self.config), sort_keys=True)))

    def load(self, path: Path) -> "BiWOOF":
        try:
            with np.load(path, allow_pickle=False) as z:
                coef, intercept, config = z["coef"], z["intercept"], json.loads(str(z["config"]))
        except (OSError, ValueError, KeyError) as exc:
            raise DatasetError(path, f"not a Bi-WOOF model file (plain arrays coef, intercept, config): {exc}") from None
        if config != asdict(self.config) or coef.shape != self.coef.shape or intercept.shape != self.intercept.shape:
            raise DatasetError(path, f"Bi-WOOF model of another configuration ({config}, weights {coef.shape}); "
                                     f"expected {asdict(self.config)}")
        self.coef, self.intercept = coef, intercept
        return self


def fit_fold(fold: str, data: Any, model_cfg: BiWOOFConfig, cfg: Any, *, split: Any, result_type: Any) -> Any:
    """The fold recipe for Bi-WOOF on ``data`` (a :class:`mfdan.train.fold_data.FoldData`; the training loop
    passes its ``split`` and ``result_type``, so that no baseline imports the training phase): the same split as the networks' (:func:`mfdan.train.loop.split_fold`; no
    validation subjects: nothing to select), the SVM fitted on the training samples' descriptors, the held-out
    samples described and scored once."""
    from mfdan.data.folds import fold_seed

    seed = fold_seed(fold, cfg.seed)
    t0 = time.perf_counter()
    s = split(fold, data, cfg, np.random.default_rng(seed))
    train = np.concatenate([s.train, s.val]).astype(np.int64)  # an SVM has no epochs to stop early
    s = type(s)(train=np.sort(train), val=np.array([], dtype=np.int64), test=s.test)
    model = BiWOOF(model_cfg).fit(descriptors(data.flow[s.train], model_cfg), data.labels[s.train], seed % 2**31)
    logits = model(torch.from_numpy(data.flow[s.test])) if len(s.test) else torch.zeros(0, model_cfg.num_classes)
    probs = torch.softmax(logits, dim=1).numpy().astype(np.float64)
    return result_type(fold=fold, split=s, curve=[], epoch_used=0,
                       selection=f"linear SVM (C {model_cfg.C:g}) fitted once on the training subjects; the test "
                                 "subject is never seen in training or model selection",
                       probs=probs, device="cpu", seconds=time.perf_counter() - t0, model=model)

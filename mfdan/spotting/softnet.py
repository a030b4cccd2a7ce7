"""The learned spotter: SOFTNet (Liong, Gan, See, Khor and Huang, "Shallow Optical Flow Three-Stream CNN for
Macro- and Micro-Expression Spotting from Long Videos", ICIP 2021, arXiv 2106.06489), leave-one-subject-out.

Network (Sec. 3.2 of the paper; layer sizes as its public code, genbing99/SoftNet-SpotME): one stream each for
u, v and strain (42 × 42), a 5 × 5 convolution with 3, 5 and 8 filters (ReLU, 'same' padding), 3 × 3 max
pooling with stride 3 (→ 14 × 14), the 16 maps concatenated, 2 × 2 max pooling (→ 7 × 7), a dense layer of
400 (ReLU) and one linear output: the frame's *spotting confidence*.

Training: each frame i with a flow input gets the pseudo-label 1 when the window [i, i + k) overlaps a
ground-truth interval of the kind (micro with k_micro, macro with k_macro; one network per kind), else 0;
MSE loss, SGD at 5e-4, 10 epochs, batch 12 (the paper's). Label-0 frames are down-sampled to ``negatives``
per label-1 frame, and every label-1 frame is also given mirrored (u → −u, left–right flipped): the paper
augments its positives (flips, blur, noise); we keep only the flip. A fold trains on the other subjects'
recordings of the same dataset and scores the held-out subject's.

The final spotter (``train_spotter``, long/dvc.yaml; what ``mfdan predict`` spots with): one network per kind
trained as a fold is, on every recording of every dataset (:func:`final_models`).

Spotting: the score curve smoothed over 2k + 1 frames (:func:`mfdan.spotting.peaks.smooth`), threshold
mean + p (max − mean) with the paper's p = 0.55, peaks → [peak − k, peak + k] and the rules of
:mod:`mfdan.spotting.peaks`, as for the training-free spotter.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mfdan.spotting.config import KINDS, SoftNetConfig, SpotConfig
from mfdan.spotting.features import VideoFeatures
from mfdan.spotting.peaks import Interval, smooth, spot_kinds


class SOFTNet(nn.Module):
    """(B, 3, s, s) u, v, strain → (B,) spotting confidence."""

    def __init__(self, *, input_size: int = 42) -> None:
        super().__init__()
        self.streams = nn.ModuleList(nn.Conv2d(1, c, kernel_size=5, padding=2) for c in (3, 5, 8))
        self.pool1 = nn.MaxPool2d(3, stride=3, ceil_mode=True)   # 'same' pooling: 42 → 14
        self.pool2 = nn.MaxPool2d(2, stride=2, ceil_mode=True)   # 14 → 7
        side = -(-(-(-input_size // 3)) // 2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * side * side, 400), nn.ReLU(), nn.Linear(400, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [self.pool1(torch.relu(conv(x[:, i:i + 1]))) for i, conv in enumerate(self.streams)]
        return self.head(self.pool2(torch.cat(maps, dim=1)))[:, 0]  # (B, 16, s/3, s/3) → (B,)


@dataclass
class Recording:
    """What a fold needs of one long video: its subject, features and ground truth."""

    key: str
    subject: str
    features: VideoFeatures
    truth: list[Interval]


def pseudo_labels(n: int, k: int, truth: Sequence[Interval], kind: str) -> np.ndarray:
    """1 where the window [i, i + k) overlaps a true interval of ``kind``, else 0: (n,) float32."""
    y = np.zeros(n, np.float32)
    for t in truth:
        if t.kind == kind:
            y[max(0, t.onset - k + 1):t.offset + 1] = 1.0
    return y


def training_set(recs: Sequence[Recording], kind: str, net: SoftNetConfig,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N, 3, s, s) float32 and labels (N,) of ``recs`` for ``kind``, negatives down-sampled, positives
    mirrored."""
    xs, ys = [], []
    for r in recs:
        f = r.features
        valid = np.flatnonzero(f.valid[kind])
        xs.append(f.flow[kind][valid])
        ys.append(pseudo_labels(f.n, f.ks[kind], r.truth, kind)[valid])
    x, y = np.concatenate(xs).astype(np.float32), np.concatenate(ys)
    pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y == 0)
    keep = int(min(neg.size, max(1, round(net.negatives * max(1, pos.size)))))
    neg = np.sort(rng.choice(neg, size=keep, replace=False))
    mirrored = x[pos][..., ::-1].copy()
    mirrored[:, 0] *= -1  # u changes sign when left and right swap
    return np.concatenate([x[neg], x[pos], mirrored]), np.concatenate([y[neg], y[pos], y[pos]])


def train(x: np.ndarray, y: np.ndarray, net: SoftNetConfig, seed: int) -> SOFTNet:
    """SOFTNet fit to ``(x, y)`` as the paper: MSE, SGD (or Adam), fixed epochs, the last epoch kept."""
    if net.threads:
        torch.set_num_threads(net.threads)
    torch.manual_seed(seed)
    model = SOFTNet(input_size=net.input_size)
    opt = (torch.optim.SGD(model.parameters(), lr=net.lr) if net.optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=net.lr))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(net.epochs):
        order = torch.randperm(len(xt), generator=g)
        for b in range(0, len(order), net.batch_size):
            idx = order[b:b + net.batch_size]
            loss = nn.functional.mse_loss(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


BATCH = 256


def confidences(model: SOFTNet, x: np.ndarray) -> np.ndarray:
    """The network's confidence for each input of ``x`` ((B, 3, s, s), the stored float16 or float32)."""
    with torch.no_grad():
        return model(torch.from_numpy(x.astype(np.float32))).numpy()


def score(model: SOFTNet, f: VideoFeatures, kind: str) -> np.ndarray:
    """The network's confidence per frame (NaN where there is no flow input)."""
    out = np.full(f.n, np.nan)
    valid = np.flatnonzero(f.valid[kind])
    for b in range(0, valid.size, BATCH):
        idx = valid[b:b + BATCH]
        out[idx] = confidences(model, f.flow[kind][idx])
    return out


class StreamScorer:
    """:func:`score` while the features are computed: ``compute_features(..., on_flow=scorer.add)`` hands each
    flow input here (float16, as the ``features@`` stage stores it) instead of keeping the recording's inputs in
    memory; :meth:`curves` gives the same smoothed curves :func:`loso_curves` gives from stored features."""

    def __init__(self, models: dict[str, SOFTNet]) -> None:
        self.models = models
        self._pending: dict[str, list[tuple[int, np.ndarray]]] = {k: [] for k in models}
        self._scores: dict[str, dict[int, float]] = {k: {} for k in models}

    def add(self, kind: str, i: int, x: np.ndarray) -> None:
        self._pending[kind].append((i, x.astype(np.float16)))
        if len(self._pending[kind]) >= BATCH:
            self._flush(kind)

    def _flush(self, kind: str) -> None:
        got = self._pending[kind]
        if got:
            values = confidences(self.models[kind], np.stack([x for _, x in got]))
            self._scores[kind].update(zip((i for i, _ in got), values.tolist()))
            self._pending[kind] = []

    def curves(self, f: VideoFeatures) -> dict[str, np.ndarray]:
        """Per kind, the confidence per frame of ``f`` (NaN without an input), smoothed over 2k + 1 frames."""
        out = {}
        for kind in self.models:
            self._flush(kind)
            raw = np.full(f.n, np.nan)
            for i, v in self._scores[kind].items():
                raw[i] = v
            out[kind] = smooth(raw, f.ks[kind])
        return out


def spot(curves: dict[str, np.ndarray], f: VideoFeatures, cfg: SpotConfig, net: SoftNetConfig,
         counts: dict | None = None) -> list[Interval]:
    """Micro and macro proposals of one recording from its smoothed score curves (per kind), at SOFTNet's p."""
    return spot_kinds(curves, f, cfg, p_micro=net.p, p_macro=net.p, counts=counts)


def final_models(recs: Sequence[Recording], net: SoftNetConfig, *, progress=None) -> dict[str, SOFTNet]:
    """One network per kind trained as a LOSO fold's, on every recording (of every dataset) in ``recs``; seed
    ``softnet.seed`` × 1000 + 990 + the kind's index (a fold's is its index × 10 + the kind's)."""
    models = {}
    for ki, kind in enumerate(KINDS):
        seed = net.seed * 1000 + 990 + ki
        x, y = training_set(recs, kind, net, np.random.default_rng(seed))
        models[kind] = train(x, y, net, seed)
        if progress is not None:
            progress(kind)
    return models


def loso_curves(recs: Sequence[Recording], net: SoftNetConfig, *, progress=None) -> dict[str, dict[str, np.ndarray]]:
    """Leave-one-subject-out: per held-out subject, one network per kind trained on the others' recordings;
    each recording's smoothed score curve per kind, by key."""
    subjects = sorted({r.subject for r in recs})
    out = {}
    for fi, subject in enumerate(subjects):
        train_recs = [r for r in recs if r.subject != subject]
        models = {}
        for ki, kind in enumerate(KINDS):
            seed = net.seed * 1000 + fi * 10 + ki
            x, y = training_set(train_recs, kind, net, np.random.default_rng(seed))
            models[kind] = train(x, y, net, seed)
        for r in recs:
            if r.subject == subject:
                out[r.key] = {kind: smooth(score(models[kind], r.features, kind), r.features.ks[kind]) for kind in KINDS}
        if progress is not None:
            progress(subject)
    return out

"""``mfdan predict`` on a long recording: spot the micro-expressions (the training-free spotter,
:mod:`mfdan.spotting.feature_difference`; the learned one needs training data a user does not have), then
recognise each with the trained model, as the ``recognise`` stage does.

A video file counts as long when it lasts more than ``spot.short_video`` seconds (1 s: a labelled
micro-expression clip is at most 0.5 s, so anything twice that is a recording); shorter ones, and any input
given ``--onset`` / ``--apex`` or ``--whole``, stay one clip. ``--spot`` spots any video or frame folder."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mfdan.core.errors import DatasetError
from mfdan.predict.inputs import IMAGE_SUFFIXES, Clip, natural_key
from mfdan.predict.predictor import Prediction, predict_clip
from mfdan.spotting import feature_difference
from mfdan.spotting.config import SpotConfig
from mfdan.spotting.faces import track
from mfdan.spotting.features import compute_features
from mfdan.spotting.peaks import Interval, masked, threshold
from mfdan.spotting.video_frames import files_stream, read_frames, video_info, video_stream


@dataclass
class Spotted:
    """One recording's answer: each micro interval with its prediction, and what the timeline draws
    (:mod:`mfdan.predict.run` turns each into an answer)."""

    source: str
    fps: float
    n: int
    answers: list[tuple[Interval, Prediction]] = field(default_factory=list)
    macro: list[Interval] = field(default_factory=list)
    curve: np.ndarray | None = None
    threshold: float = float("nan")
    face: np.ndarray | None = None
    unrecognised: int = 0
    notes: list[str] = field(default_factory=list)  #: how the recording was read (a miscounted header)


def frame_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: natural_key(p.name))


def spot_recording(fm, path: str | Path, cfg: SpotConfig, *, fps: float | None = None, cam: bool = False,
                   device: torch.device = torch.device("cpu")) -> Spotted:
    """Spot, then recognise, every micro-expression of a video file or a folder of frames."""
    path = Path(path)
    notes: list[str] = []
    if path.is_dir():
        files = frame_files(path)
        if len(files) < 3:
            raise DatasetError(path, f"{len(files)} frames: too few to spot in")
        rate, stream, source = fps or 30.0, files_stream(files), files
    else:
        rate = fps or video_info(path)[1] or 30.0
        stream, source = video_stream(path, notes=notes), path
    feats = compute_features(track(stream, cfg), None, rate, cfg)  # one pass over what decodes
    n = feats.n
    proposals = feature_difference.spot(feats, cfg)
    curve = feature_difference.curves(feats)["micro"]
    macro = [iv for iv in proposals if iv.kind == "macro"]
    out = Spotted(source=str(path), fps=rate, n=n, curve=curve, face=feats.face, macro=macro,
                  threshold=threshold(masked(curve, macro if cfg.mask_macro else []), cfg.p_micro), notes=notes)
    micro = [iv for iv in proposals if iv.kind == "micro" and iv.apex != iv.onset]
    raw = read_frames(source, {i for iv in micro for i in (iv.onset, iv.apex)})
    for iv in micro:
        clip = Clip(source=str(path), frames={iv.onset: raw[iv.onset], iv.apex: raw[iv.apex]}, onset=iv.onset,
                    apex=iv.apex, names={i: f"{path}:{i}" for i in (iv.onset, iv.apex)}, kind="video")
        try:
            p = predict_clip(fm, clip, align_as="casme2", cam=cam, device=device)
        except DatasetError:
            out.unrecognised += 1
            continue
        out.answers.append((Interval(iv.onset, iv.apex, iv.offset, "micro", iv.score, p.label), p))
    return out

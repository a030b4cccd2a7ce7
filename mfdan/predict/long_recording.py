"""``mfdan predict`` on a long recording: spot the micro-expressions, then recognise each with the trained model,
as the ``recognise`` stage does.

Two spotters: the learned one, SOFTNet, when a spotter folder is there (the long pipeline's ``train_spotter``
writes ``long/models/spotter``: :mod:`mfdan.spotting.spotter_folder`), its inputs computed by the pipeline's own
:func:`mfdan.spotting.features.compute_features` with the card's ``spot`` and ``softnet`` settings and scored as
they stream (:class:`mfdan.spotting.softnet.StreamScorer`); else the training-free LBP feature difference
(:mod:`mfdan.spotting.feature_difference`) at the default settings. ``--spotter lbp|softnet`` chooses.

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
from mfdan.spotting import feature_difference, softnet
from mfdan.spotting.config import SpotConfig
from mfdan.spotting.faces import track
from mfdan.spotting.features import compute_features
from mfdan.spotting.peaks import Interval, masked, threshold
from mfdan.spotting.spotter_folder import LearnedSpotter, has_spotter, load_spotter
from mfdan.spotting.video_frames import files_stream, read_frames, video_info, video_stream

SPOTTERS = ("auto", "lbp", "softnet")
#: the names answers carry (``"spotter"``), as the long pipeline's spots.json names them
LBP_NAME, SOFTNET_NAME = "feature_difference", "softnet"
DEFAULT_SPOTTER_DIR = Path("long/models/spotter")


def choose_spotter(choice: str, folder: Path | None) -> LearnedSpotter | None:
    """The learned spotter to spot with, or None for the training-free one: ``lbp`` never loads one, ``softnet``
    must find one in ``folder`` (default :data:`DEFAULT_SPOTTER_DIR`; else one :class:`DatasetError` naming it),
    ``auto`` loads the one there when there is one. A folder whose card is there but broken is an error either way."""
    if choice not in SPOTTERS:
        raise ValueError(f"--spotter {choice!r}: one of {', '.join(SPOTTERS)}")
    if choice == "lbp":
        return None
    folder = DEFAULT_SPOTTER_DIR if folder is None else folder
    if choice == "auto" and not has_spotter(folder):
        return None
    if not has_spotter(folder):
        raise DatasetError(folder, "--spotter softnet: no learned spotter saved here (card.json missing); "
                                   "`dvc repro long/dvc.yaml` trains one into long/models/spotter, or give "
                                   "--spotter-model DIR, or --spotter lbp")
    return load_spotter(folder)


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
    spotter: str = LBP_NAME                         #: feature_difference | softnet


def frame_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: natural_key(p.name))


def spot_recording(fm, path: str | Path, cfg: SpotConfig, *, fps: float | None = None, cam: bool = False,
                   device: torch.device = torch.device("cpu"), spotter: LearnedSpotter | None = None) -> Spotted:
    """Spot, then recognise, every micro-expression of a video file or a folder of frames: with ``spotter``
    (SOFTNet, its card's settings in place of ``cfg``), else with the training-free spotter at ``cfg``."""
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
    if spotter is None:
        feats = compute_features(track(stream, cfg), None, rate, cfg)  # one pass over what decodes
        proposals = feature_difference.spot(feats, cfg)
        curve, p, name = feature_difference.curves(feats)["micro"], cfg.p_micro, LBP_NAME
    else:  # SOFTNet's inputs as the features@ stage computes them, scored as they come
        cfg, scorer = spotter.spot, softnet.StreamScorer(spotter.models)
        feats = compute_features(track(stream, cfg), None, rate, cfg, spotter.net, on_flow=scorer.add, lbp=False)
        curves = scorer.curves(feats)
        proposals = softnet.spot(curves, feats, cfg, spotter.net)
        curve, p, name = curves["micro"], spotter.net.p, SOFTNET_NAME
    n = feats.n
    macro = [iv for iv in proposals if iv.kind == "macro"]
    out = Spotted(source=str(path), fps=rate, n=n, curve=curve, face=feats.face, macro=macro, spotter=name,
                  threshold=threshold(masked(curve, macro if cfg.mask_macro else []), p), notes=notes)
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

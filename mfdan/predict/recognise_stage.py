"""DVC stage ``recognise`` (long/dvc.yaml): the class of every spotted micro-expression, by a trained model
(``models/final`` of the clip pipeline), to ``data/recognised.json``.

Each micro proposal is one clip to :func:`mfdan.predict.predictor.predict_clip`: its onset and apex frames,
aligned once on the onset (landmarks), TV-L1 + strain, MagNet, the network; exactly ``mfdan predict --onset N
--apex M`` on the recording. A proposal whose onset frame dlib finds no face in keeps no label (counted)."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from mfdan.core.errors import DatasetError
from mfdan.core.files import write_bytes
from mfdan.core.progress import Progress
from mfdan.data.long_records import LongVideo
from mfdan.predict.inputs import Clip
from mfdan.predict.model_card import load_final
from mfdan.predict.predictor import predict_clip
from mfdan.spotting.video_frames import read_frames


def label_intervals(fm, video: LongVideo | None, source, intervals: list[dict], *, frames_of=None,
                    align_as: str = "casme2", device: torch.device = torch.device("cpu")) -> tuple[list[dict], int]:
    """``intervals`` (JSON) with ``label`` and ``probabilities`` set for the micro ones; and how many could not be
    recognised. ``source``: a video file or the frame files."""
    wanted = {i for iv in intervals if iv["kind"] == "micro" for i in (iv["onset"], iv["apex"])}
    frames = read_frames(source, wanted)
    failed, out = 0, []
    for iv in intervals:
        iv = dict(iv)
        if iv["kind"] == "micro":
            clip = Clip(source=str(source if isinstance(source, (str, Path)) else video.key),
                        frames={iv["onset"]: frames[iv["onset"]], iv["apex"]: frames[iv["apex"]]},
                        onset=iv["onset"], apex=iv["apex"], names={i: f"{video.key if video else source}:{i}"
                                                                   for i in (iv["onset"], iv["apex"])},
                        kind="video")
            if iv["onset"] == iv["apex"]:
                failed += 1
            else:
                try:
                    p = predict_clip(fm, clip, align_as=align_as, device=device)
                    iv["label"], iv["probabilities"] = p.label, p.probabilities
                except DatasetError:
                    failed += 1
        out.append(iv)
    return out, failed


def run(*, model_dir: Path, spots: Path, features: list[Path], out: Path) -> str:
    from mfdan.spotting.features_file import load

    fm = load_final(model_dir, torch.device("cpu"))
    data = json.loads(spots.read_text())["spots"]
    videos = {v.key: v for path in features for v, _ in load(path, flows=False)}
    result: dict = {}
    failed = 0
    total = sum(len(d) for d in data.values())
    with Progress(total, desc="recognise", unit="video") as bar:
        for spotter, by_video in data.items():
            result[spotter] = {}
            for key, intervals in by_video.items():
                v = videos[key]
                result[spotter][key], f = label_intervals(fm, v, list(v.frames), intervals)
                failed += f
                bar.update(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(out, (json.dumps({"recognised": result, "classes": fm.classes, "unrecognised": failed},
                                 indent=1) + "\n").encode())
    return f"recognise: {total} recording × spotter pairs, {failed} micro proposals without a face at the onset -> {out}"

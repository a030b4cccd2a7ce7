"""DVC stage ``gradcam`` (Fig. 6): for each fold, that fold's own model — which never saw the held-out subject
— explains its held-out samples: a Grad-CAM map of the predicted class over the aligned apex frame, one PNG per
sample (``<out>/<fold>/<sample>.png``), and per true class a figure for ``dvc plots show``
(``<grids>/<class>.png``) of the first held-out samples of each dataset (``GRID_SAMPLES`` rows shared among the
datasets): one labelled row per sample (sample, dataset, true and predicted class, probability) with its onset,
apex, flow and heat map, as the paper's Fig. 6.

An architecture without a spatial map to explain (HTNet's region tokens, Bi-WOOF's SVM) is skipped: the stage
says so, and writes its two folders with a ``SKIPPED.txt`` note naming the architecture instead of pictures."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from mfdan.core.errors import DatasetError
from mfdan.core.files import written_folder
from mfdan.core.frames import to_unit
from mfdan.core.params import Params
from mfdan.core.pictures import write_png
from mfdan.core.progress import progress
from mfdan.core.rows import open_rows, read_strings
from mfdan.data.folds import held_out
from mfdan.evaluate.gradcam import figure, grad_cam, overlay, sample_panel, supports_cam
from mfdan.model.registry import build, config_from_dict
from mfdan.model.registry import forward as model_forward

GRID_SAMPLES = 6   # rows per class figure
TILE = 112         # px per figure tile
CHUNK = 16         # held-out samples explained at a time


def load_fold_model(folder: Path):
    """The model a ``train@`` stage wrote, rebuilt from its meta.json (architecture and config) and weights."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise DatasetError(meta_path, f"fold output missing; run `dvc repro train@{folder.name}`")
    meta = json.loads(meta_path.read_text())
    weights = folder / meta.get("weights", "model.pt")
    if not weights.is_file():
        raise DatasetError(weights, f"fold output missing; run `dvc repro train@{folder.name}`")
    model = build(config_from_dict(meta.get("arch", "mfdan"), meta["model"], where=f"{meta_path}: model"))
    if not isinstance(model, torch.nn.Module):
        model.load(weights)
        return model
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def explain(model, idx: np.ndarray, frames: np.ndarray, flow: np.ndarray, landmarks: np.ndarray | None,
            chunk: int = CHUNK) -> tuple[torch.Tensor, np.ndarray]:
    """Probabilities (len(idx), C) and Grad-CAM maps of the predicted class (len(idx), H, W) of samples ``idx``,
    ``chunk`` at a time (an HDE fold holds out a whole dataset)."""
    probs, heats = [], []
    for s in range(0, len(idx), chunk):
        b = idx[s:s + chunk]
        batch = {"image": to_unit(frames[b]), "flow": torch.from_numpy(flow[b])}
        if landmarks is not None:
            batch["landmarks"] = torch.from_numpy(landmarks[b])
        with torch.no_grad():
            p = torch.softmax(model_forward(model, batch), dim=1)
        probs.append(p)
        heats.append(grad_cam(model, batch, p.argmax(1)))
    return torch.cat(probs), np.concatenate(heats)


def skip(out: Path, grids: Path, arch: str) -> str:
    """The stage's outputs when ``arch`` has nothing Grad-CAM can explain: a note in each folder."""
    note = (f"Grad-CAM skipped: the architecture {arch!r} has no spatial feature map over the face to explain "
            "(mfdan.evaluate.gradcam.supports_cam).\n")
    for folder in (out, grids):
        with written_folder(folder) as tmp:
            (tmp / "SKIPPED.txt").write_text(note)
    return f"gradcam: skipped, {arch} has no spatial map to explain ({out}/SKIPPED.txt)"


def run(*, params: Params, aligned: Path, cache: Path, magnified: Path, folds_dir: Path, out: Path,
        grids: Path) -> str:
    with open_rows(aligned, ("onset", "apex", "sample_id")) as al, open_rows(cache, ("flow", "label", "sample_id")) as c, \
            open_rows(magnified, ("eval", "sample_id")) as m:
        ids = read_strings(c["sample_id"])
        for name, f in (("aligned", al), ("magnified", m)):
            if read_strings(f["sample_id"]) != ids:
                raise DatasetError(f.filename, f"{name} file does not hold the samples of {cache} in order; rerun it")
        onset, apex, frames, flow = al["onset"][()], al["apex"][()], m["eval"][()], c["flow"][()]
        datasets, subjects = read_strings(c["dataset"]), read_strings(c["subject"])
        labels = c["label"][()]
        landmarks = c["landmarks"][()].astype(np.float32) if "landmarks" in c else None
        classes = json.loads(c.attrs["classes"])
    first = load_fold_model(folds_dir / params.folds[0]) if params.folds else None
    if first is not None and not supports_cam(first):
        return skip(out, grids, json.loads((folds_dir / params.folds[0] / "meta.json").read_text()).get("arch"))
    panels: dict[str, list[np.ndarray]] = {cls: [] for cls in classes}
    shown: Counter = Counter()  # panels per (class, dataset)
    per_dataset = max(1, GRID_SAMPLES // len(set(datasets)))
    written = 0
    with written_folder(out) as tmp_out:  # both folders appear under their names only when complete
        for fold in progress(params.folds, desc="gradcam", unit="fold"):
            model = load_fold_model(folds_dir / fold)
            idx = np.flatnonzero(held_out(fold, datasets, subjects))
            probs, heat = explain(model, idx, frames, flow, landmarks)
            pred = probs.argmax(1)
            for k, i in enumerate(idx):
                picture = overlay(apex[i], heat[k])
                write_png(tmp_out / fold / f"{ids[i]}.png", picture)
                written += 1
                true, said = classes[int(labels[i])], classes[int(pred[k])]
                if shown[true, datasets[i]] < per_dataset:  # every dataset in each figure
                    shown[true, datasets[i]] += 1
                    caption = (f"{ids[i]} ({datasets[i]})  true {true}  pred {said} "
                               f"p={float(probs[k, pred[k]]):.2f}" + ("" if said == true else "  WRONG"))
                    panels[true].append(sample_panel(onset[i], apex[i], flow[i], heat[k], caption, TILE))
        with written_folder(grids) as tmp_grids:
            for cls, rows in panels.items():
                if rows:
                    title = f"Fig. 6, true class {cls}: each fold's model on its held-out samples"
                    write_png(tmp_grids / f"{cls}.png", figure(rows, title))
    return f"gradcam: {written} held-out samples over {len(params.folds)} folds -> {out}, grids in {grids}"

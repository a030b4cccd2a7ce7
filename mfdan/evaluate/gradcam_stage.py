"""DVC stage ``gradcam`` (Fig. 6): for each fold, that fold's own model — which never saw the held-out subject
— explains its held-out samples: a Grad-CAM map of the predicted class over the aligned apex frame, one PNG per
sample (``<out>/<fold>/<sample>.png``), and per true class a figure for ``dvc plots show``
(``<grids>/<class>.png``) of the first held-out samples of each dataset (``GRID_SAMPLES`` rows shared among the
datasets): one labelled row per sample (sample, dataset, true and predicted class, probability) with its onset,
apex, flow and heat map, as the paper's Fig. 6."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from mfdan.core.errors import DatasetError
from mfdan.core.files import written_folder
from mfdan.core.frames import to_unit
from mfdan.core.params import Params, from_dict
from mfdan.core.progress import progress
from mfdan.core.rows import open_rows, read_strings
from mfdan.data.folds import fold_name
from mfdan.evaluate.gradcam import figure, grad_cam, overlay, sample_panel, write_png
from mfdan.model.network import MFDAN, MFDANConfig

GRID_SAMPLES = 6   # rows per class figure
TILE = 112         # px per figure tile


def load_fold_model(folder: Path) -> MFDAN:
    """The model a ``train@`` stage wrote, rebuilt from its meta.json and model.pt."""
    meta_path, weights = folder / "meta.json", folder / "model.pt"
    for p in (meta_path, weights):
        if not p.is_file():
            raise DatasetError(p, f"fold output missing; run `dvc repro train@{folder.name}`")
    cfg = from_dict(MFDANConfig, json.loads(meta_path.read_text())["model"], where=f"{meta_path}: model")
    model = MFDAN(cfg)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def run(*, params: Params, aligned: Path, cache: Path, magnified: Path, folds_dir: Path, out: Path,
        grids: Path) -> str:
    with open_rows(aligned, ("onset", "apex", "sample_id")) as al, open_rows(cache, ("flow", "label", "sample_id")) as c, \
            open_rows(magnified, ("eval", "sample_id")) as m:
        ids = read_strings(c["sample_id"])
        for name, f in (("aligned", al), ("magnified", m)):
            if read_strings(f["sample_id"]) != ids:
                raise DatasetError(f.filename, f"{name} file does not hold the samples of {cache} in order; rerun it")
        onset, apex, frames, flow = al["onset"][()], al["apex"][()], m["eval"][()], c["flow"][()]
        datasets = read_strings(c["dataset"])
        labels = c["label"][()]
        folds = [fold_name(d, s) for d, s in zip(datasets, read_strings(c["subject"]))]
        classes = json.loads(c.attrs["classes"])
    panels: dict[str, list[np.ndarray]] = {cls: [] for cls in classes}
    shown: Counter = Counter()  # panels per (class, dataset)
    per_dataset = max(1, GRID_SAMPLES // len(set(datasets)))
    written = 0
    with written_folder(out) as tmp_out:  # both folders appear under their names only when complete
        for fold in progress(params.folds, desc="gradcam", unit="fold"):
            model = load_fold_model(folds_dir / fold)
            idx = np.flatnonzero(np.array(folds) == fold)
            image, fl = to_unit(frames[idx]), torch.from_numpy(flow[idx])
            with torch.no_grad():
                probs = torch.softmax(model(image, fl), dim=1)
            pred = probs.argmax(1)
            heat = grad_cam(model, image, fl, pred)
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
                    title = f"Fig. 6, true class {cls}: each fold's model on its held-out subject"
                    write_png(tmp_grids / f"{cls}.png", figure(rows, title))
    return f"gradcam: {written} held-out samples over {len(params.folds)} folds -> {out}, grids in {grids}"

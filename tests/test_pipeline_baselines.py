"""`model.arch` and `data.evaluation` through DVC on a tiny generated composite (all three datasets), in a
temporary git repository: `dvc exp run -S model.arch=<baseline>` reruns the training stages and what follows
them, never preprocessing; `mfdan predict` with a baseline's `models/final` gives the pipeline's probabilities;
Bi-WOOF's Grad-CAM stage says it skips; `-S data.evaluation=hde` with the datasets as folds holds out one whole
dataset per fold, and a fold list of the wrong kind is refused."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mfdan.synth.config import SynthConfig
from mfdan.synth.plan import plan_layout
from tests.test_pipeline_e2e import copy_repo, ran, sh, tiny_params

pytestmark = pytest.mark.slow
DATASETS = ("casme2", "samm", "smic")


def composite_params() -> dict:
    p = tiny_params()
    p["data"]["protocol"] = "composite"
    synth = SynthConfig(**{k: v if not isinstance(v, list) else tuple(v) for k, v in p["synth"].items()})
    p["folds"] = sorted({f"{d}_{c.subject}" for d in DATASETS for c in plan_layout(d, synth)})
    return p


def check_predict(repo: Path, arch: str) -> None:
    """Two-frame `mfdan predict` on two of the pipeline's samples equals the probabilities models/final gives
    them from the caches (landmarks: the cache's, recomputed by predict from the aligned onset)."""
    import h5py
    import torch

    from mfdan.core.frames import to_unit
    from mfdan.model.registry import forward
    from mfdan.predict.model_card import load_final

    fm = load_final(repo / "models/final")
    assert fm.card["params"]["arch"] == arch
    rows = json.loads((repo / "data/index.json").read_text())["samples"]
    with h5py.File(repo / "data/magnified.h5") as m, h5py.File(repo / "data/cache.h5") as c, \
            h5py.File(repo / "data/aligned.h5") as a:
        batch = {"image": to_unit(m["eval"][()]), "flow": torch.from_numpy(c["flow"][()]),
                 "landmarks": torch.from_numpy(c["landmarks"][()])}
        apex = a["apex_index"][()]
    with torch.no_grad():
        expected = torch.softmax(forward(fm.model, batch), dim=1).numpy()
    for i in (0, len(rows) - 1):
        r = rows[i]
        out = sh(f"python -m mfdan.cli predict --model models/final --onset {r['frames'][r['onset']]} "
                 f"--apex {r['frames'][int(apex[i])]} --align-as {r['dataset']} --json", repo)
        got = json.loads(next(x for x in reversed(out.splitlines()) if x.startswith("{")))["probabilities"]
        assert max(abs(got[c] - expected[i, k]) for k, c in enumerate(fm.classes)) < 1e-5, (arch, r["sample_id"], got)


def test_baselines_and_hde_through_dvc(tmp_path):
    repo = copy_repo(tmp_path)
    params = composite_params()
    folds = params["folds"]
    assert {f.split("_")[0] for f in folds} == set(DATASETS)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh("git init -q -b main && git add -A && git commit -qm init", repo)
    sh("dvc repro", repo)
    sh("git add -A && git commit -qm baseline", repo)
    after_training = {f"train@{f}" for f in folds} | {"evaluate", "gradcam", "train_final"}

    for arch in ("ststnet", "htnet"):
        sh("git checkout -q -- . && dvc checkout -q", repo)
        exp = sh(f"dvc exp run -S model.arch={arch}", repo)
        assert ran(exp) == after_training, exp  # never synth, align, flow, pack, MagNet or magnify
        loso = json.loads((repo / "metrics/loso.json").read_text())
        assert loso["arch"] == [arch] and loso["evaluation"] == "loso" and loso["complete"]
        assert sorted(loso["per_dataset"]) == list(DATASETS)
        meta = json.loads((repo / "models/folds" / folds[0] / "meta.json").read_text())
        assert meta["arch"] == arch and meta["weights"] == "model.pt"
        if arch == "ststnet":  # Grad-CAM on its last convolution map
            assert list((repo / "metrics/gradcam").glob("*.png"))
        else:  # HTNet's tokens are four landmark regions, not a map of the face
            assert (repo / "data/gradcam/SKIPPED.txt").is_file()
        check_predict(repo, arch)

    # the hand-crafted row under the holdout-database protocol: one fold per dataset
    sh("git checkout -q -- . && dvc checkout -q", repo)
    exp = sh("dvc exp run -S model.arch=bi_woof -S data.evaluation=hde -S 'folds=[casme2,samm,smic]'", repo)
    assert ran(exp) == {f"train@{d}" for d in DATASETS} | {"evaluate", "gradcam", "train_final"}, exp
    loso = json.loads((repo / "metrics/loso.json").read_text())
    assert loso["evaluation"] == "hde" and loso["arch"] == ["bi_woof"] and sorted(loso["per_fold"]) == list(DATASETS)
    for d in DATASETS:
        lines = (repo / "models/folds" / d / "predictions.csv").read_text().splitlines()[1:]
        assert lines and {x.split(",")[1] for x in lines} == {d}  # the whole held-out dataset, nothing else
        meta = json.loads((repo / "models/folds" / d / "meta.json").read_text())
        assert meta["weights"] == "model.npz" and meta["train_samples"] + meta["test_samples"] == loso["samples"]
    assert "skipped" in (repo / "data/gradcam/SKIPPED.txt").read_text().lower()
    assert (repo / "metrics/gradcam/SKIPPED.txt").is_file()
    check_predict(repo, "bi_woof")

    # inner selection through dvc exp run, under HDE: each fold's inner folds are its two training datasets; the
    # final model (it holds nothing out) takes the protocol's unit from the LOSO metrics: the three datasets
    sh("git checkout -q -- . && dvc checkout -q", repo)
    exp = sh("dvc exp run -S data.evaluation=hde -S 'folds=[casme2,samm,smic]' -S train.budget=inner "
             "-S train.inner_points=2", repo)
    assert ran(exp) == {f"train@{d}" for d in DATASETS} | {"evaluate", "gradcam", "train_final"}, exp
    for d in DATASETS:
        meta = json.loads((repo / "models/folds" / d / "meta.json").read_text())
        assert meta["inner"]["unit"] == "dataset" and sorted(sum(meta["inner"]["groups"], [])) == \
            sorted(set(DATASETS) - {d})
        assert meta["epochs_run"] == meta["inner"]["chosen"]["epochs"] and meta["selection"].startswith("inner")
    card = json.loads((repo / "models/final/card.json").read_text())
    assert card["trained_on"]["selection"].startswith("inner selection")
    assert "3 inner folds of the training datasets" in card["trained_on"]["selection"]

    # a fold list of the other kind is refused by evaluate, naming the fix
    sh("git checkout -q -- . && dvc checkout -q", repo)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(repo))
    res = subprocess.run("dvc exp run -S data.evaluation=hde", cwd=repo, shell=True, capture_output=True, text=True,
                         env=env)
    assert res.returncode != 0 and "mfdan folds --cache data/cache.h5 --evaluation hde" in res.stdout + res.stderr

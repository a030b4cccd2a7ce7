"""The whole DVC pipeline on a tiny generated dataset, in a temporary git repository: metrics keys exist,
a rerun is a no-op, `dvc exp run -S dropkey=0.3` retrains and `dvc metrics diff` / `dvc params diff` show it,
`dvc plots show` renders."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mfdan.synth import SynthConfig, plan_layout

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def sh(cmd: str, cwd: Path) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    res = subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, env=env)
    assert res.returncode == 0, f"{cmd}\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


def tiny_params() -> dict:
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    synth = SynthConfig(seed=1, subjects=2, samples_per_subject=3, others_per_subject=0, max_frames=5, frame_size=160)
    p["synth"] = {**p["synth"], "seed": 1, "subjects": 2, "samples_per_subject": 3, "others_per_subject": 0,
                  "max_frames": 5, "frame_size": 160}
    p["data"]["protocol"] = "casme2"
    p["folds"] = sorted({f"casme2_{c.subject}" for c in plan_layout("casme2", synth)})
    p["align"] |= {"output_size": 64, "workers": 1}
    p["flow"] |= {"output_size": 64, "workers": 1}
    p["magnet"] |= {"iterations": 2, "batch": 2, "patch": 32, "eval_pairs": 4}
    p["magnify"] |= {"variants": 1}
    p["model"] = {"img_size": 64, "patch_size": 4, "embed_dim": 16, "merge_dims": [16, 16, 16], "heads": [2, 2],
                  "window": 8, "flow_encoder_input": 16, "flow_encoder_dim": 8}
    p["train"] |= {"epochs": 2, "batch": 4}
    return p


def test_dvc_pipeline_end_to_end(tmp_path):
    repo = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if f.startswith(("tests/", "bench/", "docs/", "metrics/")) or f == "dvc.lock":
            continue
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, repo / f)
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    sh("git init -q -b main && git add -A && git commit -qm init", repo)

    out = sh("dvc repro", repo)
    folds = tiny_params()["folds"]
    assert all(f"train@{f}" in out for f in folds)
    loso = json.loads((repo / "metrics/loso.json").read_text())
    for key in ("uf1", "uar", "accuracy", "per_dataset", "per_fold", "class_counts", "epoch_selection", "device"):
        assert key in loso
    assert set(loso["per_fold"]) == set(folds) and 0 <= loso["uf1"] <= 1
    assert "never seen" in loso["epoch_selection"][0]
    shown = sh("dvc metrics show", repo)
    assert "uf1" in shown and "psnr_db" in shown

    again = sh("dvc repro", repo)
    assert "Running stage" not in again and "up to date" in sh("dvc status", repo)
    first = (repo / "metrics/loso.json").read_bytes()

    sh("git add -A && git commit -qm baseline", repo)
    exp = sh("dvc exp run -S dropkey=0.3", repo)
    assert all(f"train@{f}" in exp for f in folds) and "Running stage 'align'" not in exp
    assert "dropkey" in sh("dvc params diff", repo)
    diff = sh("dvc metrics diff --all", repo)
    assert "metrics/loso.json" in diff and "uf1" in diff

    sh("dvc plots show -o plots_out", repo)
    assert (repo / "plots_out" / "index.html").is_file()

    # same params, same bytes: back to the baseline, retrain one fold from scratch and re-evaluate
    sh(f"git checkout -q -- . && dvc checkout -q && dvc repro --force --single-item train@{folds[0]}", repo)
    assert "up to date" in sh("dvc status", repo)  # the retrained fold's outputs hash exactly as before
    sh("dvc repro --force --single-item evaluate", repo)
    assert (repo / "metrics/loso.json").read_bytes() == first

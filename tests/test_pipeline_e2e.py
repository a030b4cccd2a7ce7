"""The whole DVC pipeline on a tiny generated dataset, in a temporary git repository: metrics keys exist,
a rerun is a no-op, adding a fold trains only that fold, `dvc exp run -S dropkey=0.4` retrains and
`dvc metrics diff` / `dvc params diff` show it, a `flow` change reruns flow → pack → folds but never MagNet,
`dvc plots show` renders."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mfdan.synth.config import SynthConfig
from mfdan.synth.plan import plan_layout

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def ran(out: str) -> set[str]:
    """The stages a `dvc repro` / `dvc exp run` output says it ran."""
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '")}


def sh(cmd: str, cwd: Path) -> str:
    # PYTHONPATH: the stages import the temporary repository's own copy of mfdan, not whichever checkout the
    # editable install points at
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(cwd),
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    res = subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, env=env)
    assert res.returncode == 0, f"{cmd}\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


def tiny_params() -> dict:
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    synth = SynthConfig(seed=1, subjects=2, samples_per_subject=3, others_per_subject=0, max_frames=5, geometry="compact",
                        frame_size=160)
    p["synth"] = {**p["synth"], "seed": 1, "subjects": 2, "samples_per_subject": 3, "others_per_subject": 0,
                  "max_frames": 5, "geometry": "compact", "frame_size": 160}
    p["data"]["protocol"] = "casme2"
    p["folds"] = sorted({f"casme2_{c.subject}" for c in plan_layout("casme2", synth)})
    p["align"] |= {"output_size": 64, "workers": 1}
    p["flow"] |= {"output_size": 64, "workers": 1}
    p["magnet"] |= {"iterations": 2, "batch": 2, "patch": 32, "eval_pairs": 4}
    p["magnify"] |= {"variants": 1}
    p["model"] = {**p["model"], "img_size": 64, "patch_size": 4, "embed_dim": 16, "merge_dims": [16, 16, 16],
                  "heads": [2, 2], "window": 8, "flow_encoder_input": 16, "flow_encoder_dim": 8}
    p["train"] |= {"epochs": 2, "batch": 4, "threads": 1}  # one thread: the bytes `mfdan sweep --threads 1` writes
    return p


def check_predict_equals_pipeline(repo: Path, loso: dict) -> None:
    """`mfdan predict` on the pipeline's own samples (two-frame and clip-folder forms) gives the probabilities
    the pipeline computes for them from its caches with the same model (models/final), within 1e-5."""
    import h5py
    import torch

    from mfdan.core.frames import to_unit
    from mfdan.predict.model_card import load_final

    card = json.loads((repo / "models/final/card.json").read_text())
    assert card["loso_reference"]["uf1"] == loso["uf1"] and card["trained_on"]["epoch_used"] == card["params"]["train"]["epochs"]
    assert card["magnet_sha256"] and card["cache_sha256"]
    fm = load_final(repo / "models/final")
    rows = json.loads((repo / "data/index.json").read_text())["samples"]
    with h5py.File(repo / "data/magnified.h5") as m, h5py.File(repo / "data/cache.h5") as c, \
            h5py.File(repo / "data/aligned.h5") as a:
        images, flow, apex = m["eval"][()], c["flow"][()], a["apex_index"][()]
    with torch.no_grad():
        expected = torch.softmax(fm.model(to_unit(images), torch.from_numpy(flow)), dim=1).numpy()
    picks = [0, len(rows) // 2, len(rows) - 1]
    for i in picks:
        r = rows[i]
        onset, peak = r["frames"][r["onset"]], r["frames"][int(apex[i])]
        out = sh(f"python -m mfdan.cli predict --model models/final --onset {onset} --apex {peak} "
                 f"--align-as {r['dataset']} --json", repo)
        got = json.loads(next(x for x in reversed(out.splitlines()) if x.startswith("{")))["probabilities"]
        assert "was trained on generated data" in out  # the note on stderr (sh returns stdout + stderr)
        assert max(abs(got[c] - expected[i, k]) for k, c in enumerate(fm.classes)) < 1e-5, (r["sample_id"], got)
    # the clip-folder form with frame indices, several inputs in one run, a Grad-CAM PNG each
    r = rows[picks[1]]
    folder = str(Path(r["frames"][0]).parent)
    out = sh(f"python -m mfdan.cli predict --model models/final {folder} {folder} --onset {r['onset']} "
             f"--apex {int(apex[picks[1]])} --json --cam {repo.parent / 'cams'}", repo)
    lines = [json.loads(x) for x in out.strip().splitlines() if x.startswith("{")]
    assert len(lines) == 2 and len(list((repo.parent / "cams").glob("*.png"))) == 4  # overlay + magnified panel each
    panel = repo.parent / "cams" / f"{Path(folder).name}_magnified.png"
    assert panel.is_file() and panel.stat().st_size > 1000
    got = lines[0]["probabilities"]
    assert max(abs(got[c] - expected[picks[1], k]) for k, c in enumerate(fm.classes)) < 1e-5


def check_sweep_equals_pipeline(repo: Path, folds: list[str]) -> None:
    """`mfdan sweep` (an embedded LocalCluster of two workers) trains every fold to the bytes `dvc repro`'s
    train@<fold> wrote, weights included; its set is built by the same DVC stages (restored from the run cache)."""
    out = sh(f"mfdan sweep --set params.yaml --arm base: --seeds 0 --threads 1 --workers 2 --weights "
             f"--store {repo.parent / 'sweeps'} --json", repo)
    assert "Stage 'align' is cached" in out  # the set's caches: the pipeline's own, from the run cache
    result, _ = json.JSONDecoder().raw_decode(out[out.index("{"):])  # stdout (the JSON), then the log lines
    assert sorted(result["folds"]["base"]) == sorted(folds)
    for fold in folds:
        stored = Path(result["tasks"][f"base seed 0 {fold}"])
        for name in ("predictions.csv", "curve.csv", "meta.json", "model.pt"):
            assert (stored / name).read_bytes() == (repo / "models/folds" / fold / name).read_bytes(), (fold, name)


def copy_repo(tmp_path: Path) -> Path:
    """The tracked files a pipeline run needs (no tests, bench, docs, metrics or dvc.lock files: their outputs are not
    in the copy's DVC cache, so `dvc checkout` would fail on them), in ``tmp_path/repo``."""
    repo = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if f.startswith(("tests/", "bench/", "docs/", "metrics/", "long/metrics/")) or f in ("dvc.lock", "long/dvc.lock"):
            continue
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, repo / f)
    return repo


def test_dvc_pipeline_end_to_end(tmp_path):
    repo = copy_repo(tmp_path)
    params = tiny_params()
    folds = params["folds"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params | {"folds": folds[:-1]}, sort_keys=False))
    sh("git init -q -b main && git add -A && git commit -qm init", repo)

    # a quick run on a subset of the folds is reported as incomplete, loudly
    out = sh("dvc repro", repo)
    assert ran(out) >= {f"train@{f}" for f in folds[:-1]} and f"train@{folds[-1]}" not in ran(out)
    assert "warning: metrics cover" in out and folds[-1] in out
    partial = json.loads((repo / "metrics/loso.json").read_text())
    assert partial["complete"] is False and partial["folds_missing"] == [folds[-1]]

    # adding the last subject to `folds` trains that fold only, then evaluates
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh("dvc repro", repo)
    assert ran(out) == {f"train@{folds[-1]}", "evaluate", "gradcam", "train_final"}, out
    loso = json.loads((repo / "metrics/loso.json").read_text())
    for key in ("uf1", "uar", "accuracy", "per_dataset", "per_fold", "class_counts", "epoch_selection", "device"):
        assert key in loso
    assert set(loso["per_fold"]) == set(folds) and 0 <= loso["uf1"] <= 1
    assert loso["complete"] is True and loso["folds_missing"] == []
    assert "never seen" in loso["epoch_selection"][0]
    shown = sh("dvc metrics show", repo)
    assert "uf1" in shown and "psnr_db" in shown
    check_predict_equals_pipeline(repo, loso)
    check_sweep_equals_pipeline(repo, folds)

    again = sh("dvc repro", repo)
    assert "Running stage" not in again and "up to date" in sh("dvc status dvc.yaml", repo)
    first = (repo / "metrics/loso.json").read_bytes()

    sh("git add -A && git commit -qm baseline", repo)
    exp = sh("dvc exp run -S dropkey=0.4", repo)
    assert ran(exp) == {f"train@{f}" for f in folds} | {"evaluate", "gradcam", "train_final"}, exp
    assert "dropkey" in sh("dvc params diff", repo)
    diff = sh("dvc metrics diff --all", repo)
    assert "metrics/loso.json" in diff and "uf1" in diff

    sh("dvc plots show -o plots_out", repo)
    html = (repo / "plots_out" / "index.html").read_text()
    # Fig. 5: one confusion file per dataset and for all samples; DVC renders those with rows (CASME II here)
    assert sorted(p.name for p in (repo / "metrics/confusion").iterdir()) == ["all.csv", "casme.csv", "casme2.csv",
                                                                               "casme3.csv", "mmew.csv", "samm.csv",
                                                                               "smic.csv"]
    for title in ("all samples", "CASME II"):
        assert f"Fig. 5: confusion, {title}" in html
    assert "gradcam" in html  # Fig. 6 grids as image plots
    cams = sorted((repo / "data/gradcam").rglob("*.png"))
    assert len(cams) == loso["samples"] and {p.parent.name for p in cams} == set(folds)
    assert list((repo / "metrics/gradcam").glob("*.png"))

    # same params, same bytes: back to the baseline, retrain one fold from scratch and re-evaluate
    sh(f"git checkout -q -- . && dvc checkout -q && dvc repro --force --single-item train@{folds[0]}", repo)
    assert "up to date" in sh("dvc status dvc.yaml", repo)  # the retrained fold's outputs hash exactly as before
    sh("dvc repro --force --single-item evaluate", repo)
    assert (repo / "metrics/loso.json").read_bytes() == first

    # a flow parameter reruns flow -> pack -> every fold -> evaluate; alignment and MagNet stay
    sh("git checkout -q -- . && dvc checkout -q", repo)
    exp = sh("dvc exp run -S flow.tau=0.2", repo)
    assert ran(exp) == {"flow", "pack", "evaluate", "gradcam", "train_final"} | {f"train@{f}" for f in folds}, exp

    # a budget rule is a training param like any other: equal steps retrains every fold (and the final model)
    sh("git checkout -q -- . && dvc checkout -q", repo)
    exp = sh("dvc exp run -S train.budget=steps -S train.steps=3", repo)
    assert ran(exp) == {"evaluate", "gradcam", "train_final"} | {f"train@{f}" for f in folds}, exp
    loso = json.loads((repo / "metrics/loso.json").read_text())
    assert all("fixed 3-step schedule" in s for s in loso["epoch_selection"]), loso["epoch_selection"]


def test_composite_all_over_six_layouts_and_an_absent_dataset(tmp_path):
    """`dvc repro` under composite_all over the six generated layouts runs one read@<dataset> stage each and LOSO
    over every subject; dropping a dataset from data.roots drops its stage and its samples, with no missing
    dependency and no error, and leaves nothing stale."""
    from mfdan.data.protocols import DATASETS

    repo = copy_repo(tmp_path)
    p = tiny_params()
    six = list(DATASETS)
    synth = SynthConfig(seed=1, subjects=1, samples_per_subject=3, others_per_subject=0, max_frames=5,
                        geometry="compact", frame_size=160)
    p["synth"] |= {"layouts": six, "subjects": 1}
    p["data"] |= {"protocol": "composite_all", "roots": {d: f"data/raw/{d}" for d in six}}
    p["folds"] = sorted({f"{d}_{c.subject}" for d in six for c in plan_layout(d, synth)})
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    sh("git init -q -b main && git add -A && git commit -qm init", repo)
    out = sh("dvc repro", repo)
    assert ran(out) >= {f"read@{d}" for d in six} | {"index"} | {f"train@{f}" for f in p["folds"]}, out
    loso = json.loads((repo / "metrics/loso.json").read_text())
    assert sorted(loso["per_dataset"]) == sorted(six) and loso["complete"] is True
    assert json.loads((repo / "metrics/dataset.json").read_text())["datasets"] == six
    sh("git add -A && git commit -qm six", repo)

    # a lab without MMEW: remove it from data.roots (and its fold)
    p["data"]["roots"].pop("mmew")
    p["folds"] = [f for f in p["folds"] if not f.startswith("mmew_")]
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    stale = (repo / "data/read/mmew.json").read_text()  # the earlier run's records stay on disk...
    out = sh("dvc repro", repo)
    assert not any(s.startswith("read@") for s in ran(out)) and "index" in ran(out), out
    index = json.loads((repo / "data/index.json").read_text())
    assert {r["dataset"] for r in index["samples"]} == set(six) - {"mmew"}  # ...and are not read
    assert (repo / "data/read/mmew.json").read_text() == stale
    loso = json.loads((repo / "metrics/loso.json").read_text())
    assert "mmew" not in loso["per_dataset"] and loso["complete"] is True
    assert "up to date" in sh("dvc status dvc.yaml", repo)

    # HDE over the same composite: one fold per dataset present, each tested on a whole held-out dataset
    five = [d for d in six if d != "mmew"]
    sh("git add -A && git commit -qm five", repo)
    exp = sh(f"dvc exp run -S data.evaluation=hde -S 'folds=[{','.join(five)}]'", repo)
    assert {f"train@{d}" for d in five} <= ran(exp) and not any(s.startswith("read@") for s in ran(exp)), exp
    hde = json.loads((repo / "metrics/loso.json").read_text())
    assert hde["evaluation"] == "hde" and sorted(hde["per_fold"]) == sorted(five) and hde["complete"] is True
    sh("git checkout -q -- . && dvc checkout -q", repo)

    # a frame changed in place reaches the index (its SHA-256) and everything after it
    frame = Path(index["samples"][0]["frames"][0])
    frame = frame if frame.is_absolute() else repo / frame
    data = bytearray(frame.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one frame
    frame.write_bytes(bytes(data))
    status = sh("dvc status", repo)
    assert "read@" in status and "changed deps" in status


def test_long_recordings_pipeline(tmp_path):
    """`dvc repro long/dvc.yaml` on generated long recordings: it brings models/final up to date, runs every long
    stage, writes MEGC metrics for each spotter that `dvc metrics show` lists; a rerun is a no-op; a spotter
    threshold changed with `dvc exp run` reruns spot → recognise → evaluate, never the face tracking."""
    repo = copy_repo(tmp_path)
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    lp = yaml.safe_load((repo / "long" / "params.yaml").read_text())
    lp["long_synth"] |= {"subjects": 2, "videos_per_subject": 1, "seconds": 6, "micro": 2, "macro": 1, "blinks": 1,
                         "head_turns": 0, "gap": 0.5}
    lp["spot"] |= {"workers": 1}
    lp["softnet"] |= {"epochs": 1, "flow_size": 64}
    (repo / "long" / "params.yaml").write_text(yaml.safe_dump(lp, sort_keys=False))
    sh("git init -q -b main && git add -A && git commit -qm init", repo)
    out = sh("dvc repro long/dvc.yaml", repo)
    long_stages = {f"long/dvc.yaml:{s}" for s in ("synth", "features@casme_sq", "features@samm_lv", "spot",
                                                 "recognise", "evaluate_spotting")}
    assert ran(out) >= long_stages | {"train_final"}, out
    m = json.loads((repo / "long/metrics/spotting.json").read_text())
    assert set(m) == {"casme_sq", "samm_lv", "overall"}
    for spotter in ("feature_difference", "softnet", "whole_video"):
        assert {"f1", "precision", "recall", "strs", "analysis"} <= set(m["overall"][spotter]["micro"])
    assert len(list((repo / "long/plots/timelines").glob("*.png"))) == 4 * 2  # 2 layouts × 2 recordings × 2 spotters
    assert "long/metrics/spotting.json" in sh("dvc metrics show", repo)
    assert not ran(sh("dvc repro long/dvc.yaml", repo))
    sh("git add -A && git commit -qm long", repo)
    exp = sh("dvc exp run long/dvc.yaml -S long/params.yaml:spot.p_micro=0.6", repo)
    assert ran(exp) == {f"long/dvc.yaml:{s}" for s in ("spot", "recognise", "evaluate_spotting")}, exp
    assert "spot.p_micro" in sh("dvc params diff", repo)

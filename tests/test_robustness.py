"""Nothing stale, nothing silently wrong: interrupts, poisoned weights, escaping sheet paths, duplicate rows,
params ranges, damaged caches, temporary names, logs (one test per case)."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

from mfdan.core.errors import DatasetError, NonFiniteError, check_finite
from mfdan.core.params import SECTIONS, Params, check_fields, section_class
from mfdan.core.progress import Progress
from mfdan.core.rows import STR, RowWriter
from mfdan.data.readers import read_dataset
from mfdan.magnify.magnet import MagNet, load_magnet
from tests.conftest import TINY, edit_casme2_sheet

REPO = Path(__file__).resolve().parents[1]


ENV = dict(os.environ, PYTHONPATH=str(REPO))  # stage scripts import this checkout's mfdan


def run_script(args, cwd=REPO, **kw):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=ENV, **kw)


# 1. Ctrl-C is a failure, not a success, and leaves no output --------------------------------------------
def test_interrupted_stage_exits_130_and_leaves_nothing(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"synth": {"subjects": 4, "samples_per_subject": 6, "check_faces": True}}))
    out = tmp_path / "raw"
    # SIGINT at its default in the child: a test run started as a background job inherits it ignored
    proc = subprocess.Popen([sys.executable, "pipeline/synth.py", "--params", str(params), "--out", str(out)],
                            cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".raw.") for p in tmp_path.iterdir()):
        time.sleep(0.2)  # wait until the generator is writing
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["params.yaml"]


# 2. The MagNet checkpoint is tracked by content ------------------------------------------------------------
def test_checkpoint_outside_the_tracked_folder_is_refused(tmp_path):
    from mfdan.magnify import train_magnet_stage

    ckpt = tmp_path / "magnet.pth"
    torch.save(MagNet().state_dict(), ckpt)
    with pytest.raises(ValueError, match="models/checkpoints"):
        train_magnet_stage.run(params=Params({"magnet": {"checkpoint": str(ckpt)}}),
                               checkpoints=REPO / "models/checkpoints", out=tmp_path / "m.pth",
                               metrics=tmp_path / "m.json")
    assert not (tmp_path / "m.pth").exists()


def test_dvc_tracks_the_checkpoint_folder():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["train_magnet"]
    assert "models/checkpoints" in stage["deps"] and "--checkpoints models/checkpoints" in " ".join(stage["cmd"].split())


# 3. Non-finite weights, outputs, losses ------------------------------------------------------------------
def test_nan_weights_are_refused_naming_the_file(tmp_path):
    state = MagNet().state_dict()
    state["decoder.cba_2.conv2d.weight"] = torch.full_like(state["decoder.cba_2.conv2d.weight"], float("nan"))
    path = tmp_path / "poisoned.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="not finite") as err:
        load_magnet(path)
    assert str(path) in str(err.value)


def test_nan_cache_stops_training_naming_the_fold():
    from mfdan.train.loop import TrainConfig, train_fold
    from tests.toys import TINY_MFDAN, toy_fold_data

    n, s = 8, 32
    flow = np.random.default_rng(0).normal(size=(n, 3, s, s)).astype(np.float32)
    flow[3, 0, 0, 0] = np.nan
    data = toy_fold_data([f"s{i % 4}" for i in range(n)], flow=flow, classes=("a", "b", "c"))
    model = TINY_MFDAN
    with pytest.raises(NonFiniteError, match="fold d_s0, epoch 1"):
        train_fold("d_s0", data, model, TrainConfig(epochs=1, batch=8, device="cpu"), progress=False)


def test_check_finite_covers_every_container():
    check_finite({"a": 1.0, "b": np.ones(3), "c": torch.ones(2)}, "x")
    for bad in (float("nan"), np.array([1.0, np.inf]), torch.tensor([float("nan")]), {"k": float("inf")}):
        with pytest.raises(NonFiniteError, match="x"):
            check_finite(bad, "x")


# 4. and 5. Coding sheets: paths that leave the root, duplicate rows, fractional frames -----------------------
@pytest.mark.parametrize("name", ["../../../outside_clip", "/etc", "..", "sub/clip"])
def test_sheet_filename_cannot_leave_the_root(dataset_copy, tmp_path, name):
    root = dataset_copy("casme2")
    shutil.copytree(read_dataset("casme2", root)[0].frames[0].parent, tmp_path / "outside_clip")  # a real target
    sheet = edit_casme2_sheet(root, lambda ws: ws.cell(row=2, column=2, value=name))
    with pytest.raises(DatasetError) as err:
        read_dataset("casme2", root)
    assert err.value.path == sheet and err.value.row == 2 and "leave" in str(err.value)


def test_symlinked_frame_outside_the_root_is_refused(dataset_copy, tmp_path):
    root = dataset_copy("casme2")
    frame = read_dataset("casme2", root)[0].frames[1]
    elsewhere = tmp_path / "elsewhere.jpg"
    shutil.copy(frame, elsewhere)
    frame.unlink()
    frame.symlink_to(elsewhere)
    with pytest.raises(DatasetError, match="outside the dataset folder") as err:
        read_dataset("casme2", root)
    assert err.value.path == frame


def test_duplicate_sheet_rows_name_both_rows(dataset_copy):
    root = dataset_copy("casme2")

    def duplicate(ws):
        ws.append([c.value for c in ws[2]])

    sheet = edit_casme2_sheet(root, duplicate)
    with pytest.raises(DatasetError, match=r"rows 2 and \d+ both describe") as err:
        read_dataset("casme2", root)
    assert err.value.path == sheet


def test_fractional_onset_is_an_error(dataset_copy):
    root = dataset_copy("casme2")
    onset = None

    def fractional(ws):
        nonlocal onset
        onset = ws.cell(row=2, column=4).value
        ws.cell(row=2, column=4, value=onset + 0.7)

    edit_casme2_sheet(root, fractional)
    with pytest.raises(DatasetError, match="not a whole frame number") as err:
        read_dataset("casme2", root)
    assert err.value.row == 2


def test_missing_root_says_folder_not_found(tmp_path):
    with pytest.raises(DatasetError, match="folder not found"):
        read_dataset("samm", tmp_path / "nonexistent")


# 6. Params ranges, at load, one line naming section and key ------------------------------------------------
@pytest.mark.parametrize("values,where", [
    ({"train": {"epochs": 0}}, "train.epochs"),
    ({"magnet": {"iterations": 0}}, "magnet.iterations"),
    ({"train": {"device": "gpu"}}, "train.device"),
    ({"model": {"heads": [2]}}, "model.heads"),
    ({"align": {"output_size": -5}}, "align.output_size"),
    ({"flow": {"output_size": 0}}, "flow.output_size"),
    ({"magnify": {"alpha_range": [4.0, 1.5]}}, "magnify.alpha_range"),
    ({"magnet": {"alpha_range": [2.0, 2.0]}}, "magnet.alpha_range"),
    ({"magnet": {"textures": "faces"}}, "magnet: magnet.textures"),
    ({"magnet": {"motion": "big"}}, "magnet: magnet.motion"),
    ({"magnet": {"lr_schedule": "step"}}, "magnet: magnet.lr_schedule"),
    ({"model": {"flow_feature_norm": "yes"}}, "model.flow_feature_norm"),
    ({"train": {"betas": [0.98, 1.2, 0.99]}}, "train.betas"),
    ({"train": {"lr": "fast"}}, "train.lr"),
    ({"synth": {"noise": -1}}, "synth.noise"),
    ({"model": {"embed_dim": 30, "heads": [4, 4]}}, "model"),
])
def test_out_of_range_params_name_section_and_key(values, where):
    name = next(iter(values))
    with pytest.raises(ValueError) as err:
        Params(values).section(name)
    assert f"params.yaml: {where}" in str(err.value) and "\n" not in str(err.value)


def test_dropkey_is_range_checked():
    with pytest.raises(ValueError, match="dropkey"):
        _ = Params({"dropkey": 1.0}).dropkey


def test_yaml12_floats_are_accepted(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("train:\n  lr: 5e-4\n  weight_decay: 1E-2\ndropkey: 3e-1\n")
    p = Params.load(path)
    assert p.section("train").lr == 5e-4 and p.section("train").weight_decay == 0.01 and p.dropkey == 0.3


def test_every_default_is_within_its_range():
    for name in SECTIONS:
        check_fields(section_class(name)(), name)


# 7. A damaged cache names the file, in the stage run outside DVC -----------------------------------------
def test_truncated_cache_is_named(tmp_path):
    cache = tmp_path / "c.h5"
    with RowWriter(cache, 4, {"flow": ((3, 8, 8), "f4"), "sample_id": ((), STR)}) as w:
        for i in range(4):
            w.write(i, flow=np.ones((3, 8, 8)), sample_id=str(i))
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    res = run_script(["pipeline/train.py", "--params", "params.yaml", "--fold", "casme2_sub02", "--cache", str(cache),
                      "--magnified", str(cache), "--out", str(tmp_path / "fold")])
    assert res.returncode == 2 and str(cache) in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "fold").exists()


# 8. Temporary names are unique per process -----------------------------------------------------------------
WRITER = """
import sys, time
import numpy as np
from mfdan.core.rows import RowWriter
with RowWriter(sys.argv[1], 2, {"x": ((4,), "f4")}) as w:
    w.write(0, x=np.zeros(4))
    print("started", flush=True)
    time.sleep(2)
    w.write(1, x=np.zeros(4))
"""


def test_an_orphaned_writer_does_not_collide_with_a_new_one(tmp_path):
    """An orphaned writer (its `dvc` killed) still writing while a new run writes the same file: both must
    finish, each with its own temporary file."""
    target = tmp_path / "flow.h5"
    orphan = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                              text=True)
    assert orphan.stdout.readline().strip() == "started"
    with RowWriter(target, 2, {"x": ((4,), "f4")}) as w:
        w.write(0, x=np.ones(4))
        w.write(1, x=np.ones(4))
    orphan.wait(timeout=30)
    assert orphan.returncode == 0
    with h5py.File(target) as f:
        assert f["x"].shape == (2, 4)
    assert [p.name for p in tmp_path.iterdir()] == ["flow.h5"]


# 9. Logs: plain progress lines off a terminal, no carriage returns -------------------------------------
def test_progress_prints_plain_lines_when_not_a_terminal(capsys):
    with Progress(20, desc="fold x", unit="epoch", every=1) as bar:
        for i in range(20):
            bar.update(1, loss=1.0 / (i + 1))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 20 and lines[-1].startswith("fold x: 20/20 epochs") and "loss 0.05" in lines[-1]
    assert "\r" not in err


def test_synth_log_has_no_carriage_returns(tmp_path):
    params = tmp_path / "params.yaml"
    cfg = {k: getattr(TINY, k) for k in ("seed", "subjects", "samples_per_subject", "max_frames", "geometry", "frame_size")}
    params.write_text(yaml.safe_dump({"synth": cfg | {"check_faces": False}}))
    res = run_script(["pipeline/synth.py", "--params", str(params), "--out", str(tmp_path / "raw")])
    assert res.returncode == 0, res.stderr
    assert "\r" not in res.stderr and "synth: " in res.stderr


def test_cli_validate_on_a_missing_root(tmp_path):
    from typer.testing import CliRunner

    from mfdan.cli import app

    res = CliRunner().invoke(app, ["validate", "--dataset", "samm", "--root", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "folder not found" in res.output

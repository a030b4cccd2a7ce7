"""A probe of bad input across the commands (issue 49): each case ends in one `error:` line that names the file or
option at fault, a non-zero exit status, and nothing left behind — checked before any work where the option alone
is wrong. The readers' cases are in test_bad_input.py and test_robustness.py."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mfdan.cli import app
from mfdan.core.rows import STR, RowWriter

REPO = Path(__file__).resolve().parents[1]


def one_line(res, *names: str) -> str:
    """The command failed with exit status 2 and one `error:` line on stderr naming each of ``names``."""
    err = res.stderr.strip().splitlines()
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert len(err) == 1 and err[0].startswith("error: "), res.stderr
    for name in names:
        assert name in err[0], (name, err[0])
    return err[0]


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture()
def params_file(tmp_path):
    def write(text: str) -> Path:
        p = tmp_path / "p.yaml"
        p.write_text(text)
        return p
    return write


@pytest.mark.parametrize("text,names", [
    ("train:\n  lr: .nan\n", ["p.yaml", "train.lr", "not a finite number"]),
    ("train:\n  lr: .inf\n", ["p.yaml", "train.lr", "not a finite number"]),
    ("train:\n  lr: 0.1\n  lr: 0.2\n", ["p.yaml", "'lr' is written twice", "lines 2 and 3"]),
    ("train.lr: 1.0e-3\ntrain.lr: 2.0e-3\n", ["p.yaml", "'train.lr' is written twice"]),
    ("data.spotting_flow: tvl1\n", ["data.spotting_flow was renamed apex_flow"]),
])
def test_params_refuses_values_that_used_to_pass(params_file, text, names):
    one_line(CliRunner().invoke(app, ["params", str(params_file(text)), "--base", str(REPO / "params.yaml")]), *names)


def test_params_refuses_folds_that_name_no_subject_of_the_cache(tmp_path, params_file):
    cache = tmp_path / "cache.h5"
    with RowWriter(cache, 2, {"dataset": ((), STR), "subject": ((), STR)}) as w:
        w.write(0, dataset="casme2", subject="sub02")
        w.write(1, dataset="samm", subject="006")
    p = params_file("folds: [casme2_sub02, casme2_sub99]\n")
    args = ["params", str(p), "--base", str(REPO / "params.yaml"), "--cache", str(cache)]
    one_line(CliRunner().invoke(app, args), "p.yaml", "casme2_sub99", "cache.h5")
    p.write_text("folds: [casme2_sub02, samm_006]\n")
    assert CliRunner().invoke(app, args).exit_code == 0


@pytest.mark.parametrize("args,names", [
    (["--fps", "0"], ["--fps"]), (["--fps", "-5"], ["--fps"]), (["--fps", "nan"], ["--fps"]),
    (["--onset", "10", "--apex", "5"], ["--apex 5", "--onset 10"]),
    (["--cam", "{file}"], ["--cam", "not a folder"]),
    (["--cam", "{file}/cams"], ["--cam", "is a file"]),
    (["--timeline", "{file}"], ["--timeline", "not a folder"]),
])
def test_predict_checks_its_options_before_any_work(tmp_path, args, names):
    """The model folder does not even exist: the option is refused first, and nothing is written."""
    file = tmp_path / "exists.txt"
    file.write_text("x")
    args = [a.format(file=file) for a in args]
    before = files_in(tmp_path)
    res = CliRunner().invoke(app, ["predict", "--model", str(tmp_path / "no_model"), str(tmp_path), *args])
    one_line(res, *names)
    assert files_in(tmp_path) == before


@pytest.mark.parametrize("args,names", [
    (["--scheduler", "notaurl"], ["--scheduler notaurl", "tcp://HOST:PORT"]),
    (["--scheduler", "tcp://127.0.0.1:1"], ["--scheduler tcp://127.0.0.1:1", "nothing answers"]),
    (["--cluster", "slurm", "--cluster-config", "{tmp}/none.yaml"], ["none.yaml", "--cluster-config file not found"]),
    (["--cluster", "slurm", "--cluster-config", "{tmp}/lots.yaml"], ["lots.yaml", "memory", "'lots'"]),
    ([], ["give --arm"]),
])
def test_sweep_checks_its_options_before_building_a_set(tmp_path, args, names):
    (tmp_path / "lots.yaml").write_text("cores: 2\nmemory: lots\n")
    arms = ["--arm", "a:"] if args else []
    store = tmp_path / "store"
    t = time.perf_counter()
    res = CliRunner().invoke(app, ["sweep", *arms, "--store", str(store), *[a.format(tmp=tmp_path) for a in args]])
    one_line(res, *names)
    assert not store.exists() and time.perf_counter() - t < 30  # no set built, no 30-s connect timeout


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tests.test_predict import make_model_dir

    return make_model_dir(tmp_path_factory.mktemp("final") / "final")


def _damaged(model_dir: Path, tmp_path: Path, change) -> Path:
    bad = tmp_path / "model"
    shutil.copytree(model_dir, bad)
    card = json.loads((bad / "card.json").read_text())
    change(card, bad)
    (bad / "card.json").write_text(json.dumps(card))
    return bad


@pytest.mark.parametrize("case,names", [
    ("weights_outside", ["card.json", "files.weights", "only inside its folder"]),
    ("weights_absolute", ["card.json", "files.weights", "only inside its folder"]),
    ("weights_symlink_out", ["model.pt", "outside the model folder"]),
    ("files_null", ["card.json", "'files'", "expected dict"]),
    ("classes_text", ["card.json", "'classes'"]),
    ("params_align_missing", ["card.json", "params.align"]),
    ("pickle", ["model.pt", "not a weights-only PyTorch checkpoint"]),
])
def test_a_model_folder_is_closed(model_dir, tmp_path, case, names):
    """A card names files only inside its folder, every field has its type, and a checkpoint that would need
    unpickling is refused in one line that does not suggest unpickling it."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(model_dir / "model.pt", outside / "model.pt")

    def change(card, folder):
        if case == "weights_outside":
            card["files"]["weights"] = "../elsewhere/model.pt"
        elif case == "weights_absolute":
            card["files"]["weights"] = str(outside / "model.pt")
        elif case == "weights_symlink_out":
            (folder / "model.pt").unlink()
            (folder / "model.pt").symlink_to(outside / "model.pt")
        elif case == "files_null":
            card["files"] = None
        elif case == "classes_text":
            card["classes"] = "negative,positive,surprise"
        elif case == "params_align_missing":
            del card["params"]["align"]
        elif case == "pickle":
            torch.save({"state": torch.zeros(1), "extra": np.dtype("float32")}, folder / "model.pt")

    bad = _damaged(model_dir, tmp_path, change)
    frames = tmp_path / "frames"
    frames.mkdir()
    res = CliRunner().invoke(app, ["predict", "--model", str(bad), "--onset", str(frames / "a.png"), "--apex",
                                   str(frames / "b.png")])
    line = one_line(res, *names)
    assert "weights_only=False" not in line
    assert files_in(frames) == []


def test_a_killed_run_leaves_no_temporary_folder_and_the_next_run_cleans_a_stale_one(tmp_path):
    """SIGTERM ends `mfdan synth` as Ctrl-C does (its temporary folder removed); a temp left by a process that
    is gone (a SIGKILL) is removed by the next run, which says so."""
    out = tmp_path / "lv"
    mfdan = shutil.which("mfdan") or str(Path(sys.executable).parent / "mfdan")
    proc = subprocess.Popen([mfdan, "synth", "--layout", "samm_lv", "--out", str(out)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".lv.*.tmp")):
        time.sleep(0.2)
    assert list(tmp_path.glob(".lv.*.tmp")), "the run never started writing"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode != 0 and files_in(tmp_path) == []
    stale = tmp_path / f".lv.{2 ** 22 + 12345}.tmp"  # above Linux's default pid_max: no such process
    stale.mkdir()
    (stale / "half.png").write_bytes(b"x")
    res = subprocess.run([mfdan, "synth", "--layout", "casme2", "--out", str(out), "--subjects", "1",
                          "--samples-per-subject", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert not stale.exists() and f"removed {stale}" in res.stderr
    assert files_in(tmp_path) == sorted(files_in(tmp_path)) and not list(tmp_path.glob(".*.tmp"))

"""The `mfdan` CLI: --help reads well, and synth -> validate --json round-trips for every layout."""
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from mfdan.cli import app


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "mfdan", "--help"], capture_output=True, text=True, check=True).stdout
    assert "synth" in out and "validate" in out and "Usage" in out


@pytest.mark.parametrize("layout", ["casme2", "samm", "smic", "casme3", "mmew", "casme"])
def test_synth_then_validate_round_trips(tmp_path, layout):
    runner = CliRunner()
    out = tmp_path / layout
    res = runner.invoke(app, ["synth", "--layout", layout, "--out", str(out), "--seed", "5", "--subjects", "2",
                              "--samples-per-subject", "3"])
    assert res.exit_code == 0, res.output
    written = json.loads((out / "synth_manifest.json").read_text())["samples"]
    res = runner.invoke(app, ["validate", "--dataset", layout, "--root", str(out), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    got = {(s["subject"], s["sample_id"], s["label"]) for s in rep["samples"]}
    want = {(w["subject"], w["sample"], w["label3"]) for w in written if w["label3"]}
    assert got == want
    assert rep["reference"]["not_in_reference"] == [] and rep["reference"]["label_mismatches"] == []
    assert sum(rep["counts"]["total"].values()) == len(want)


def test_composite_validate_over_three_layouts(synth_root):
    res = CliRunner().invoke(app, ["validate", "--dataset", "composite", "--root", str(synth_root)])
    assert res.exit_code == 0, res.output
    assert "protocol composite" in res.output and "reference" in res.output and "442" in res.output


def _loso(tmp_path, **extra):
    m = {"uf1": 0.8123, "uar": 0.7988, "samples": 69, "folds": 12, "complete": True,
         "epoch_selection": ["last epoch of a fixed 10-epoch schedule; the test subject is never seen"],
         "class_counts": {"negative": 24, "positive": 24, "surprise": 21},
         "per_dataset": {"casme2": {"uf1": 0.9, "uar": 0.91, "samples": 22},
                         "samm": {"uf1": 0.7, "uar": 0.69, "samples": 23},
                         "smic": {"uf1": 0.8, "uar": 0.79, "samples": 24}}, **extra}
    (tmp_path / "loso.json").write_text(json.dumps(m))
    (tmp_path / "dataset.json").write_text(json.dumps({"protocol": "composite"}))
    return ["summary", "--loso", str(tmp_path / "loso.json"), "--dataset", str(tmp_path / "dataset.json")]


def test_summary_is_short_and_names_the_results(tmp_path):
    out = CliRunner().invoke(app, _loso(tmp_path))
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert len(lines) <= 16 and max(map(len, lines)) <= 100
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("  ") and len(line.split()) == 4}
    assert rows["composite"] == ["0.812", "0.799", "69"]
    assert rows["SAMM"] == ["0.700", "0.690", "23"] and rows["SMIC-HS"][0] == "0.800"
    assert "12 folds" in lines[0] and "composite" in lines[0] and "10-epoch" in out.output
    assert "INCOMPLETE" not in out.output and "dvc metrics show" in out.output


def test_summary_flags_missing_folds_and_names_a_bad_file(tmp_path):
    out = CliRunner().invoke(app, _loso(tmp_path, complete=False, folds_missing=["samm_007"]))
    assert out.exit_code == 0 and "INCOMPLETE" in out.output and "samm_007" in out.output
    (tmp_path / "loso.json").write_text("{not json")
    out = CliRunner().invoke(app, ["summary", "--loso", str(tmp_path / "loso.json")])
    assert out.exit_code == 2 and "loso.json" in out.output and "not valid JSON" in out.output
    out = CliRunner().invoke(app, ["summary", "--loso", str(tmp_path / "nothing.json")])
    assert out.exit_code == 2 and "nothing.json" in out.output and "dvc repro" in out.output


def test_summary_says_whether_the_magnified_frames_passed_their_bar(tmp_path, monkeypatch):
    _loso(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["summary", "--loso", "loso.json", "--dataset", "dataset.json"]
    magnet = {"source": "checkpoint", "passes": True, "failures": [],
              "held_out_psnr_db": {"reconstruction": {"magnet": 31.5}, "magnification": {"gain_db": 2.4}}}
    clips = {"motion_r": {"median": 0.81}, "flow_cosine": {"median": 0.9}, "passes": True, "failures": []}
    (tmp_path / "magnet.json").write_text(json.dumps(magnet))
    (tmp_path / "magnify.json").write_text(json.dumps(clips))
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    line = next(x for x in out.output.splitlines() if x.startswith("Magnification"))
    assert line.startswith("Magnification (magnify/): bar passed")
    assert "31.5 dB" in line and "+2.4 dB" in line and "r +0.81" in line
    assert len(out.output.splitlines()) <= 17 and len(line.replace("(magnify/)", "(metrics/magnify/)")) <= 100
    # the blur this bar was written against: both parts missed, each named
    magnet |= {"passes": False, "failures": ["reconstruction at alpha 1: 21.00 dB < 30.0 dB"]}
    clips |= {"passes": False, "failures": ["motion_r median 0.087 < 0.5"]}
    (tmp_path / "magnet.json").write_text(json.dumps(magnet))
    (tmp_path / "magnify.json").write_text(json.dumps(clips))
    out = CliRunner().invoke(app, args).output
    assert "BAR MISSED" in out and "21.00 dB < 30.0 dB" in out and "motion_r median 0.087" in out

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


@pytest.mark.parametrize("layout", ["casme2", "samm", "smic"])
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

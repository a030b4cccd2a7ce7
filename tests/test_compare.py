"""bench/compare.py's presentation, on results whose numbers are known: the paired difference against MFDAN,
the --extra arms (their HDE arm, their own row in every table, CSV and figure) and the checks of its arguments.
The training behind it is `mfdan sweep` (tests/test_sweep.py)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from mfdan.sweep.arms import parse_arm

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def compare():
    spec = importlib.util.spec_from_file_location("bench_compare", REPO / "bench" / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def result(uf1: float, uar: float) -> dict:
    return {"uf1": uf1, "uar": uar, "samples": 6,
            "per_dataset": {d: {"uf1": uf1, "uar": uar} for d in ("casme2", "samm", "smic")}}


def protocol_results(compare, protocol: str, uf1: dict[str, list[float]]) -> dict:
    res: dict = {"results": {}, "cost": {}, "seeds": {}, "folds": {}}
    for row, values in uf1.items():
        arm = compare.arm_name(row, protocol)
        res["results"][arm] = {str(s): result(v, v) for s, v in enumerate(values)}
        res["seeds"][arm] = [str(s) for s in range(len(values))]
        res["cost"][arm] = {"parameters": [10], "seconds_per_fold_median": 1.0}
        res["folds"][arm] = ["casme2_s1", "samm_s2", "smic_s3"] if protocol == "loso" else ["casme2", "samm", "smic"]
    return res


def test_paired_difference_in_its_own_sd(compare):
    # differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, 2.0 sd, three seeds above
    assert compare.paired({"0": 0.6, "1": 0.7, "2": 0.8}, {"0": 0.5, "1": 0.5, "2": 0.5}) == \
        "+0.200 ± 0.100, +2.0 sd (3/3 seeds above)"
    # only the seeds both ran count
    assert compare.paired({"0": 0.6, "7": 0.9}, {"0": 0.5, "1": 0.1}) == "+0.100 (seed 0 only)"


def test_an_extra_arm_gets_its_hde_arm_and_a_row_everywhere(compare, tmp_path):
    spec = "MFDAN-800-steps:train.epochs=50"
    assert compare.extra_spec(spec, "loso") == spec
    hde = parse_arm(compare.extra_spec(spec, "hde"))
    assert hde.name == "MFDAN-800-steps_hde"
    assert hde.overrides == {"train.epochs": 50, "data.evaluation": "hde"}
    assert parse_arm(compare.extra_spec("plain:", "hde")).overrides == {"data.evaluation": "hde"}

    compare.ARCHS[:] = ["mfdan", "ststnet"]
    compare.ROWS[:] = ["mfdan", "ststnet", "MFDAN-800-steps"]
    values = {"mfdan": [0.5, 0.5, 0.5], "ststnet": [0.4, 0.4, 0.4], "MFDAN-800-steps": [0.6, 0.7, 0.8]}
    results = {p: protocol_results(compare, p, values) for p in ("loso", "hde")}
    table = "\n".join(compare.compact("toy", results))
    row = next(line for line in table.splitlines() if line.startswith("| MFDAN-800-steps |"))
    assert row.count("+0.200 ± 0.100, +2.0 sd (3/3 seeds above)") == 2   # LOSO and HDE, paired against MFDAN
    against = compare.paired_against("MFDAN-800-steps", results)
    assert "| MFDAN | -0.200 ± 0.100, -2.0 sd (0/3 seeds above) | -0.200 ± 0.100, -2.0 sd (0/3 seeds above) |" in against
    assert not any(line.startswith("| MFDAN-800-steps |") for line in against)
    for protocol in ("loso", "hde"):
        lines = compare.tables("toy", protocol, results[protocol])
        assert sum(line.startswith("| MFDAN-800-steps |") for line in lines) == 2   # main and per-dataset table
        csv = compare.points(protocol, results[protocol]).splitlines()
        assert csv[0] == "method,seed,uf1,uar"
        assert [r for r in csv if r.startswith("MFDAN-800-steps,")] == \
            ["MFDAN-800-steps,0,0.6000,0.6000", "MFDAN-800-steps,1,0.7000,0.7000", "MFDAN-800-steps,2,0.8000,0.8000"]
    compare.picture(tmp_path / "c.png", "toy", results)
    assert (tmp_path / "c.png").stat().st_size > 0


@pytest.mark.parametrize("extras", [["ststnet:train.epochs=5"], ["htnet_hde:"], ["mine_hde:"], ["noseparator"],
                                    ["1 bad:"], ["a:", "a:train.epochs=2"]])
def test_bad_extra_arms_are_refused_before_any_training(extras, tmp_path):
    args = ["--set", "demo", "--store", str(tmp_path / "store")]
    for e in extras:
        args += ["--extra", e]
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "compare.py"), *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "--extra" in proc.stderr
    assert not (tmp_path / "store").exists()


def test_export_and_env_exclude_each_other(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "compare.py"), "--set", "demo", "--store",
                           str(tmp_path / "store"), "--export", str(tmp_path / "b"), "--env", str(tmp_path / "e.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "exclude each other" in proc.stderr
    assert not (tmp_path / "store").exists() and not (tmp_path / "b").exists()


def test_files_are_named_for_the_set_and_the_ladder_follows_the_budget(compare):
    """hard@0.5 names its files hard-d0.5 (Path.stem would read '.5' as a suffix); one ladder row per fix under
    the recipe budget, the recipe's own rung left out where the budget rule sets the epochs."""
    assert [compare.set_label(s) for s in ("hard@0.5", "hard@0.25", "demo")] == ["hard-d0.5", "hard-d0.25", "demo"]
    with pytest.raises(ValueError, match="difficulty"):
        compare.set_label("hard@2")
    names = lambda budget: [r.partition(":")[0] for r in compare.ladder_rows(budget)]  # noqa: E731
    assert names("recipe") == ["mfdan_old", "mfdan_magnet", "mfdan_fusion", "mfdan_64"]
    assert names("inner") == names("steps") == ["mfdan_old", "mfdan_magnet", "mfdan_64"]

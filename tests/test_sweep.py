"""`mfdan sweep` on a real Dask engine: an embedded LocalCluster with two worker processes equals the
single-process run byte for byte; `dask scheduler` and `dask worker` processes on loopback, used through
--scheduler, give the same results; a worker killed mid-task loses nothing; Ctrl-C keeps every finished fold;
a task that raises is retried once and named, by the one driver under Dask and under a bundle's process pool. Plus the parts that need no engine: arms, seeds, keys, the
store, the cluster file and the batch script dask-jobqueue would submit."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mfdan.sweep import arms as arms_mod
from mfdan.sweep import clusters
from mfdan.sweep.sets import preprocessing, workspace_params
from mfdan.sweep.store import Store
from mfdan.sweep.table import score
from mfdan.sweep.tasks import environment

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# --- no engine ----------------------------------------------------------------------------------------------
def test_arms_and_seeds(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model.arch: ststnet\ntrain.lr: 5.0e-5\n")
    a = arms_mod.parse_arm(f"st:@{recipe},data.evaluation=hde,train.epochs=3")
    assert a.overrides == {"model.arch": "ststnet", "train.lr": 5e-5, "data.evaluation": "hde", "train.epochs": 3}
    assert arms_mod.parse_arm("self_only").overrides == {"model.flow_driven": False}
    assert arms_mod.parse_arm("base:").overrides == {}
    assert arms_mod.parse_arm("x:model.flow_driven=false").overrides == {"model.flow_driven": False}
    for bad, msg in (("nope", "not a named arm"), ("x:train.lr", "not key=value"), ("x:@missing.yaml", "not found"),
                     ("a b:", "the name")):
        with pytest.raises(ValueError, match=msg):
            arms_mod.parse_arm(bad, base_dir=tmp_path)
    with pytest.raises(ValueError, match="repeated"):
        arms_mod.parse_arms(["a:", "a:train.lr=1"])
    assert arms_mod.parse_seeds("0-2,7,1") == [0, 1, 2, 7]
    for bad in ("3-1", "a", "1-"):
        with pytest.raises(ValueError):
            arms_mod.parse_seeds(bad)
    names = [s.split(":")[0] for s in arms_mod.comparison_arms(["loso", "hde"], ["ststnet"])]
    assert names == ["mfdan", "ststnet", "mfdan_hde", "ststnet_hde"]
    assert all(Path(REPO / s.split("@")[1].split(",")[0]).is_file()
               for s in arms_mod.comparison_arms(["loso"]) if "@" in s)
    # the budget rules: every arm gets its budget's profile (MFDAN its own inner ceiling), read as overrides
    for budget in arms_mod.COMPARE_BUDGETS:
        specs = arms_mod.comparison_arms(["loso", "hde"], ["ststnet", "bi_woof"], budget, profiles=REPO / "profiles")
        arms = {a.name: a.overrides for a in arms_mod.parse_arms(specs, base_dir=REPO)}
        assert {a.get("train.budget", "recipe") for a in arms.values()} == {budget}
        assert arms["mfdan"]["model.img_size"] == 112 and arms["mfdan"]["model.window"] == 7
        assert arms["ststnet_hde"]["data.evaluation"] == "hde" and arms["ststnet"]["train.batch"] == 256
        assert arms["mfdan"].get("train.epochs") == (50 if budget == "inner" else None)
    with pytest.raises(ValueError, match="--budget"):
        arms_mod.comparison_arms(["loso"], budget="longest")


def test_task_keys_cover_what_bytes_depend_on(tmp_path):
    """make_tasks's keys change with the seed, train.threads, a cache's hash, a library version, the CPU
    capability and any file of the train stage's code; not with code the task does not run, nor --weights."""
    from tests.test_pipeline_e2e import copy_repo

    from mfdan.sweep.engine import Plan, SweepConfig, make_tasks
    from mfdan.sweep.sets import Caches, SetSource
    from mfdan.sweep.tasks import code_digest, code_files

    repo = copy_repo(tmp_path)
    values = yaml.safe_load((repo / "params.yaml").read_text())
    hashes = {"data/cache.h5": "c1", "data/magnified.h5": "m1", "models/magnet/magnet.pth": "w1"}
    files = tuple(code_files(repo))

    def keys(threads=1, seeds=(0,), cache="c1", env_extra=None, weights=False) -> list[str]:
        env = {**environment("cpu"), "code": code_digest(repo, list(files)), **(env_extra or {})}
        caches = Caches(repo, repo / "c.h5", repo / "m.h5", hashes | {"data/cache.h5": cache})
        plan = Plan(SetSource("demo", values), [arms_mod.Arm("a", {})], list(seeds), {"a": ["casme2_sub02"]},
                    {"a": "loso"}, {"a": caches}, {"a": values})
        cfg = SweepConfig(repo=repo, threads=threads, weights=weights)
        return [t.key for t in make_tasks(cfg, plan, {"auto": env}, files)]

    base = keys()
    changed = [keys(threads=2), keys(seeds=(1,)), keys(cache="c2"), keys(env_extra={"adan-pytorch": "9"}),
               keys(env_extra={"cpu_capability": "DEFAULT"}),
               keys(env_extra={"cpu": "GenuineIntel family 6 model 143 (Intel(R) Xeon(R))"})]
    assert len({k[0] for k in [base, *changed]}) == len(changed) + 1
    assert keys(weights=True) == base  # keeping the weights does not change the bytes trained
    (repo / "mfdan/predict/predictor.py").write_text("# not code a fold runs\n")
    assert keys() == base
    loop = repo / "mfdan/train/loop.py"
    loop.write_text(loop.read_text() + "\n# one more line\n")
    assert keys() != base
    assert "mfdan/train/loop.py" in files and "pipeline/train.py" in files and "mfdan/sweep/tasks.py" in files


def test_preprocessing_and_workspace_params(tmp_path):
    values = yaml.safe_load((REPO / "params.yaml").read_text())
    values["data"]["roots"]["samm"] = "../elsewhere/SAMM"
    values["data"]["evaluation"] = "hde"
    pre = preprocessing(values)
    assert "train" not in pre and "model" not in pre and "evaluation" not in pre["data"] and "flow" in pre
    ws = workspace_params(values | {"train": {"lr": 1.0}}, values, repo=REPO)
    assert ws["train"] == values["train"]  # the set's training sections, not the arm's
    assert ws["data"]["roots"]["casme2"] == "data/raw/casme2"  # inside the synth stage's output: kept
    assert ws["data"]["roots"]["samm"] == str((REPO / "../elsewhere/SAMM").resolve())


def test_store_is_complete_or_absent(tmp_path):
    store = Store(tmp_path)
    assert store.get("ab" * 32) is None
    store.put({"key": "ab" * 32, "arm": "a"}, {"predictions.csv": b"x"})
    assert store.get("ab" * 32)["arm"] == "a" and (store.folder("ab" * 32) / "predictions.csv").read_bytes() == b"x"

    class Boom(dict):
        def items(self):
            yield "predictions.csv", b"partial"
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.put({"key": "cd" * 32}, Boom())
    assert store.get("cd" * 32) is None and not list((tmp_path / "tasks").rglob("*.tmp"))


def test_a_ledger_that_disagrees_or_is_malformed_is_refused_whole(tmp_path):
    import gzip

    from mfdan.sweep.ledger import LedgerError, export, load

    def info(key: str) -> dict:
        return {"key": key, "arm": "a", "seed": 0, "fold": "casme2_sub02", "env": {"cpu": "x"}, "seconds": 1.0}

    source = Store(tmp_path / "source")
    for k in ("a" * 64, "b" * 64):
        source.put(info(k), {"predictions.csv": f"p {k[0]}\n".encode(), "meta.json": b"{}", "curve.csv": b"c",
                             "model.pt": b"weights"})
    ledger = tmp_path / "l.jsonl.gz"
    assert export(source, ledger) == 2
    lines = gzip.decompress(ledger.read_bytes()).decode().splitlines()
    assert all(set(json.loads(x)["files"]) == {"predictions.csv", "meta.json"} for x in lines)  # no weights
    export(source, tmp_path / "curves.jsonl.gz", curves=True)
    assert "curve.csv" in json.loads(gzip.decompress((tmp_path / "curves.jsonl.gz").read_bytes()).splitlines()[0])["files"]
    # a store holding one of the keys with other predictions: refused, nothing added
    other = Store(tmp_path / "other")
    other.put(info("b" * 64), {"predictions.csv": b"different\n"})
    with pytest.raises(LedgerError, match="line 2: task bbbbbbbbbbbb.*other predictions"):
        load(ledger, other)
    assert other.get("a" * 64) is None
    # malformed lines, each named
    for bad, why in [("not json", "line 2 is not JSON"), (json.dumps({"task": info("short"), "files": {}}), "64-hex key"),
                     (json.dumps({"task": info("c" * 64), "files": {"meta.json": "{}"}}), "no predictions.csv"),
                     (json.dumps({"task": info("c" * 64), "files": {"predictions.csv": "", "../x": ""}}), "other than")]:
        broken = tmp_path / "broken.jsonl.gz"
        broken.write_bytes(gzip.compress((lines[0] + "\n" + bad + "\n").encode()))
        with pytest.raises(LedgerError, match=why):
            load(broken, Store(tmp_path / "empty"))
        assert not (tmp_path / "empty").exists()


# --- verified results: each stored task's files carry their SHA-256; damage is named, set aside, retrained ------
PREDICTIONS = ("sample_id,dataset,subject,fold,label,pred,prob_negative,prob_positive,prob_surprise\r\n"
               "s1,casme2,sub02,casme2_sub02,negative,negative,0.800000,0.100000,0.100000\r\n"
               "s2,casme2,sub02,casme2_sub02,positive,positive,0.100000,0.800000,0.100000\r\n").encode()


def stored_task(root: Path, key: str = "e" * 64, *, hashes: bool = True) -> Store:
    """A task as the client writes it (``hashes=False``: as a store written before hashes were recorded)."""
    store = Store(root, report=lambda line: None)
    store.put({"key": key, "arm": "base", "seed": 0, "fold": "casme2_sub02", "env": {"cpu": "x"}, "seconds": 1.0,
               "parameters": 10}, {"predictions.csv": PREDICTIONS, "meta.json": b'{"fold": "casme2_sub02"}\n',
                                   "curve.csv": b"epoch,train_loss\n1,0.5\n", "model.pt": b"weights"})
    if not hashes:
        info = store.folder(key) / "task.json"
        info.write_text(json.dumps({k: v for k, v in json.loads(info.read_text()).items() if k != "sha256"}))
    return store


DAMAGE = {  # what is done to the stored task -> (the file named, what the line says)
    "label edited": (lambda f: (f / "predictions.csv").write_bytes(PREDICTIONS.replace(b"positive,positive",
                                                                                         b"negative,positive")),
                     "predictions.csv", "changed since it was stored"),
    "predictions not CSV": (lambda f: (f / "predictions.csv").write_bytes(b"\x89PNG\x00\xff garbage"),
                            "predictions.csv", "changed since it was stored"),
    "garbage meta.json": (lambda f: (f / "meta.json").write_text("{not json"), "meta.json", "changed since"),
    "garbage task.json": (lambda f: (f / "task.json").write_text("garbage"), "task.json", "is not JSON"),
    "task.json of another key": (lambda f: (f / "task.json").write_text(json.dumps({"key": "f" * 64})),
                                 "task.json", "names key"),
    "missing predictions.csv": (lambda f: (f / "predictions.csv").unlink(), "predictions.csv", "is missing"),
    "missing curve.csv": (lambda f: (f / "curve.csv").unlink(), "curve.csv", "is missing"),
    "missing task.json": (lambda f: (f / "task.json").unlink(), "task.json", "is missing"),
    "stray file": (lambda f: (f / "predictions.csv.orig").write_bytes(b"x"), "predictions.csv.orig", "not in"),
    "hashes not a map": (lambda f: (f / "task.json").write_text(json.dumps(
        json.loads((f / "task.json").read_text()) | {"sha256": "none"})), "task.json", "no valid 'sha256'"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_stored_task_is_named_moved_aside_and_retrained(tmp_path, kind):
    from mfdan.cli import app
    from typer.testing import CliRunner

    damage, file, what = DAMAGE[kind]
    key = "e" * 64
    folder = stored_task(tmp_path).folder(key)
    damage(folder)
    # --verify: one line naming the folder, the file and what is wrong; exit 1; nothing moved
    res = CliRunner().invoke(app, ["sweep", "--verify", "--store", str(tmp_path)])
    assert res.exit_code == 1, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("damaged task"))
    assert str(folder) in line and f": {file} " in line and what in line and "retrains" in line
    assert "0 intact, 1 damaged" in res.output and folder.is_dir()
    # a sweep's look-up: reported in one line, moved aside, absent (so trained again), no traceback
    lines: list[str] = []
    store = Store(tmp_path, report=lines.append)
    assert not store.has(key) and store.get(key) is None
    assert len(lines) == 1 and str(folder) in lines[0] and f": {file} " in lines[0] and what in lines[0]
    assert "to be retrained" in lines[0] and len(store.damaged) == 1
    aside = list((tmp_path / "damaged").glob(f"{key}-*"))
    assert len(aside) == 1 and not folder.exists() and str(aside[0]) in lines[0]
    assert what in (aside[0] / "DAMAGED.txt").read_text()
    # retrained: stored again, intact, reused; --verify is clean again
    stored_task(tmp_path)
    assert store.get(key)["arm"] == "base" and len(lines) == 1
    assert CliRunner().invoke(app, ["sweep", "--verify", "--store", str(tmp_path)]).exit_code == 0


def test_an_intact_task_is_reused_and_an_older_one_after_a_format_check(tmp_path):
    from mfdan.cli import app
    from typer.testing import CliRunner

    lines: list[str] = []
    stored_task(tmp_path / "s")
    store = Store(tmp_path / "s", report=lines.append)
    info = store.get("e" * 64)
    assert info["arm"] == "base" and set(info["sha256"]) == {"predictions.csv", "meta.json", "curve.csv", "model.pt"}
    assert store.has("e" * 64, weights=True) and lines == [] and not (tmp_path / "s" / "damaged").exists()
    res = CliRunner().invoke(app, ["sweep", "--verify", "--store", str(tmp_path / "s")])
    assert res.exit_code == 0 and "1 task(s): 1 intact, 0 damaged" in res.output, res.output
    # written before hashes were recorded: reused after a format check, with one warning
    stored_task(tmp_path / "old", "a" * 64, hashes=False)
    stored_task(tmp_path / "old", "b" * 64, hashes=False)
    old = Store(tmp_path / "old", report=lines.append)
    assert old.get("a" * 64) and old.get("b" * 64) and len(lines) == 1 and "before hashes" in lines[0]
    assert old.unverified == {"a" * 64, "b" * 64}
    res = CliRunner().invoke(app, ["sweep", "--verify", "--store", str(tmp_path / "old")])
    assert res.exit_code == 0 and "2 stored before hashes were recorded" in res.output
    # ... but what the format check sees is damage there too
    for name, data, what in [("predictions.csv", b"\x89PNG\x00\xff", "is not a CSV"), ("predictions.csv", b"a,b\n1,2\n",
                             "has no predictions header"), ("meta.json", b"{not json", "is not JSON")]:
        stored_task(tmp_path / "old", "c" * 64, hashes=False)
        (Store(tmp_path / "old").folder("c" * 64) / name).write_bytes(data)
        lines.clear()
        assert Store(tmp_path / "old", report=lines.append).get("c" * 64) is None
        assert len(lines) == 1 and f": {name} {what}" in lines[0], lines
    # a missing store: one line, exit 2
    res = CliRunner().invoke(app, ["sweep", "--verify", "--store", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "no sweep store" in res.output


def test_the_ledger_and_a_merge_verify_what_they_read(tmp_path):
    import gzip

    from mfdan.sweep.bundle import merge
    from mfdan.sweep.ledger import LedgerError, export, load

    key = "e" * 64
    store = stored_task(tmp_path / "s")
    ledger = tmp_path / "l.jsonl.gz"
    assert export(store, ledger) == 1
    line = json.loads(gzip.decompress(ledger.read_bytes()))
    assert set(line["task"]["sha256"]) == {"predictions.csv", "meta.json"}  # the files the line carries
    # a damaged task in the store: moved aside on load and replaced by the ledger's
    (store.folder(key) / "meta.json").write_text("garbage")
    lines: list[str] = []
    loaded = load(ledger, Store(tmp_path / "s", report=lines.append))
    assert loaded.added == 1 and "meta.json changed since" in lines[0] and Store(tmp_path / "s").get(key)
    # ... and left out of an export
    (store.folder(key) / "predictions.csv").write_bytes(b"x")
    assert export(Store(tmp_path / "s", report=lines.append), tmp_path / "e.jsonl.gz") == 0
    # a ledger line whose predictions were edited: refused, nothing loaded
    line["files"]["predictions.csv"] = line["files"]["predictions.csv"].replace("positive,positive", "negative,positive")
    edited = tmp_path / "edited.jsonl.gz"
    edited.write_bytes(gzip.compress((json.dumps(line) + "\n").encode()))
    with pytest.raises(LedgerError, match="line 1 carries predictions.csv changed"):
        load(edited, Store(tmp_path / "empty"))
    assert not (tmp_path / "empty").exists()
    # merge: a damaged destination task is replaced, a damaged source task is not copied
    src = stored_task(tmp_path / "src")
    dst = stored_task(tmp_path / "dst")
    (dst.folder(key) / "curve.csv").unlink()
    assert merge(tmp_path / "src", tmp_path / "dst") == (1, 0) and Store(tmp_path / "dst").get(key)
    (src.folder(key) / "model.pt").write_bytes(b"other")
    assert merge(tmp_path / "src", tmp_path / "new") == (0, 0) and not (tmp_path / "new" / "tasks" / "ee").exists()
    assert list((tmp_path / "src" / "damaged").iterdir())


def test_score_is_evaluate_s():
    rows = [{"sample_id": str(i), "dataset": d, "label": y, "pred": p, "prob_negative": "0", "prob_positive": "0",
             "prob_surprise": "0"} for i, (d, y, p) in enumerate(
        [("casme2", "negative", "negative"), ("casme2", "positive", "negative"), ("samm", "surprise", "surprise"),
         ("samm", "positive", "positive")])]
    s = score(rows)
    # negative: F1 2/3, positive: 2/3, surprise: 1 -> UF1 7/9; recalls 1, 1/2, 1 -> UAR 5/6
    assert s["uf1"] == pytest.approx(7 / 9) and s["uar"] == pytest.approx(5 / 6) and s["samples"] == 4
    # per dataset, a class neither labelled nor predicted there is left out (as evaluate does)
    assert s["per_dataset"]["samm"] == {"uf1": 1.0, "uar": 1.0}
    assert s["per_dataset"]["casme2"]["uf1"] == pytest.approx(1 / 3) and s["per_dataset"]["casme2"]["uar"] == 0.5


def test_cluster_file_and_job_script(tmp_path):
    cfg = tmp_path / "slurm.yaml"
    cfg.write_text(yaml.safe_dump({"cores": 4, "processes": 2, "memory": "16GB", "walltime": "02:00:00",
                                   "queue": "gpu", "gpus": 1, "jobs": 3, "account": "mer-lab",
                                   "job_script_prologue": ["source /shared/mfdan/.venv/bin/activate"]}))
    opts, jobs = clusters.cluster_options("slurm", cfg)
    assert jobs == 3 and opts["job_extra_directives"] == ["--gres=gpu:1"]
    script = clusters.job_script("slurm", cfg)
    for want in ("#SBATCH -p gpu", "#SBATCH --gres=gpu:1", "#SBATCH -A mer-lab", "#SBATCH -t 02:00:00",
                 "source /shared/mfdan/.venv/bin/activate", "--nworkers 2", "--nthreads 2"):
        assert want in script, (want, script)
    pbs = clusters.job_script("pbs", cfg)
    assert "#PBS -q gpu" in pbs and "#PBS -l ngpus=1" in pbs
    cfg.write_text("cores: 4\nmemory: 8GB\npartition: gpu\n")
    with pytest.raises(ValueError, match=rf"{cfg}: unknown key\(s\) \['partition'\]"):
        clusters.cluster_options("slurm", cfg)
    cfg.write_text("memory: 8GB\n")
    with pytest.raises(ValueError, match="needs `cores`"):
        clusters.cluster_options("slurm", cfg)
    # the CLI prints it and submits nothing
    cfg.write_text("cores: 2\nmemory: 4GB\nqueue: short\n")
    out = subprocess.run([BIN / "mfdan", "sweep", "--cluster", "slurm", "--cluster-config", str(cfg), "--job-script"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "#SBATCH -p short" in out.stdout and "distributed.cli.dask_worker" in out.stdout


def test_a_bundle_keeps_one_codes_tasks_and_a_run_reads_only_its_own(tmp_path):
    """A bundle folder holds the tasks of one code digest (exporting other code into it is refused, the same
    task twice is kept once); --env refuses an environment recorded for other code or not a bundle run's."""
    from mfdan.sweep import bundle

    src = tmp_path / "cache.h5"
    src.write_bytes(b"cache bytes")
    md5 = "0" * 32
    entry = {"arm": "a", "seed": 0, "fold": "casme2_sub01", "params": {}, "device": "auto",
             "training": {"train": {"seed": 0}}, "data": {"data/cache.h5": md5}, "weights": False}
    assert bundle.export([entry, dict(entry)], {md5: {"cache": src}}, tmp_path / "b", code="c1", files=("x",)) == 1
    assert bundle.export([entry], {md5: {"cache": src}}, tmp_path / "b", code="c1", files=("x",)) == 0
    assert (tmp_path / "b" / "data" / md5 / "cache.h5").read_bytes() == b"cache bytes"
    with pytest.raises(ValueError, match="other code"):
        bundle.export([entry], {}, tmp_path / "b", code="c2", files=("x",))
    envs = tmp_path / "envs.json"
    envs.write_text(json.dumps({"auto": {"code": "c1", "device": "cuda"}}))
    assert bundle.recorded_environment(envs, "c1")["auto"]["device"] == "cuda"
    with pytest.raises(ValueError, match="other code"):
        bundle.recorded_environment(envs, "c2")
    envs.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a bundle run"):
        bundle.recorded_environment(envs, "c1")
    with pytest.raises(ValueError, match="no bundle here"):
        bundle.load(tmp_path / "nothing")


def test_a_bundle_stores_each_params_file_once_and_reads_every_task_back(tmp_path):
    """Tasks sharing a params file or training section (a comparison: every fold and seed of an arm) store each
    once; load gives every task its own back, whole; a bundle of the earlier format is refused with what to do."""
    from mfdan.sweep import bundle

    src, mag = tmp_path / "cache.h5", tmp_path / "magnified.h5"
    src.write_bytes(b"cache bytes")
    mag.write_bytes(b"magnified bytes")
    md5, md5_m = bundle._md5(src), bundle._md5(mag)
    big = {"model": {"arch": "mfdan", "window": 7}, "folds": [f"casme2_sub{i:02d}" for i in range(40)]}
    other = {**big, "model": {"arch": "htnet"}}
    entries = [{"arm": arm, "seed": seed, "fold": f"casme2_sub{i:02d}", "params": params, "device": "auto",
                "training": {"train": {"seed": seed}, "arm": arm},
                "data": {"data/cache.h5": md5, "data/magnified.h5": md5_m}, "weights": False}
               for arm, params in (("m", big), ("h", other)) for seed in range(3) for i in range(10)]
    sources = {md5: {"cache": src}, md5_m: {"magnified": mag}}
    assert bundle.export(entries, sources, tmp_path / "b", code="c1", files=("x",)) == 60
    raw = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert len(raw["shared"]) == 2 + 6 and len(raw["tasks"]) == 60   # two params files, six training sections
    assert all(isinstance(t["params"], str) and isinstance(t["training"], str) for t in raw["tasks"])
    got = bundle.load(tmp_path / "b")["tasks"]
    assert [(t["params"], t["training"]) for t in got] == [(e["params"], e["training"]) for e in entries]
    assert [t["fold"] for t in got] == [e["fold"] for e in entries]
    (tmp_path / "b" / "bundle.json").write_text(json.dumps({**raw, "format": 1}))
    with pytest.raises(ValueError, match="format 1, this code reads 2; export again"):
        bundle.load(tmp_path / "b")


# --- on a real engine -----------------------------------------------------------------------------------------
def env_for(repo: Path) -> dict:
    # the workers import the temporary repository's own copy of mfdan, as the set's DVC stages do
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(repo))


def sweep_cmd(*extra: str, store: Path, engine: str = "per-fold") -> list[str]:
    """The tiny sweep; the per-fold engine unless ``engine`` says otherwise (its bytes are train@'s)."""
    return [str(BIN / "mfdan"), "sweep", "--set", "tiny.yaml", "--arm", "base:", "--arm", "self_only",
            "--seeds", "0-1", "--store", str(store), "--json", "--engine", engine, *extra]


def run(cmd: list, repo: Path, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=repo, env=env_for(repo), capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{cmd}\n{res.stdout}\n{res.stderr}"
    return res


def tasks_of(result: dict) -> dict[str, dict[str, bytes]]:
    """task label -> its stored files (task.json, which names the worker, left out)."""
    return {label: {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.name != "task.json"}
            for label, folder in result["tasks"].items()}


def train_stage_again(repo: Path, ws: Path, out: Path, jobs: list[list]) -> None:
    """Each job ``[arm spec, seed, fold, folder]`` trained again, one after another in one process, by the train@
    stage's own function on the caches of the set workspace ``ws``, into ``out/<folder>``."""
    script = (
        "import json, sys, yaml\n"
        "from pathlib import Path\n"
        "from mfdan.core.params import Params, apply_overrides\n"
        "from mfdan.sweep.arms import parse_arm\n"
        "from mfdan.train import train_stage\n"
        f"ws, out = Path({str(ws)!r}), Path({str(out)!r}); base = yaml.safe_load(Path('tiny.yaml').read_text())\n"
        "for spec, seed, fold, name in json.loads(sys.argv[1]):\n"
        "    v = apply_overrides(base, parse_arm(spec).overrides | {'train.seed': seed, 'train.threads': 1})\n"
        "    train_stage.run(params=Params(v), fold=fold, cache=ws / 'data/cache.h5',\n"
        "                    magnified=ws / 'data/magnified.h5', out=out / name)\n")
    run([sys.executable, "-c", script, json.dumps(jobs)], repo)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A temporary project with a tiny params file, and a first sweep on it: two workers of an embedded
    LocalCluster, the weights kept."""
    from tests.test_pipeline_e2e import copy_repo, tiny_params

    tmp = tmp_path_factory.mktemp("sweep")
    repo = copy_repo(tmp)
    (repo / "tiny.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    res = run(sweep_cmd("--workers", "2", "--weights", store=tmp / "local"), repo)
    return repo, tmp, json.loads(res.stdout), res.stderr


@pytest.mark.slow
def test_local_cluster_equals_single_process_train_stage(tiny):
    repo, tmp, result, log = tiny
    assert "local: 2 worker process(es)" in log and "8 to train" in log
    assert set(result["results"]) == {"base", "self_only"} and set(result["results"]["base"]) == {"0", "1"}
    # every task again, one after another in one process, by the train@ stage's own function
    jobs = [["self_only" if arm == "self_only" else "base:", int(seed), fold, label]
            for label in sorted(result["tasks"]) for arm, _, seed, fold in [label.split(" ")]]
    train_stage_again(repo, next((tmp / "local" / "sets").iterdir()), tmp / "single", jobs)
    stored = tasks_of(result)
    for label, files in stored.items():
        single = {p.name: p.read_bytes() for p in (tmp / "single" / label).iterdir()}
        assert set(files) == {"predictions.csv", "curve.csv", "meta.json", "model.pt"}
        assert files == single, label  # byte for byte, the weights included
    # the same command again reuses every task
    again = run(sweep_cmd("--workers", "2", "--weights", store=tmp / "local"), repo)
    assert "8 task(s) already in" in again.stderr and "0 to train" in again.stderr
    assert json.loads(again.stdout)["results"] == result["results"]
    # a changed setting is another task: the stored results are not reused for it
    changed = run(sweep_cmd("--workers", "1", "--threads", "2", "--folds", result["folds"]["base"][0],
                            store=tmp / "local"), repo)
    assert "0 task(s) already in" in changed.stderr


def start_dask(tmp: Path, repo: Path, workers: int = 2) -> tuple[str, list[subprocess.Popen]]:
    """`dask scheduler` and `dask worker` (with nannies) as processes on loopback, as a user starts them."""
    sched_file = tmp / f"scheduler-{time.monotonic_ns()}.json"
    logs = tmp / "dask-logs"
    logs.mkdir(exist_ok=True)
    procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], cwd=repo, env=env_for(repo),
                              stdout=(logs / "scheduler.log").open("w"), stderr=subprocess.STDOUT)]
    for _ in range(300):
        if sched_file.is_file() and sched_file.stat().st_size:
            break
        time.sleep(0.1)
    address = json.loads(sched_file.read_text())["address"]
    procs.append(subprocess.Popen([BIN / "dask", "worker", address, "--nworkers", str(workers), "--nthreads", "1",
                                   "--no-dashboard", "--host", "127.0.0.1"], cwd=repo, env=env_for(repo),
                                  stdout=(logs / "workers.log").open("w"), stderr=subprocess.STDOUT))
    return address, procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        p.send_signal(signal.SIGINT)
    for p in reversed(procs):
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.mark.slow
def test_scheduler_and_worker_processes_give_the_same_results_and_survive_a_killed_worker(tiny):
    from distributed import Client

    repo, tmp, result, _ = tiny
    address, procs = start_dask(tmp, repo)
    try:
        res = run(sweep_cmd("--scheduler", address, "--weights", store=tmp / "remote"), repo)
        remote = json.loads(res.stdout)
        assert f"scheduler {address}" in res.stderr
        assert remote["results"] == result["results"] and tasks_of(remote) == tasks_of(result)

        # kill the worker process that is executing a task, once one is; the sweep still finishes, equal
        sweep = subprocess.Popen(sweep_cmd("--scheduler", address, "--weights", store=tmp / "killed"), cwd=repo,
                                 env=env_for(repo), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with Client(address, timeout="30s") as watcher:
            killed = None
            deadline = time.monotonic() + 240
            while killed is None and time.monotonic() < deadline and sweep.poll() is None:
                busy = watcher.run(lambda dask_worker: [str(ts.key) for ts in dask_worker.state.executing])
                for addr, keys in busy.items():
                    if any(k.startswith("fold-") for k in keys):
                        pid = watcher.run(os.getpid, workers=[addr])[addr]
                        os.kill(pid, signal.SIGKILL)
                        killed = (addr, keys)
                        break
                time.sleep(0.05)
        out, err = sweep.communicate(timeout=600)
        assert killed is not None, "no task was seen executing"
        assert sweep.returncode == 0, err
        after = json.loads(out)
        assert after["results"] == result["results"] and tasks_of(after) == tasks_of(result), killed
    finally:
        stop(procs)


@pytest.mark.slow
def test_ctrl_c_keeps_finished_folds_and_the_rerun_resumes(tiny):
    repo, tmp, result, _ = tiny
    store = tmp / "interrupted"
    # Ctrl-C in a terminal reaches a process whose SIGINT has its default action; a test run started in the
    # background of a non-interactive shell inherits SIGINT ignored, so the sweep's is restored here
    sweep = subprocess.Popen(sweep_cmd("--workers", "1", "--weights", store=store), cwd=repo, env=env_for(repo),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and sweep.poll() is None and not list(store.glob("tasks/*/*/task.json")):
        time.sleep(0.1)
    sweep.send_signal(signal.SIGINT)
    _, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, err
    kept = list(store.glob("tasks/*/*/task.json"))
    assert 1 <= len(kept) < 8 and "The same command resumes" in err
    assert not list(store.rglob("*.tmp"))  # nothing half-written
    for info in kept:
        assert {p.name for p in info.parent.iterdir()} == {"task.json", "predictions.csv", "curve.csv", "meta.json",
                                                          "model.pt"}
    res = run(sweep_cmd("--workers", "1", "--weights", store=store), repo)
    assert f"{len(kept)} task(s) already in" in res.stderr
    assert tasks_of(json.loads(res.stdout)) == tasks_of(result)


@pytest.mark.slow
def test_a_ledger_carries_every_fold_to_a_new_store_and_the_sweep_trains_none(tiny):
    from mfdan.sweep.ledger import export, load

    repo, tmp, result, _ = tiny
    ledger = tmp / "ledger.jsonl.gz"
    n = export(Store(tmp / "local"), ledger)  # the 8 tasks, and those other tests added to this store
    assert n >= 8
    carried = Store(tmp / "carried")
    loaded = load(ledger, carried)
    assert (loaded.added, loaded.same) == (n, 0) and sum(loaded.processors.values()) == n
    res = run(sweep_cmd("--workers", "1", store=carried.root), repo)
    assert "8 task(s) already in" in res.stderr and "0 to train" in res.stderr
    assert json.loads(res.stdout)["results"] == result["results"]
    # loading again adds nothing; exporting the new store gives the ledger's bytes
    assert (load(ledger, carried).added, load(ledger, carried).same) == (0, n)
    assert export(carried, tmp / "again.jsonl.gz") == n
    assert (tmp / "again.jsonl.gz").read_bytes() == ledger.read_bytes()


@pytest.mark.slow
def test_a_failing_task_is_retried_once_and_named(tiny):
    """One driver (mfdan.sweep.driver.drive) under both executors: on Dask workers (engine.execute) and on a
    bundle run's spawned processes, a task that raises is run once more, then failed under its task key, with
    the same error; the good task is stored after one attempt; progress lines come while nothing finishes."""
    from dataclasses import replace

    from distributed import Client, LocalCluster

    from mfdan.sweep.bundle import PoolExecutor, process_pool
    from mfdan.sweep.driver import by_label, drive
    from mfdan.sweep.engine import Log, execute
    from mfdan.sweep.tasks import Task

    repo, tmp, result, _ = tiny
    ws = next((tmp / "local" / "sets").iterdir())
    values = yaml.safe_load((repo / "tiny.yaml").read_text())
    values["train"] |= {"threads": 1}
    fold = result["folds"]["base"][0]
    from mfdan.sweep.tasks import code_files

    files = tuple(code_files(REPO))
    good = Task("base", 0, fold, values, str(ws / "data/cache.h5"), str(ws / "data/magnified.h5"), "a" * 64,
                environment("auto", files), files=files)
    bad = replace(good, cache=str(tmp / "no-such-cache.h5"), key="b" * 64, arm="broken")
    lines: dict[str, list[str]] = {"sweep": [], "bundle": []}

    class Lines(Log):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def __call__(self, line: str) -> None:
            lines[self.name].append(line)

    stores = {"sweep": Store(tmp / "failing"), "bundle": Store(tmp / "failing-bundle")}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      env={"PYTHONPATH": str(repo)}) as cl, Client(cl) as client:
        # polling every 0.2 s: the good task outlasts several polls that see nothing finish
        failed = {"sweep": execute(client, [bad, good], stores["sweep"], Lines("sweep"), poll_s=0.2)}
    with process_pool(1) as pool:  # one process: the retry runs before the good task, in a warm process
        out = drive(PoolExecutor(pool, 1), [bad, good], stores["bundle"], Lines("bundle"), poll_s=0.2)
    failed["bundle"] = out.failed
    assert (out.stored, out.left) == (1, [])
    for name in ("sweep", "bundle"):
        got, store, said = failed[name], stores[name], lines[name]
        assert list(got) == ["b" * 64] and "no-such-cache.h5" in got["b" * 64], name
        assert store.get("a" * 64) is not None and store.get("b" * 64) is None, name
        assert store.get("a" * 64)["attempts"] == 1, name
        assert any("broken seed 0" in x and "submitting it once more" in x for x in said), (name, said)
        assert any("broken seed 0" in x and "failed again" in x for x in said), (name, said)
        # progress lines while nothing finished (on Dask the retry waits behind the good task on the one
        # worker; in the pool the first attempt waits for its process to start)
        assert sum(x.startswith(f"{name}: 0/2 done, 1 running") for x in said) >= 2, (name, said)
    assert failed["sweep"] == failed["bundle"]  # one keying, one error text
    assert by_label(failed["bundle"], [bad, good]) == {f"broken seed 0 {fold}": failed["bundle"]["b" * 64]}
    # the budget: a task not started after it is left, nothing stored
    with process_pool(1) as pool:
        spent = drive(PoolExecutor(pool, 1), [replace(good, key="c" * 64)], stores["bundle"], Lines("bundle"),
                      budget_s=0)
    assert (spent.stored, spent.failed, [t.key for t in spent.left]) == (0, {}, ["c" * 64])
    assert stores["bundle"].get("c" * 64) is None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("sbatch") is None, reason="no sbatch here (a one-node SLURM: .ci/slurm-one-node.sh)")
def test_a_sweep_through_slurm_equals_the_local_one(tiny):
    """`--cluster slurm`: dask-jobqueue submits two one-core jobs to a real (one-node) SLURM; same bytes."""
    up = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if up.returncode or not any(s in up.stdout for s in ("idle", "mixed", "allocated")):
        pytest.skip(f"sbatch is installed but no SLURM node is up: {up.stdout.strip() or up.stderr.strip()}")
    repo, tmp, result, _ = tiny
    cfg = tmp / "slurm.yaml"
    cfg.write_text(yaml.safe_dump({"cores": 1, "processes": 1, "memory": "3GB", "walltime": "00:20:00",
                                   "jobs": 2, "log_directory": str(tmp / "slurm-logs")}))
    res = run(sweep_cmd("--cluster", "slurm", "--cluster-config", str(cfg), "--weights", store=tmp / "slurm"), repo,
              timeout=900)
    assert "slurm: 2 job(s) submitted" in res.stderr
    through = json.loads(res.stdout)
    assert through["results"] == result["results"] and tasks_of(through) == tasks_of(result)
    assert list((tmp / "slurm-logs").glob("*.err"))  # the jobs really ran (their logs)


@pytest.mark.slow
def test_a_foreign_worker_is_refused_at_the_start_and_retired_when_it_joins_later(tiny):
    """A worker whose CPU capability differs (ATEN_CPU_CAPABILITY=default) would train other bytes: at the
    start the sweep refuses the mix; one that joins a running sweep refuses its tasks, is retired, and the
    tasks are trained by the others (stored once, equal to the local run's)."""
    from distributed import Client, LocalCluster

    from mfdan.sweep.engine import Log, execute
    from mfdan.sweep.tasks import Task, code_digest, code_files

    repo, tmp, result, _ = tiny
    address, procs = start_dask(tmp, repo, workers=1)
    foreign_env = env_for(repo) | {"ATEN_CPU_CAPABILITY": "default"}
    try:
        procs.append(subprocess.Popen([BIN / "dask", "worker", address, "--nthreads", "1", "--no-dashboard",
                                       "--host", "127.0.0.1"], cwd=repo, env=foreign_env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=120)
        res = subprocess.run(sweep_cmd("--scheduler", address, store=tmp / "mixed"), cwd=repo, env=env_for(repo),
                             capture_output=True, text=True)
        assert res.returncode == 2 and "the workers differ" in res.stderr and "DEFAULT" in res.stderr, res.stderr
    finally:
        stop(procs)

    # a running sweep that a foreign worker joins
    ws = next((tmp / "local" / "sets").iterdir())
    values = yaml.safe_load((repo / "tiny.yaml").read_text())
    values["train"] |= {"threads": 1, "seed": 0}
    files = tuple(code_files(REPO))
    env = environment("auto", files)
    assert env["code"] == code_digest(REPO, list(files))
    tasks = [Task("base", 0, f, values, str(ws / "data/cache.h5"), str(ws / "data/magnified.h5"), f"{i}" * 64, env,
                  files=files) for i, f in enumerate(result["folds"]["base"])]
    lines: list[str] = []

    class Lines(Log):
        def __call__(self, line: str) -> None:
            lines.append(line)

    store = Store(tmp / "joined")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env={"PYTHONPATH": str(REPO)}) as cl, Client(cl) as client:
        late = subprocess.Popen([BIN / "dask", "worker", cl.scheduler_address, "--nthreads", "1", "--no-dashboard",
                                 "--host", "127.0.0.1"], cwd=REPO, env=foreign_env | {"PYTHONPATH": str(REPO)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(2, timeout=120)
            failed = execute(client, tasks, store, Lines(), poll_s=0.5)
        finally:
            late.kill()
    assert failed == {}
    for t in tasks:
        stored = {p.name: p.read_bytes() for p in store.folder(t.key).iterdir() if p.name not in ("task.json", "model.pt")}
        local = {p.name: p.read_bytes() for p in Path(result["tasks"][f"base seed 0 {t.fold}"]).iterdir()
                 if p.name not in ("task.json", "model.pt")}
        assert stored == local, t.fold
    if any("retiring that worker" in x for x in lines):  # the foreign worker got a task (it usually does)
        assert any("DEFAULT" in x for x in lines)


# --- a bundle: where there is no DVC and no Dask (a borrowed GPU machine) ------------------------------------
#: a borrowed GPU machine's Python lacks these (docs/gpu.md); a sitecustomize on PYTHONPATH makes this one,
#: and every process it spawns, lack them too
GPU_MACHINE_SITE = '''
import sys
from importlib.abc import MetaPathFinder

ABSENT = {"dvc", "distributed", "dask", "dask_jobqueue", "dlib", "face_recognition_models", "tqdm", "captum",
          "matplotlib", "skimage"}


class Absent(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Absent())
'''


@pytest.mark.slow
def test_a_bundle_trains_without_dvc_or_dask_the_bytes_the_sweep_trains(tiny):
    """--export writes the sweep's tasks and caches; `python -m mfdan.sweep.bundle run` trains them in a Python
    without DVC, Dask or dlib, under the keys a Dask worker on the same machine computes, byte for byte; its
    budget stops it and the same command resumes; merged into a store, `mfdan sweep --env` makes the sweep's
    tables from them without training, and names what is missing; a damaged cache copy is refused."""
    repo, tmp, result, _ = tiny
    bundle, there = tmp / "bundle", tmp / "there"
    exported = json.loads(run(sweep_cmd("--export", str(bundle), store=tmp / "local"), repo).stdout)
    assert exported["new_tasks"] == 8
    assert json.loads(run(sweep_cmd("--export", str(bundle), store=tmp / "local"), repo).stdout)["new_tasks"] == 0
    assert len(json.loads((bundle / "bundle.json").read_text())["tasks"]) == 8
    assert sorted(p.name for p in (bundle / "data").glob("*/*.h5")) == ["cache.h5", "magnified.h5"]

    site = tmp / "gpu-machine"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GPU_MACHINE_SITE)
    gpu_env = env_for(repo) | {"PYTHONPATH": f"{site}{os.pathsep}{repo}"}
    for absent in ("dvc", "distributed", "dlib"):
        probe = subprocess.run([BIN / "python", "-c", f"import {absent}"], env=gpu_env, capture_output=True)
        assert probe.returncode != 0, absent

    def bundle_run(*extra: str, store: Path = there) -> subprocess.CompletedProcess:
        return subprocess.run([BIN / "python", "-m", "mfdan.sweep.bundle", "run", str(bundle), "--store", str(store),
                               *extra], cwd=repo, env=gpu_env, capture_output=True, text=True)

    spent = bundle_run("--budget", "0")
    assert spent.returncode == 3 and json.loads(spent.stdout)["left"] == 8 and "the same command resumes" in spent.stderr
    done = bundle_run("--workers", "2")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"failed": {}} == {"tasks": 8, "stored_before": 0, "done": 8, "failed": {},
                                                        "left": 0}
    again = bundle_run()
    assert again.returncode == 0 and json.loads(again.stdout)["stored_before"] == 8
    # the keys and the bytes of the Dask sweep (same machine, same code)
    for label, folder in result["tasks"].items():
        key = Path(folder).name
        mine = Store(there).folder(key)
        assert mine.is_dir(), label
        assert {p.name: p.read_bytes() for p in mine.iterdir() if p.name != "task.json"} == \
            {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.name not in ("task.json", "model.pt")}, label

    # back here: merged into a store, the tables come from them, nothing trained
    merged = run([BIN / "python", "-m", "mfdan.sweep.bundle", "merge", str(there), "--into", str(tmp / "merged")],
                 repo)
    assert "8 task(s) copied" in merged.stdout
    tables = run(sweep_cmd("--env", str(there / "envs.json"), store=tmp / "merged"), repo)
    assert json.loads(tables.stdout)["results"] == result["results"]
    assert "8 task(s) in" in tables.stderr and "to train" not in tables.stderr
    shutil.rmtree(Store(tmp / "merged").folder(Path(next(iter(result["tasks"].values()))).name))
    short = subprocess.run(sweep_cmd("--env", str(there / "envs.json"), store=tmp / "merged"), cwd=repo,
                           env=env_for(repo), capture_output=True, text=True)
    assert short.returncode == 2 and "1 of 8 task(s)" in short.stderr and "bundle run" in short.stderr

    # a cache damaged on its way: named, nothing trained
    cache = next((bundle / "data").glob("*/cache.h5"))
    cache.write_bytes(cache.read_bytes()[:-1])
    bad = bundle_run(store=tmp / "fresh")
    assert bad.returncode == 2 and str(cache.resolve()) in bad.stderr and "damaged" in bad.stderr
    assert not (tmp / "fresh").exists()


@pytest.mark.slow
def test_the_batched_engine_through_a_sweep_and_a_bundle(tiny):
    """--engine batched: each arm's folds and seeds packed into groups (two workers: groups of two), every
    member stored under a key of its own that names the engine and its group (apart from the per-fold
    results), the engine recorded in task.json and meta.json; the same command reuses them all; a bundle
    exported with the same layout trains the same bytes in spawned processes; --export without --group-size
    is refused."""
    repo, tmp, per_fold, _ = tiny
    res = run(sweep_cmd("--workers", "2", store=tmp / "batched", engine="batched"), repo)
    batched = json.loads(res.stdout)
    assert "groups of up to 2 task(s)" in res.stderr and "8 to train (4 job(s), engine batched)" in res.stderr
    assert set(batched["results"]) == {"base", "self_only"} and set(batched["results"]["base"]) == {"0", "1"}
    assert set(batched["tasks"]) == set(per_fold["tasks"])
    for label, folder in batched["tasks"].items():
        assert Path(folder).name != Path(per_fold["tasks"][label]).name, label  # keyed apart
        info = json.loads((Path(folder) / "task.json").read_text())
        assert info["engine"]["name"] == "batched" and len(info["engine"]["group"]) == 2, label
        meta = json.loads((Path(folder) / "meta.json").read_text())
        assert meta["engine"]["group"] == info["engine"]["group"] and meta["train"]["seed"] == info["seed"]
    again = run(sweep_cmd("--workers", "2", store=tmp / "batched", engine="batched"), repo)
    assert "8 task(s) already in" in again.stderr and "0 to train" in again.stderr
    assert json.loads(again.stdout)["results"] == batched["results"]

    refused = subprocess.run(sweep_cmd("--export", str(tmp / "b2"), store=tmp / "batched", engine="batched"),
                             cwd=repo, env=env_for(repo), capture_output=True, text=True)
    assert refused.returncode == 2 and "--group-size" in refused.stderr
    run(sweep_cmd("--export", str(tmp / "b2"), "--group-size", "2", store=tmp / "batched", engine="batched"), repo)
    done = subprocess.run([BIN / "python", "-m", "mfdan.sweep.bundle", "run", str(tmp / "b2"), "--store",
                           str(tmp / "there2")], cwd=repo, env=env_for(repo), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["done"] == 8
    for label, folder in batched["tasks"].items():
        mine = Store(tmp / "there2").folder(Path(folder).name)
        assert {p.name: p.read_bytes() for p in mine.iterdir() if p.name != "task.json"} == \
            {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.name != "task.json"}, label


@pytest.mark.slow
def test_budget_rules_through_a_sweep(tiny):
    """train.budget through `mfdan sweep` (three subjects, so an outer fold's training subjects can be held out in
    turn): with --engine batched, equal steps trains in a group, each member stopping at its step count; inner
    selection is never grouped, trains per fold, records its inner folds, candidates and choice in meta.json,
    and stores the bytes the train@ stage writes for the same params (predictions, curve, meta; the sweep keeps
    no weights without --weights)."""
    repo, tmp, _, _ = tiny
    three = "synth.subjects=3"
    inner = f"inner:{three},train.budget=inner,train.inner_folds=2,train.inner_points=2"
    steps = f"steps:{three},train.budget=steps,train.steps=3"
    res = run([str(BIN / "mfdan"), "sweep", "--set", "tiny.yaml", "--arm", inner, "--arm", steps, "--seeds", "0",
               "--store", str(tmp / "budget"), "--json", "--engine", "batched", "--group-size", "3",
               "--workers", "1"], repo)
    result = json.loads(res.stdout)
    assert set(result["results"]) == {"inner", "steps"} and len(result["folds"]["inner"]) == 3
    for label, folder in result["tasks"].items():
        info = json.loads((Path(folder) / "task.json").read_text())
        meta = json.loads((Path(folder) / "meta.json").read_text())
        if label.startswith("steps"):
            assert info["engine"]["name"] == "batched" and len(info["engine"]["group"]) == 3, label
            assert "3-step schedule" in meta["selection"] and meta["epochs_run"] == meta["epoch_used"]
            continue
        assert "engine" not in meta, label  # per fold
        assert meta["selection"].startswith("inner selection") and meta["train"]["budget"] == "inner"
        chosen = meta["inner"]["chosen"]
        assert chosen in meta["inner"]["candidates"] and meta["epochs_run"] == chosen["epochs"]
        assert len(meta["inner"]["groups"]) == 2 and meta["fold"] not in sum(meta["inner"]["groups"], [])
    # the inner arm's folds again, by the train@ stage's own function in this process: the same bytes
    train_stage_again(repo, next((tmp / "budget" / "sets").iterdir()), tmp / "inner1",
                      [[inner, 0, fold, fold] for fold in result["folds"]["inner"]])
    for label, folder in result["tasks"].items():
        if label.startswith("inner"):
            fold = label.split(" ")[-1]
            single = {p.name: p.read_bytes() for p in (tmp / "inner1" / fold).iterdir() if p.name != "model.pt"}
            assert {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.name != "task.json"} == single

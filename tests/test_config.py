"""params.yaml sections map onto their registered dataclasses; mistakes name the section and key."""
import dataclasses
from pathlib import Path

import pytest

from mfdan.core.params import SCALARS, SECTIONS, Params, load_variant, section_class
from mfdan.data.config import DataConfig
from mfdan.synth.config import SynthConfig

REPO = Path(__file__).resolve().parents[1]
PARAM_FILES = [REPO / "params.yaml", *sorted((REPO / "profiles").glob("paper-*.yaml"))]
RECIPES = sorted((REPO / "profiles").glob("baseline-*.yaml"))


def test_repository_params_build_every_section():
    params = Params.load(REPO / "params.yaml")
    data = params.section("data", DataConfig)
    synth = params.section("synth", SynthConfig)
    assert data.protocol == "composite" and set(data.roots) == {"casme2", "samm", "smic"}
    assert isinstance(synth.amplitude, tuple) and synth.amplitude[0] < synth.amplitude[1]
    assert not any(Path(p).is_absolute() for p in data.roots.values())


@pytest.mark.parametrize("values,msg", [({"protcol": "samm"}, "unknown key"), ({"protocol": "casme3"}, "casme3"),
                                        ({"apex": "peak"}, "data.apex"), ({"protocol": 3}, "expected str")])
def test_bad_section_names_the_key(values, msg):
    with pytest.raises(ValueError, match=msg) as err:
        Params({"data": values}).section("data", DataConfig)
    assert "params.yaml: data" in str(err.value)


def test_registry_is_the_one_mapping():
    """Every registered section resolves to a dataclass; a stage asking for a section with another class is
    refused, so the registry and the stages' imports cannot drift apart; unknown top-level keys are errors."""
    for name in SECTIONS:
        assert dataclasses.is_dataclass(section_class(name)), name
    with pytest.raises(TypeError, match="mirrored by"):
        Params({}).section("data", SynthConfig)
    with pytest.raises(ValueError, match="unknown top-level key"):
        Params({"flwo": {}})


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_every_params_file_builds_every_section(path):
    params = load_variant(path)
    assert set(params.values) <= set(SECTIONS) | set(SCALARS)
    resolved = params.resolved()
    assert resolved["model"]["img_size"] == resolved["flow"]["output_size"] == resolved["align"]["output_size"]


PAPER_DROPKEY = {"composite": 0.3, "casme2": 0.4, "samm": 0.3, "smic": 0.3}


@pytest.mark.parametrize("name", sorted(PAPER_DROPKEY))
def test_paper_profiles_pin_the_quoted_settings(name):
    """Sec. IV: focal γ 2.0, lr 0.0001, batch 16; Sec. V: DropKey 0.4 for CASME II, 0.3 for SAMM and SMIC;
    224 px, C 96, heads 3/6, window 7, SSSN encoder (the MFDANConfig defaults); Adan; the Table II set."""
    from mfdan.model import MFDANConfig
    from mfdan.train.loop import TrainConfig

    p = load_variant(REPO / "profiles" / f"paper-{name}.yaml")
    assert p.dropkey == PAPER_DROPKEY[name]
    model = p.section("model", MFDANConfig, dropkey=p.dropkey)
    assert model == MFDANConfig(dropkey=PAPER_DROPKEY[name])
    assert (model.img_size, model.embed_dim, model.heads, model.window) == (224, 96, (3, 6), 7)
    assert (model.flow_encoder_channels, model.flow_encoder_kernels, model.flow_encoder_strides) == \
        ((96, 256), (11, 5), (4, 1))
    train = p.section("train", TrainConfig)
    assert (train.loss, train.gamma, train.lr, train.batch, train.optimizer) == ("focal", 2.0, 1e-4, 16, "adan")
    assert train.adamw_betas == (0.9, 0.999)
    assert p.section("data").protocol == name
    resolved = p.resolved()
    assert resolved["align"]["output_size"] == resolved["flow"]["output_size"] == 224
    from mfdan.data.protocols import cde_list, get_protocol

    want = sorted({f"{d}_{s}" for d, s, _ in cde_list() if d in get_protocol(name).datasets})
    assert p.folds == want


def test_no_param_is_named_size_or_nfiles():
    """DVC 3's run-cache key drops every key called `size` or `nfiles` (file metadata) at any depth, params
    included: a change to such a param would be served a stale output from the run-cache. Keep them out, of
    the files and of the dataclasses (a key added later to params.yaml is a dataclass field)."""
    def keys(node, path=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield f"{path}.{k}".lstrip("."), k
                yield from keys(v, f"{path}.{k}")

    for path in PARAM_FILES:
        bad = [full for full, k in keys(load_variant(path).values) if k in ("size", "nfiles")]
        assert not bad, f"{path}: rename {bad}"
    for name in SECTIONS:
        fields = {f.name for f in dataclasses.fields(section_class(name))}
        assert not fields & {"size", "nfiles"}, name


def test_cli_params_prints_the_resolved_sections(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from mfdan.cli import app

    res = CliRunner().invoke(app, ["params", str(REPO / "params.yaml")])
    assert res.exit_code == 0, res.output
    shown = yaml.safe_load(res.output)
    assert set(shown) == set(SECTIONS) | set(SCALARS)
    assert shown["flow"]["tau"] == 0.25 and shown["model"]["dropkey"] == Params.load(REPO / "params.yaml").dropkey
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epoch: 3\n")
    res = CliRunner().invoke(app, ["params", str(bad)])
    assert res.exit_code == 2 and "train" in res.output and "epoch" in res.output


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_baseline_recipe_applies_to_every_params_file(recipe):
    from mfdan.core.params import apply_overrides, dvc_set_args, load_overrides
    from mfdan.model.registry import arch_of, model_config

    overrides = load_overrides(recipe)
    arch = recipe.stem.removeprefix("baseline-")
    assert overrides["model.arch"] == arch
    for path in PARAM_FILES:
        params = Params(apply_overrides(load_variant(path).values, overrides), source=str(path))
        params.resolved()
        assert arch_of(model_config(params, num_classes=3)).name == arch
    args = dvc_set_args(overrides)
    assert args[:2] == ["-S", f"++model.arch={arch}"] and len(args) == 2 * len(overrides)


def test_recipe_command_prints_dvc_arguments_and_refuses_a_bad_recipe(tmp_path):
    from typer.testing import CliRunner

    from mfdan.cli import app

    res = CliRunner().invoke(app, ["recipe", str(REPO / "profiles/baseline-ststnet.yaml"),
                                   "--params", str(REPO / "params.yaml")])
    assert res.exit_code == 0 and res.output.startswith("-S ++model.arch=ststnet -S ++train.optimizer=adam")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model.arch: ststnet\ntrain.lr: -1\n")
    res = CliRunner().invoke(app, ["recipe", str(bad), "--params", str(REPO / "params.yaml")])
    assert res.exit_code != 0 and "train.lr" in res.output


SECTION_COMMENT = r"^# (\w+) -> (mfdan(?:\.\w+)+)\.(\w+)\b"


@pytest.mark.parametrize("path", [REPO / "params.yaml", REPO / "long" / "params.yaml"], ids=lambda p: p.parent.name)
def test_section_comments_name_the_registered_class(path):
    """Each "# section -> module.Class" comment of a params file names the dataclass the registry maps that
    section to, in the module that defines it (a comment left behind by a move fails here)."""
    import importlib
    import re

    found = re.findall(SECTION_COMMENT, path.read_text(), flags=re.M)
    assert found, f"{path.name}: no section comments"
    for section, module, cls in found:
        assert SECTIONS.get(section) == f"{module}:{cls}", f"{path.name}: # {section} -> {module}.{cls}"
        assert dataclasses.is_dataclass(getattr(importlib.import_module(module), cls))


@pytest.mark.parametrize("path", sorted((REPO / "profiles").glob("*.yaml")), ids=lambda p: p.name)
def test_every_profile_is_dotted_overrides_checked_by_the_registry(path):
    """profiles/ holds one format: dotted overrides of params.yaml (paper profiles, baseline recipes, sweep sets
    and named arms), each read by the one loader and checked section by section, model config included."""
    from mfdan.core.params import load_overrides
    from mfdan.model.registry import model_config

    overrides = load_overrides(path)
    assert not any(isinstance(v, dict) and v and k in SECTIONS for k, v in overrides.items()), \
        f"{path.name}: a whole section; write its keys dotted"
    params = load_variant(path)
    model_config(params, num_classes=3)


def test_named_sets_and_arms_come_from_their_files(tmp_path):
    """The sweep's named sets and arms are profiles/set-*.yaml and profiles/arm-*.yaml: what a file says is what
    the name means, and a name without a file is refused naming the ones there are."""
    from mfdan.sweep.arms import parse_arm
    from mfdan.sweep.sets import load_set

    assert parse_arm("self_only", base_dir=REPO).overrides == {"model.flow_driven": False}
    assert parse_arm("flow_driven", base_dir=REPO).overrides == {}
    with pytest.raises(ValueError, match="not a named arm .*self_only"):
        parse_arm("no_such_arm", base_dir=REPO)
    with pytest.raises(ValueError, match="no .*arm-"):
        parse_arm("self_only", base_dir=tmp_path)
    hard = load_set("hard", repo=REPO).values
    assert hard["synth"]["faces"] == ["grace_hopper", "astronaut"] and hard["model"] == Params.load(REPO / "params.yaml").values["model"]
    # a named set at a difficulty: its confounders' strengths part of the way from params.yaml's; at 1 the set
    assert load_set("hard@1", repo=REPO).values == hard
    half = load_set("hard@0.5", repo=REPO)
    assert half.label == "hard-d0.5" and half.values["synth"]["faces"] == hard["synth"]["faces"]
    assert half.values["synth"]["amplitude"] == [0.6, 1.6] and half.values["synth"]["blink_rate"] == 0.25
    assert half.values["synth"]["noise"] == 1.75 and half.values["synth"]["roll"] == 0.5
    for bad in ("hard@2", "hard@x"):
        with pytest.raises(ValueError, match="difficulty"):
            load_set(bad, repo=REPO)
    own = tmp_path / "mine.yaml"
    own.write_text("data.protocol: samm\n")
    assert load_set(str(own), repo=REPO).values["data"]["protocol"] == "samm"
    whole = tmp_path / "whole.yaml"  # a whole params file is read as it is, as before
    whole.write_text("data:\n  protocol: smic\n")
    assert load_set(str(whole), repo=REPO).values == {"data": {"protocol": "smic"}}
    assert load_variant(REPO / "long" / "params.yaml").values == Params.load(REPO / "long" / "params.yaml").values


def test_dvc_exp_run_takes_a_profile_as_printed(tmp_path):
    """`dvc exp run $(mfdan recipe FILE)` in a real DVC project: a list, a key params.yaml lacks (``++``) and a
    nested key all land in params.yaml as the profile says."""
    import os
    import shlex
    import shutil
    import subprocess

    from mfdan.core.params import dvc_set_args, load_overrides, load_yaml

    dvc = shutil.which("dvc")
    (tmp_path / "params.yaml").write_text("data:\n  roots:\n    casme2: data/raw/casme2\nfolds: [x]\n")
    (tmp_path / "dvc.yaml").write_text("stages:\n  s:\n    cmd: python -c \"print(1)\"\n    params: [data, folds]\n")
    profile = tmp_path / "p.yaml"
    profile.write_text("folds: [casme2_sub01, casme2_sub02]\ndata.roots.casme3: data/raw/casme3\ntrain.lr: 1.0e-4\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    run = lambda *a: subprocess.run(a, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)  # noqa: E731
    for cmd in (["git", "init", "-q"], [dvc, "init", "-q"], ["git", "add", "-A"],
                ["git", "commit", "-qm", "i"]):
        assert run(*cmd).returncode == 0, cmd
    args = shlex.split(" ".join(dvc_set_args(load_overrides(profile))))
    out = run(dvc, "exp", "run", *args)
    assert out.returncode == 0, out.stderr
    got = load_yaml(tmp_path / "params.yaml")
    assert got["folds"] == ["casme2_sub01", "casme2_sub02"] and got["train"]["lr"] == 1.0e-4
    assert got["data"]["roots"] == {"casme2": "data/raw/casme2", "casme3": "data/raw/casme3"}

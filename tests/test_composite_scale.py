"""The composite-scale set (issue 45, item 5): ``synth.rows: cde`` plans the MEGC2019 composite's shape (the CDE
list's 68 subjects, each with exactly its own CDE rows) and leaves the default plan and manifest as they were.
Plans only: nothing is rendered."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from mfdan.core.params import load_overrides, load_variant
from mfdan.data.protocols import CDE_COUNTS, CDE_DATASETS, DATASETS, cde_list
from mfdan.synth.config import SynthConfig
from mfdan.synth.plan import plan_layout

REPO = Path(__file__).resolve().parents[1]
SET = REPO / "profiles" / "set-composite-scale.yaml"


def plans_of(cfg: SynthConfig, layouts=None):
    return [p for lay in (layouts or cfg.layouts) for p in plan_layout(lay, cfg)]


def plan_digest(cfg: SynthConfig, layouts) -> tuple[str, int]:
    plans = [asdict(p) for p in plans_of(cfg, layouts)]
    return hashlib.sha256(json.dumps(plans, sort_keys=True).encode()).hexdigest(), len(plans)


def test_the_set_plans_the_composite_every_cde_sample_once():
    cfg = load_variant(SET).section("synth", SynthConfig)
    assert cfg.rows == "cde" and cfg.geometry == "release" and cfg.layouts == CDE_DATASETS
    plans = plans_of(cfg)
    keys = Counter((p.layout, p.subject, p.sample) for p in plans)
    assert set(keys) == set(cde_list()) and max(keys.values()) == 1
    assert len(plans) == CDE_COUNTS["samples"] == 442
    assert len({(p.layout, p.subject) for p in plans}) == CDE_COUNTS["subjects"] == 68
    per_dataset = Counter(p.layout for p in plans)
    assert per_dataset == {d: CDE_COUNTS[d] for d in CDE_DATASETS} == {"casme2": 145, "samm": 133, "smic": 164}
    assert all(p.label3 == cde_list()[(p.layout, p.subject, p.sample)] for p in plans)
    assert Counter(p.label3 for p in plans) == {c: CDE_COUNTS[c] for c in ("negative", "positive", "surprise")}
    # each subject has exactly its own CDE rows, in frames the readers take (onset < apex < offset)
    assert Counter((p.layout, p.subject) for p in plans) == Counter((d, s) for d, s, _ in cde_list())
    assert all(p.onset < p.apex < p.offset and p.offset - p.onset + 1 == cfg.max_frames for p in plans)


def test_cde_rows_missing_from_the_shipped_sheet_are_planned_with_the_lists_label():
    """The shipped CASME II sheet lacks three CDE rows; they are planned as SMIC-HS clips are (drawn frame numbers)
    with the list's label and that class's AUs."""
    cfg = SynthConfig(rows="cde", subjects=68, others_per_subject=0)
    casme2 = {(p.subject, p.sample): p for p in plan_layout("casme2", cfg)}
    for subject, sample in (("sub03", "EP01_2"), ("sub15", "EP04_02"), ("sub17", "EP01_13")):
        p = casme2[(subject, sample)]
        assert p.label3 == p.emotion == cde_list()[("casme2", subject, sample)] and p.aus


def test_subjects_caps_the_cde_plan_richest_first_each_with_all_its_rows():
    cfg = SynthConfig(rows="cde", subjects=1, others_per_subject=0)
    per_subject = Counter((d, s) for d, s, _ in cde_list())
    for lay in CDE_DATASETS:
        plans = plan_layout(lay, cfg)
        (subject,) = {p.subject for p in plans}
        assert len(plans) == per_subject[(lay, subject)]
    with_others = SynthConfig(rows="cde", subjects=2, others_per_subject=1)
    plans = plan_layout("casme2", with_others)
    assert sum(p.label3 is None for p in plans) <= 2 and sum(p.label3 is not None for p in plans) == sum(
        per_subject[("casme2", s)] for s in {p.subject for p in plans})


#: digests of the plans before ``rows`` existed (computed at 83a0932): the default switch changes no clip
BEFORE = {
    "default": ("bdfe9f069d7d14bb321e788fbd4e8a2a037d978503c24e9a0847ae7a5e2e17f7", 140),
    "params.yaml": ("3cbcd02e8a1fa52066cee8600438660cabd5a84463b57566cf5a58b789e760a2", 75),
    "profiles/set-hard.yaml": ("8c6edac93463c30bbf4c43d799c4d22659010b768267cb2773f0d3c92ee35622", 75),
    "profiles/set-realface.yaml": ("928281ea1df0866f141be14b997f16c792aa112317164dec8a2149cce22a9391", 75),
    "profiles/demo-all.yaml": ("6f07a4d3f0d060414853431afcb3190c4704a4c043b7e70840534732dd934b61", 157),
}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_the_default_rows_plan_what_they_planned_before(name):
    cfg = SynthConfig() if name == "default" else load_variant(REPO / name).section("synth", SynthConfig)
    assert cfg.rows == "round_robin"
    layouts = DATASETS if name == "default" else cfg.layouts
    assert plan_digest(cfg, layouts) == BEFORE[name]


def test_the_manifest_names_rows_only_when_not_the_default(tmp_path):
    from mfdan.synth.writers import write_manifest

    cfg = SynthConfig(subjects=1, samples_per_subject=1)
    plans = plan_layout("casme2", cfg)
    default = json.loads(write_manifest("casme2", plans, cfg, tmp_path).read_text())["config"]
    assert "rows" not in default
    cde = replace(cfg, rows="cde")
    assert json.loads(write_manifest("casme2", plan_layout("casme2", cde), cde, tmp_path).read_text())["config"][
        "rows"] == "cde"


def test_rows_is_checked():
    with pytest.raises(ValueError, match="synth.rows must be one of"):
        SynthConfig(rows="all")
    with pytest.raises(ValueError, match="CDE list's layouts"):
        SynthConfig(rows="cde", layouts=("casme2", "mmew"))
    with pytest.raises(ValueError, match="CDE list's layouts"):
        plan_layout("casme3", SynthConfig(rows="cde"))


def test_the_set_is_the_paper_profile_at_224_px_and_a_named_sweep_set():
    """Every setting of profiles/paper-composite.yaml, unchanged (the two files cannot drift apart), on the
    composite-scale data; ``mfdan sweep --set composite-scale`` finds it."""
    from mfdan.sweep.sets import load_set, named_sets, preprocessing

    own, paper = load_overrides(SET), load_overrides(REPO / "profiles" / "paper-composite.yaml")
    assert {k: v for k, v in own.items() if k in paper} == paper
    assert all(k.startswith("synth.") for k in set(own) - set(paper))
    assert "composite-scale" in named_sets(REPO)
    values = load_set("composite-scale", repo=REPO).values
    assert values["align"]["output_size"] == values["flow"]["output_size"] == values["model"]["img_size"] == 224
    assert preprocessing(values)["synth"]["rows"] == "cde"
    assert len(values["folds"]) == CDE_COUNTS["subjects"]
    assert sorted(values["folds"]) == sorted({f"{d}_{s}" for d, s, _ in cde_list()})

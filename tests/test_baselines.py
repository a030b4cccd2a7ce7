"""The baselines (`model.arch`): parameter counts against their papers / authors' code, output shapes, each
learns a separable toy through the real fold recipe, the Bi-WOOF descriptor on known flow fields, its model
file is plain arrays, the HDE split, and the registry's checks."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from mfdan.baselines import BaselinesConfig
from mfdan.baselines.bi_woof import BiWOOF, BiWOOFConfig, block_spans, descriptor
from mfdan.baselines.htnet import HTNetConfig, region_centres, regions_image
from mfdan.core.errors import DatasetError
from mfdan.core.params import Params
from mfdan.data.folds import fold_names, held_out
from mfdan.model.catalogue import catalogue
from mfdan.model.registry import ARCHITECTURES, build, check_sizes, config_class, forward, model_config, parameter_count
from mfdan.train.fold_data import FoldData
from mfdan.train.fold import fit_fold
from mfdan.train.loop import TrainConfig, save_model, split_fold
from tests.toys import toy_fold_data

#: parameters for three classes at each paper's configuration; the source of each figure is in its module
PAPER_PARAMETERS = {
    "ststnet": 1_683,            # christy1206/STSTNet main.py: 448 conv + 32 BN + 1,203 FC
    "off_apexnet": 2_664_475,    # the Off-TANet port's 2.66 M
    "dual_inception": 6_449_867,  # the Off-TANet port's 6.45 M
    "sssnet": 452_995,           # AlexNet conv1-2 (groups 2) + FC at 224 px (472,195 at 227)
    "htnet": 139_582_982,        # main_HTNet.py's HTNet(dim 256, heads 3, block_repeats (2, 2, 10))
    "bi_woof": 603,              # 5·5·8 = 200-d descriptor, one-vs-rest linear SVM: 3 × 200 + 3
}
SIZE = 48


def canonical_landmarks(size: int, n: int) -> np.ndarray:
    """68 points at a frontal face's places (eyes, mouth corners where HTNet reads them), (n, 68, 2) pixels."""
    pts = np.full((68, 2), size / 2, dtype=np.float32)
    pts[36:42] = (0.3 * size, 0.35 * size)
    pts[42:48] = (0.7 * size, 0.35 * size)
    pts[48] = (0.35 * size, 0.75 * size)
    pts[54] = (0.65 * size, 0.75 * size)
    return np.repeat(pts[None], n, axis=0)


def toy_data(n_per_class: int = 12, subjects: int = 4, seed: int = 0) -> FoldData:
    """Three classes told apart by where and which way the face moves: class 0 the eyes' region moves right,
    class 1 the mouth's region moves up, class 2 both move left; noise everywhere, strain = |u| + |v|."""
    rng = np.random.default_rng(seed)
    n = 3 * n_per_class
    labels = np.repeat(np.arange(3), n_per_class)
    flow = rng.normal(0, 0.05, (n, 3, SIZE, SIZE)).astype(np.float32)
    eyes, mouth = (slice(9, 24), slice(6, 42)), (slice(30, 45), slice(9, 39))
    for i, c in enumerate(labels):
        a = rng.uniform(0.6, 1.0)
        if c == 0:
            flow[i, 0][eyes] += a
        elif c == 1:
            flow[i, 1][mouth] -= a
        else:
            flow[i, 0][eyes] -= a
            flow[i, 0][mouth] -= a
    flow[:, 2] = np.abs(flow[:, 0]) + np.abs(flow[:, 1])
    images = rng.integers(0, 255, (n, SIZE, SIZE, 3), dtype=np.uint8)
    return toy_fold_data([f"s{i % subjects}" for i in range(n)], size=SIZE, dataset="toy", classes=("a", "b", "c"),
                         flow=flow, labels=labels, images=images, landmarks=canonical_landmarks(SIZE, n))


@pytest.mark.parametrize("name", sorted(PAPER_PARAMETERS))
def test_parameter_count_at_the_papers_configuration(name):
    cfg = config_class(name)(num_classes=3)
    with torch.device("meta"):
        assert parameter_count(build(cfg)) == PAPER_PARAMETERS[name]


def test_every_registered_architecture_is_counted_and_listed():
    assert set(ARCHITECTURES) == set(PAPER_PARAMETERS) | {"mfdan"}
    rows = {r["name"]: r for r in catalogue()}
    assert set(rows) == set(ARCHITECTURES)
    for name, n in PAPER_PARAMETERS.items():
        assert rows[name]["parameters"] == n and rows[name]["citation"] and rows[name]["deviations"]
    assert {f.name for f in dataclasses.fields(BaselinesConfig)} == set(PAPER_PARAMETERS)


# small settings where the paper's are too big for a test (HTNet: 140 M parameters; SSSNet reads 224 px)
SMALL = {"sssnet": {"input_size": SIZE, "channels": (8, 16)}, "htnet": {"dim": 16, "block_repeats": (1, 1, 1)},
         "off_apexnet": {"hidden": 64}, "dual_inception": {"hidden": 64}}


@pytest.mark.parametrize("name", sorted(set(PAPER_PARAMETERS) - {"bi_woof"}))
def test_network_output_shape_on_the_cache_batch(name):
    cfg = config_class(name)(num_classes=5, **SMALL.get(name, {}))
    model = build(cfg).eval()
    batch = {"image": torch.zeros(2, 3, 64, 64), "flow": torch.randn(2, 3, 64, 64),
             "landmarks": torch.from_numpy(canonical_landmarks(64, 2))}
    out = forward(model, batch)
    assert out.shape == (2, 5) and torch.isfinite(out).all()
    assert set(model.inputs) <= set(batch)


# recipes for the toy: a few hundred steps at most, on two cores
TOY_TRAIN = {"ststnet": dict(epochs=60, lr=1e-2), "off_apexnet": dict(epochs=15, lr=1e-3),
             "dual_inception": dict(epochs=15, lr=1e-3), "sssnet": dict(epochs=20, lr=1e-3),
             "htnet": dict(epochs=20, lr=1e-3), "bi_woof": {}}


@pytest.mark.parametrize("name", sorted(TOY_TRAIN))
def test_each_architecture_learns_a_separable_toy_through_the_fold_recipe(name):
    data = toy_data()
    cfg = config_class(name)(num_classes=3, **SMALL.get(name, {}))
    train = TrainConfig(optimizer="adam", loss="ce", batch=8, weight_decay=0.0, device="cpu", seed=0,
                        **TOY_TRAIN[name])
    result = fit_fold("toy_s0", data, cfg, train, progress=False)
    test = result.split.test
    assert len(test) and not set(test) & set(result.split.train)
    accuracy = float((result.probs.argmax(1) == data.labels[test]).mean())
    assert accuracy >= 0.8, (name, accuracy)
    np.testing.assert_allclose(result.probs.sum(1), 1.0, atol=1e-5)


def test_a_fold_is_the_same_twice(tmp_path):
    data = toy_data()
    cfg = config_class("ststnet")(num_classes=3)
    train = TrainConfig(optimizer="adam", loss="ce", batch=8, epochs=3, lr=1e-2, device="cpu")
    a = fit_fold("toy_s1", data, cfg, train, progress=False)
    b = fit_fold("toy_s1", data, cfg, train, progress=False)
    assert np.array_equal(a.probs, b.probs)


def test_bi_woof_descriptor_on_known_flow_fields():
    n = 25
    spans = block_spans(n, 5)
    assert spans == [(0, 6), (4, 11), (9, 16), (14, 21), (19, 25)]  # biwoof.m's spans: neighbours share 2 px
    ones = np.ones((n, n))
    for (u, v), bin_ in (((1, 0), 4), ((0, 1), 6), ((-1, 0), 7), ((0, -1), 2), ((1, 1), 5)):
        vec = descriptor(np.stack([u * ones, v * ones, ones]), grid=5, bins=8).reshape(5, 5, 8)
        assert np.isclose(np.linalg.norm(vec), 1.0)
        assert np.count_nonzero(vec[..., [b for b in range(8) if b != bin_]]) == 0
        # global weight: each block's strain sum, its pixel count here
        area = np.array([[(y1 - y0) * (x1 - x0) for x0, x1 in spans] for y0, y1 in spans], dtype=float)
        np.testing.assert_allclose(vec[..., bin_], area / np.linalg.norm(area))
    # local weighting: within a block, bins hold the magnitude each direction carries, normalised to sum 1
    u = np.zeros((n, n))
    v = np.zeros((n, n))
    u[:3, :6], v[3:6, :6] = 3.0, 1.0  # block (0, 0): 18 px moving right with speed 3, 18 px moving down (v > 0) with 1
    vec = descriptor(np.stack([u, v, ones]), grid=5, bins=8).reshape(5, 5, 8)
    first = vec[0, 0] / vec[0, 0].sum()
    np.testing.assert_allclose(first[[4, 6]], [0.75, 0.25])
    # no strain in a block: that block contributes nothing
    strain = ones.copy()
    strain[:6, :6] = 0
    vec = descriptor(np.stack([ones, 0 * ones, strain]), grid=5, bins=8).reshape(5, 5, 8)
    assert not vec[0, 0].any() and vec[2, 2].any()


def test_bi_woof_model_is_plain_arrays(tmp_path):
    data = toy_data()
    result = fit_fold("toy_s0", data, BiWOOFConfig(), TrainConfig(), progress=False)
    assert save_model(tmp_path, result.model) == "model.npz"
    with np.load(tmp_path / "model.npz", allow_pickle=False) as z:  # nothing in it needs unpickling
        assert set(z.files) == {"coef", "intercept", "config"}
    again = BiWOOF(BiWOOFConfig()).load(tmp_path / "model.npz")
    flow = torch.from_numpy(data.flow[:5])
    assert torch.equal(again(flow), result.model(flow))
    with pytest.raises(DatasetError, match="another configuration"):
        BiWOOF(BiWOOFConfig(grid=4)).load(tmp_path / "model.npz")
    (tmp_path / "bad.npz").write_bytes(b"not arrays")
    with pytest.raises(DatasetError, match="bad.npz: not a Bi-WOOF model"):
        BiWOOF(BiWOOFConfig()).load(tmp_path / "bad.npz")


def test_htnet_regions_are_cut_around_the_landmarks():
    flow = torch.zeros(1, 3, 28, 28)
    flow[0, 0] = torch.arange(28.0)[None, :]   # u = x
    flow[0, 1] = torch.arange(28.0)[:, None]   # v = y
    lm = torch.from_numpy(canonical_landmarks(56, 1))  # a 56-px face: centres halve on the 28-px map
    centres = region_centres(lm, 56, 28, 14)
    assert centres.tolist() == [[[8, 10], [10, 21], [20, 10], [18, 21]]]  # rounded, clamped to [7, 21]
    img = regions_image(flow, centres, 14)
    assert img.shape == (1, 3, 28, 28)
    # top-left = left eye region: x from 8 − 7, y from 10 − 7; bottom-right = right mouth corner
    assert img[0, 0, 0, 0] == 1 and img[0, 1, 0, 0] == 3
    assert img[0, 0, 14, 14] == 18 - 7 and img[0, 1, 14, 14] == 21 - 7


def test_hde_split_never_trains_on_the_held_out_dataset():
    datasets = ["casme2"] * 4 + ["samm"] * 3 + ["smic"] * 2
    subjects = ["01", "01", "02", "03", "006", "007", "007", "s1", "s2"]
    assert fold_names(datasets, subjects, "hde") == ["casme2", "samm", "smic"]
    n = len(datasets)
    data = FoldData(train_images=np.zeros((n, 1, 4, 4, 3), np.uint8), eval_images=np.zeros((n, 4, 4, 3), np.uint8),
                    flow=np.zeros((n, 3, 4, 4), np.float32), labels=np.zeros(n, np.int64),
                    folds=[f"{d}_{s}" for d, s in zip(datasets, subjects)], sample_ids=[str(i) for i in range(n)],
                    datasets=datasets, subjects=subjects, classes=["a"])
    for fold in ("casme2", "samm", "smic"):
        s = split_fold(fold, data, TrainConfig(val_subjects=1), np.random.default_rng(0))
        assert {datasets[i] for i in s.test} == {fold} and len(s.test) == datasets.count(fold)
        assert fold not in {datasets[i] for i in np.concatenate([s.train, s.val])}
    # a LOSO fold holds out one subject, even where a subject shares its name across datasets
    assert held_out("samm_007", datasets, subjects).tolist() == [False] * 5 + [True, True, False, False]


def test_model_arch_and_baselines_sections_are_checked(tmp_path):
    p = Params({"model": {"arch": "ststnet"}, "baselines": {"ststnet": {"input_size": 20}}})
    cfg = model_config(p, num_classes=4)
    assert type(cfg).__name__ == "STSTNetConfig" and cfg.input_size == 20 and cfg.num_classes == 4
    assert model_config(Params({}), 3).__class__.__name__ == "MFDANConfig"
    with pytest.raises(ValueError, match=r"model.arch: unknown architecture 'resnet'"):
        model_config(Params({"model": {"arch": "resnet"}}), 3)
    with pytest.raises(ValueError, match=r"baselines.ststnet: unknown key\(s\) \['widht'\]"):
        Params({"baselines": {"ststnet": {"widht": 3}}}).section("baselines")
    with pytest.raises(ValueError, match=r"baselines.htnet.dim: must be ≥ 1"):
        Params({"baselines": {"htnet": {"dim": 0}}}).section("baselines")
    with pytest.raises(ValueError, match="baselines: unknown key"):
        Params({"baselines": {"resnet": {}}}).section("baselines")


def test_cache_checks_are_per_architecture(tmp_path):
    ststnet = config_class("ststnet")(num_classes=3)
    check_sizes(ststnet, frames=64, flow=64, has_landmarks=False, source=tmp_path)  # resized down in the model
    with pytest.raises(DatasetError, match="smaller than ststnet's input_size 28"):
        check_sizes(ststnet, frames=64, flow=16, has_landmarks=False, source=tmp_path)
    with pytest.raises(DatasetError, match="do not match model.img_size 224"):
        check_sizes(config_class("mfdan")(), frames=64, flow=64, has_landmarks=True, source=tmp_path)
    with pytest.raises(DatasetError, match="htnet reads facial landmarks"):
        check_sizes(HTNetConfig(), frames=64, flow=64, has_landmarks=False, source=tmp_path)


def test_models_command_lists_every_architecture():
    from typer.testing import CliRunner

    from mfdan.cli import app

    res = CliRunner().invoke(app, ["models", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["name"] for r in rows] == list(ARCHITECTURES)
    text = CliRunner().invoke(app, ["models"]).output
    assert "139,582,982" in text and "Liong" in text


def test_a_fold_needs_two_classes_to_train_on_and_htnet_one_size(tmp_path):
    from mfdan.train.fold_data import check_fold

    data = toy_data()
    data.labels[:] = np.where(np.array(data.subjects) == "s0", 0, 1)  # every other subject is class 1
    check_fold("toy_s1", data, tmp_path)
    data.labels[:] = np.where(np.array(data.subjects) == "s0", 1, 0)
    data.labels[np.array(data.subjects) != "s0"] = 2
    with pytest.raises(DatasetError, match="leaves 1 class"):
        check_fold("toy_s0", data, tmp_path)
    with pytest.raises(DatasetError, match="leaves 0 class"):  # HDE holding out the only dataset
        check_fold("toy", data, tmp_path)
    with pytest.raises(DatasetError, match="align.output_size .64. and flow.output_size .48. must be equal"):
        check_sizes(HTNetConfig(dim=8, block_repeats=(1, 1, 1)), frames=64, flow=48, has_landmarks=True,
                    source=tmp_path)
    with pytest.raises(ValueError, match="must be even"):
        HTNetConfig(input_size=14, region=7, block_repeats=(1,))


def test_recipe_lists_pass_through_dvc_set_args_unsplit():
    from mfdan.core.params import dvc_set_args

    args = dvc_set_args({"baselines.htnet.block_repeats": [2, 2, 10], "train.lr": 5e-5})
    assert args == ["-S", "++baselines.htnet.block_repeats=[2,2,10]", "-S", "++train.lr=5.0e-05"]
    assert " ".join(args).split() == args  # what `dvc exp run $(mfdan recipe FILE)` receives
    with pytest.raises(ValueError, match="holds a space"):
        dvc_set_args({"synth.faces": "two words"})

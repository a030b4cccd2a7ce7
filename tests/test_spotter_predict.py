"""The learned spotter in `mfdan predict` (issue 47 item 2) and what a model knows (item 3): the long pipeline's
stages (features@ -> spot -> train_spotter) run as library calls on generated recordings, the spotter folder and
its card, predict spotting with it exactly as the pipeline's stored features would, the choice of spotter, and
each dataset's source (generated or real) as the cards record it."""
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mfdan.cli import app
from mfdan.core.errors import DatasetError
from mfdan.core.params import Params
from mfdan.predict.long_recording import frame_files
from mfdan.data.provenance import dataset_source, knowledge, overall
from mfdan.spotting import features_stage, softnet, spot_stage, train_spotter_stage
from mfdan.spotting.faces import track
from mfdan.spotting.features import compute_features
from mfdan.spotting.features_file import load
from mfdan.spotting.spotter_folder import CARD, WEIGHTS, has_spotter, load_spotter
from mfdan.spotting.video_frames import video_stream
from mfdan.synth.long_videos import encode_video, synthesize_long
from mfdan.train.train_final_stage import datasets_trained_on
from tests.test_predict import make_model_dir
from tests.test_spotting import NET, SYN


@pytest.fixture(scope="module")
def long_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("long_spotter") / "raw"
    synthesize_long(root, SYN)
    return root


@pytest.fixture(scope="module")
def stages(long_root, tmp_path_factory) -> Path:
    """``features@samm_lv`` -> ``spot`` -> ``train_spotter`` as long/dvc.yaml runs them, into one folder."""
    out = tmp_path_factory.mktemp("long_stages")
    params = Params({"spot": {"workers": 1}, "softnet": asdict(NET),
                     "long_data": {"roots": {"samm_lv": str(long_root / "samm_lv")}, "fps": {"samm_lv": 30}}})
    feats = out / "features" / "samm_lv.h5"
    features_stage.run(params=params, dataset="samm_lv", out=feats)
    spot_stage.run(params=params, features=[feats], out=out / "spots.json", curves_out=out / "curves.h5",
                   loso_out=out / "softnet_loso.json")
    train_spotter_stage.run(params=params, features=[feats], loso=out / "softnet_loso.json", out=out / "spotter")
    return out


def test_the_final_spotter_and_its_card(stages, long_root, tmp_path):
    card = json.loads((stages / "spotter" / CARD).read_text())
    plan = json.loads((long_root / "samm_lv" / "synth_manifest.json").read_text())["recordings"]
    micro = sum(e["kind"] == "micro" for r in plan for e in r["events"])
    d = card["trained_on"]["datasets"]["samm_lv"]
    assert card["format"] == "mfdan-spotter/1" and card["spotter"] == "softnet"
    assert card["trained_on"]["source"] == "generated" and d["source"] == "generated"
    assert (d["recordings"], d["subjects"], d["micro"], d["fps"]) == (len(plan), SYN.subjects, micro, [30.0])
    assert d["frames"] == sum(r["frames"] for r in plan) and d["faces"] == list(SYN.faces)
    assert card["params"]["softnet"] == json.loads(json.dumps(asdict(NET)))
    assert "p_micro" not in card["params"]["spot"]        # the training-free spotter's threshold is not its own
    loso = json.loads((stages / "softnet_loso.json").read_text())
    assert card["loso_reference"] == loso
    # LOSO scores are spot's own proposals against the truth: every true micro interval is a hit or a miss
    assert loso["overall"]["micro"]["tp"] + loso["overall"]["micro"]["fn"] == micro
    assert loso["samm_lv"] == loso["overall"] and "strs" not in loso["overall"]["micro"]
    # the training-free spotter's threshold rewrites spots.json, never the file train_spotter depends on
    other = tmp_path / "p_micro"
    other.mkdir()
    params = Params({"spot": {"workers": 1, "p_micro": 0.6}, "softnet": asdict(NET)})
    spot_stage.run(params=params, features=[stages / "features" / "samm_lv.h5"], out=other / "spots.json",
                   curves_out=other / "curves.h5", loso_out=other / "softnet_loso.json")
    assert (other / "softnet_loso.json").read_bytes() == (stages / "softnet_loso.json").read_bytes()
    assert (other / "spots.json").read_bytes() != (stages / "spots.json").read_bytes()
    # the same recipe on the same features gives the same networks (the seeds are fixed)
    recs = [softnet.Recording(v.key, v.subject, f, list(v.intervals)) for v, f in load(stages / "features" / "samm_lv.h5")]
    again = softnet.final_models(recs, NET)
    spotter = load_spotter(stages / "spotter")
    for kind, model in again.items():
        for name, t in model.state_dict().items():
            assert torch.equal(t, spotter.models[kind].state_dict()[name]), (kind, name)
    assert spotter.knowledge.source == "generated" and "generated data" in spotter.knowledge.note

    # a damaged folder is one error naming the file
    bad = tmp_path / "bad"
    shutil.copytree(stages / "spotter", bad)
    data = bytearray((bad / WEIGHTS["micro"]).read_bytes())
    data[-3] ^= 0xFF
    (bad / WEIGHTS["micro"]).write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="SHA-256") as err:
        load_spotter(bad)
    assert WEIGHTS["micro"] in str(err.value)
    (bad / CARD).write_text(json.dumps({**card, "format": "mfdan-final/2"}))
    with pytest.raises(DatasetError, match="not an mfdan spotter card"):
        load_spotter(bad)
    assert not has_spotter(tmp_path / "none")


def _rows(res) -> list[dict]:
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


def test_predict_spots_with_the_learned_spotter_as_the_pipeline_would(stages, long_root, tmp_path):
    """--spotter-model DIR (auto): SOFTNet's intervals, each answer naming it; the same intervals the pipeline's way
    (inputs stored, then scored: softnet.score) gives on the decoded frames. --spotter lbp: the training-free one."""
    model = make_model_dir(tmp_path / "final")
    files = frame_files(long_root / "casme_sq" / "rawpic" / "s15" / "15_0101disgustingteeth")
    video = encode_video(files, tmp_path / "rec.avi", 30)
    res = CliRunner().invoke(app, ["predict", "--model", str(model), str(video), "--json", "--min-margin", "0",
                                   "--spotter-model", str(stages / "spotter")])
    assert res.exit_code == 0, res.output
    rows = _rows(res)
    assert rows and all(r["spotter"] == "softnet" and r["spotter_trained_on"] == "generated" for r in rows)
    assert res.stderr.count("the learned spotter") == 1 and "generated data" in res.stderr

    spotter = load_spotter(stages / "spotter")
    feat = compute_features(track(video_stream(video), spotter.spot), None, 30.0, spotter.spot, spotter.net)
    curves = {k: softnet.smooth(softnet.score(spotter.models[k], feat, k), feat.ks[k]) for k in spotter.models}
    expected = [(iv.onset, iv.apex, iv.offset) for iv in softnet.spot(curves, feat, spotter.spot, spotter.net)
                if iv.kind == "micro" and iv.apex != iv.onset]
    assert [(r["onset"], r["apex"], r["offset"]) for r in rows] == expected

    text = CliRunner().invoke(app, ["predict", "--model", str(model), str(video), "--spotter", "lbp",
                                    "--spotter-model", str(stages / "spotter")])
    assert text.exit_code == 2 and "--spotter lbp" in text.stderr          # a spotter folder with lbp: contradictory
    lbp = CliRunner().invoke(app, ["predict", "--model", str(model), str(video), "--spotter", "lbp", "--json"])
    assert lbp.exit_code == 0 and all(r["spotter"] == "feature_difference" for r in _rows(lbp)), lbp.output
    assert "learned spotter" not in lbp.stderr and all("spotter_trained_on" not in r for r in _rows(lbp))
    table = CliRunner().invoke(app, ["predict", "--model", str(model), str(video), "--spotter-model",
                                     str(stages / "spotter")])
    spotted = [line for line in table.stdout.splitlines() if "interval spotted" in line]
    assert len(spotted) == len(rows) and all("interval spotted by softnet" in line for line in spotted)


def test_asking_for_a_spotter_that_is_not_there(tmp_path, long_root):
    model = make_model_dir(tmp_path / "final")
    files = frame_files(long_root / "casme_sq" / "rawpic" / "s15" / "15_0101disgustingteeth")[:60]
    video = encode_video(files, tmp_path / "rec.avi", 30)
    missing = tmp_path / "no_spotter"
    res = CliRunner().invoke(app, ["predict", "--model", str(model), str(video), "--spotter", "softnet",
                                   "--spotter-model", str(missing)])
    assert res.exit_code == 2 and str(missing) in res.stderr and "no learned spotter" in res.stderr
    assert res.stdout == ""                                                 # nothing ran
    res = CliRunner().invoke(app, ["predict", "--model", str(model), str(video), "--spotter-model", str(missing),
                                   "--json"])
    assert res.exit_code == 0, res.output
    assert "training-free LBP spotter" in res.stderr and str(missing) in res.stderr
    assert all(r["spotter"] == "feature_difference" for r in _rows(res))


def test_generated_or_real_as_the_cards_record_it(synth_root, tmp_path):
    plans = [line.split() for line in (synth_root.parent / "plans.txt").read_text().splitlines()]
    items = {(s, x) for layout, s, x in plans if layout == "casme2"}
    got = dataset_source(synth_root / "casme2", "casme2", items)
    assert got == {"source": "generated", "faces": ["astronaut"]}
    real = tmp_path / "real"
    shutil.copytree(synth_root / "casme2", real)
    (real / "synth_manifest.json").unlink()
    assert dataset_source(real, "casme2", items) == {"source": "real"}
    edited = dataset_source(synth_root / "casme2", "casme2", items | {("sub99", "EP99_01")})
    assert edited["source"] == "unknown" and "sub99" in edited["why"]
    # a manifest of another layout does not make a dataset generated; a root below the manifest's finds it
    assert dataset_source(synth_root / "casme2", "samm", items)["source"] == "real"
    assert dataset_source(synth_root / "smic" / "HS", "smic",
                          {(s, x) for layout, s, x in plans if layout == "smic"})["source"] == "generated"
    # what train_final writes, from the cache's columns and data.roots
    rows = [(layout, s, x) for layout, s, x in plans if layout in ("casme2", "samm")]
    data = SimpleNamespace(datasets=[r[0] for r in rows], subjects=[r[1] for r in rows], sample_ids=[r[2] for r in rows])
    ds = datasets_trained_on(data, {"casme2": str(synth_root / "casme2"), "samm": str(real)})
    assert ds["casme2"]["clips"] == sum(r[0] == "casme2" for r in rows) and ds["casme2"]["subjects"] == 2
    assert (ds["casme2"]["source"], ds["samm"]["source"], overall(ds)) == ("generated", "real", "mixed")
    k = knowledge({"trained_on": {"source": overall(ds), "datasets": ds}}, "m", what="the recognition model", unit="clip")
    assert k.source == "mixed" and k.items == len(rows) and "partly (casme2 of casme2, samm)" in k.note
    assert knowledge({"trained_on": {"samples": 69}}, "m", what="x", unit="clip").source == "unknown"


def test_streamed_scores_equal_stored_ones(stages):
    """StreamScorer (predict: inputs scored as they are computed, none kept) gives softnet.score's curves."""
    spotter = load_spotter(stages / "spotter")
    video, feat = load(stages / "features" / "samm_lv.h5")[0]
    scorer = softnet.StreamScorer(spotter.models)
    for kind in spotter.models:
        for i in np.flatnonzero(feat.valid[kind]):
            scorer.add(kind, int(i), feat.flow[kind][i])
    streamed = scorer.curves(feat)
    for kind, model in spotter.models.items():
        stored = softnet.smooth(softnet.score(model, feat, kind), feat.ks[kind])
        np.testing.assert_allclose(streamed[kind], stored, rtol=1e-6, equal_nan=True)
        assert np.isfinite(stored).sum() > 0

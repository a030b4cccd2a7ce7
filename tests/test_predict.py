"""`mfdan predict`: the three input forms, the JSON shape, Grad-CAM overlays, and one clear error per bad input
while the other inputs still get answers. The model folder here is a small untrained MFDAN written with the
same helper `train_final` uses (the equality with the pipeline's own probabilities is in the e2e test)."""
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mfdan.cli import app
from mfdan.magnify.magnification import MagnifyConfig
from mfdan.model.network import MFDAN, MFDANConfig
from mfdan.core.errors import DatasetError
from mfdan.predict.inputs import clip_folder, natural_key, video
from mfdan.spotting.video_frames import video_stream
from mfdan.predict.card_file import CARD
from mfdan.predict.model_card import load_final
from mfdan.train.model_folder import write_model_dir
from mfdan.preprocess.alignment import AlignConfig
from mfdan.preprocess.optical_flow import FlowConfig
from mfdan.train.loop import TrainConfig

CLASSES = ["negative", "positive", "surprise"]
SIZE = 64


def small_model_cfg(num_classes: int = 3, img_size: int = SIZE) -> MFDANConfig:
    return MFDANConfig(img_size=img_size, patch_size=4, embed_dim=16, merge_dims=(16, 16, 16), heads=(2, 2), window=8,
                       flow_encoder_input=16, flow_encoder_channels=(4, 8), flow_encoder_kernels=(5, 5),
                       flow_encoder_strides=(1, 1), flow_encoder_paddings=(2, 2), flow_encoder_pool=(2, 2),
                       flow_encoder_dim=8, num_classes=num_classes)


#: what a card written today says its model was trained on (mfdan.data.provenance); "real" says nothing on stderr
TRAINED_ON = {"source": "real", "datasets": {"casme2": {"clips": 6, "subjects": 2, "source": "real"}}}


def make_model_dir(out: Path, *, classes=CLASSES, weights_cfg: MFDANConfig | None = None) -> Path:
    cfg = small_model_cfg(len(classes))
    torch.manual_seed(0)
    model = MFDAN(weights_cfg or cfg)
    params = {"dropkey": 0.3, "model": asdict(cfg), "train": asdict(TrainConfig()),
              "align": asdict(AlignConfig(output_size=SIZE, workers=1)),
              "flow": asdict(FlowConfig(output_size=SIZE, workers=1)),
              "magnify": asdict(MagnifyConfig(method="linear")),
              "data": {"apex": "annotated", "apex_fallback": "middle", "apex_flow": "farneback"}}
    write_model_dir(out, model, {"classes": list(classes), "trained_on": TRAINED_ON, "params": params}, None)
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("final") / "final")


@pytest.fixture(scope="module")
def clip_dir(synth_root) -> Path:
    """A generated CASME II clip folder (compact frames; the face is found in each)."""
    return sorted(p for p in (synth_root / "casme2").glob("sub*/*") if p.is_dir())[0]


def invoke(*args: str):
    return CliRunner().invoke(app, ["predict", *map(str, args)])


def test_natural_order():
    names = ["img10.jpg", "img2.jpg", "img1.jpg", "IMG3.jpg"]
    assert sorted(names, key=natural_key) == ["img1.jpg", "img2.jpg", "IMG3.jpg", "img10.jpg"]


def test_two_frames_json_shape(model_dir, clip_dir):
    frames = sorted(clip_dir.iterdir(), key=lambda p: natural_key(p.name))
    res = invoke("--model", model_dir, "--onset", frames[0], "--apex", frames[2], "--json")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout.strip())
    assert list(rec) == ["input", "label", "probabilities", "margin", "unsure", "onset", "apex", "trained_on"]
    assert rec["input"] == str(frames[0]) and rec["onset"] == str(frames[0]) and rec["apex"] == str(frames[2])
    assert list(rec["probabilities"]) == CLASSES and rec["label"] in CLASSES
    assert sum(rec["probabilities"].values()) == pytest.approx(1, abs=1e-6)
    assert rec["label"] == max(rec["probabilities"], key=rec["probabilities"].get)
    top = sorted(rec["probabilities"].values())
    assert rec["margin"] == pytest.approx(top[-1] - top[-2], abs=1e-6) and rec["unsure"] == (rec["margin"] < 0.1)
    assert rec["trained_on"] == "real"


def test_the_library_run_gives_the_commands_answers(model_dir, clip_dir, tmp_path):
    """mfdan.predict.run (what the command wraps) answers per input, in order, errors included; the command's
    JSON and text rows are those answers rendered (the text row says what was spotted)."""
    from mfdan.predict.render import Renderer
    from mfdan.predict.run import PredictionRun, Request, UsageError

    missing = tmp_path / "missing"
    with PredictionRun(Request(inputs=[clip_dir, missing], model_dir=model_dir)) as run:
        outcomes = list(run)
        classes = run.classes
    assert [o.input for o in outcomes] == [str(clip_dir), str(missing)]
    assert len(outcomes[0].answers) == 1 and outcomes[0].error is None
    assert outcomes[1].answers == [] and str(missing) in outcomes[1].error
    answer = outcomes[0].answers[0]
    res = invoke("--model", model_dir, clip_dir, "--json")
    assert json.loads(res.stdout) == json.loads(Renderer(classes, as_json=True).lines(answer)[0])
    text = invoke("--model", model_dir, clip_dir, "--min-margin", "0").stdout.splitlines()
    assert text[0].split()[:2] == ["input", "label"] and text[1].endswith("(apex spotted)")
    assert text[0].split()[-4] == "margin" and float(text[1].split()[2 + len(classes)]) == pytest.approx(
        answer.margin, abs=1e-4)
    assert text[1].split()[1] == answer.label
    with pytest.raises(UsageError, match="exclude each other"):
        PredictionRun(Request(inputs=[clip_dir], model_dir=model_dir, spot=True, whole=True))


def test_clip_folder_spots_the_apex_and_video_agrees(model_dir, clip_dir, tmp_path, synth_root):
    """A clip folder without --apex: the apex is spotted (flow_peak) near the generator's apex; the same frames
    as an MJPG video give the same onset/apex (decoding is lossy, so probabilities may differ slightly)."""
    plan = json.loads((synth_root / "casme2" / "synth_manifest.json").read_text())["samples"]
    row = next(s for s in plan if s["sample"] == clip_dir.name and s["subject"] == clip_dir.parent.name)
    res = invoke("--model", model_dir, clip_dir, "--json")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout.strip())
    assert rec["onset"] == 0 and abs(rec["apex"] - (row["apex"] - row["onset"])) <= 1
    frames = [cv2.imread(str(p)) for p in sorted(clip_dir.iterdir(), key=lambda p: natural_key(p.name))]
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, frames[0].shape[1::-1])
    for f in frames:
        writer.write(f)
    writer.release()
    res = invoke("--model", model_dir, path, "--json", "--apex", rec["apex"])
    assert res.exit_code == 0, res.output
    vid = json.loads(res.stdout.strip())
    assert (vid["onset"], vid["apex"]) == (0, rec["apex"]) and vid["input"] == str(path)


def test_table_timings_and_cam(model_dir, clip_dir, tmp_path):
    res = invoke("--model", model_dir, clip_dir, clip_dir, "--cam", tmp_path / "cams", "--timings")
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["input", "label"] and "p(surprise)" in lines[0]
    assert sum(1 for line in lines if line.startswith(str(clip_dir))) == 2
    timing = [line.split("seconds: ")[1] for line in lines if "seconds: " in line]
    assert len(timing) == 2 and "flow" in timing[0] and "cam" in timing[0]
    # start-up (imports, then the model folder and dlib's models) is its own part, once, with the first input
    assert timing[0].startswith("import ") and ", load " in timing[0] and timing[1].startswith("read ")
    pngs = sorted(p.name for p in (tmp_path / "cams").iterdir())
    # one overlay per input, never overwritten, and beside each the magnified apex's panel
    assert pngs == [f"{clip_dir.name}.png", f"{clip_dir.name}_2.png", f"{clip_dir.name}_2_magnified.png",
                    f"{clip_dir.name}_magnified.png"]
    img = cv2.imread(str(tmp_path / "cams" / pngs[0]))
    assert img.shape == (SIZE, SIZE, 3)
    from mfdan.core.pictures import CAPTION
    from mfdan.magnify.quality import FIGURE_PARTS

    panel = cv2.imread(str(tmp_path / "cams" / f"{clip_dir.name}_magnified.png"))
    assert panel.shape == (2 * CAPTION + 4 + CAPTION + 128, 128 * len(FIGURE_PARTS), 3)
    tiles = panel[-128:].reshape(128, len(FIGURE_PARTS), 128, 3).transpose(1, 0, 2, 3)
    # the card's magnifier is linear here: the motion it added per unit of factor is the true change
    assert np.abs(tiles[5].astype(int) - tiles[4].astype(int)).mean() < 2 and tiles[4].mean() > 0


def test_bad_inputs_are_named_and_the_others_answered(model_dir, clip_dir, tmp_path):
    grey = tmp_path / "noface"
    grey.mkdir()
    for i in range(3):
        cv2.imwrite(str(grey / f"f{i}.png"), np.full((120, 120, 3), 128, np.uint8))
    single = tmp_path / "single"
    single.mkdir()
    cv2.imwrite(str(single / "f0.png"), np.full((120, 120, 3), 128, np.uint8))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 10)
    res = invoke("--model", model_dir, grey, clip_dir, single, broken, "--json")
    assert res.exit_code == 1
    answered = [json.loads(line) for line in res.stdout.strip().splitlines()]
    assert [a["input"] for a in answered] == [str(clip_dir)]
    err = res.stderr
    assert f"{grey / 'f0.png'}: dlib found no face" in err
    assert f"{single}: 1 frame: a clip needs at least 2" in err
    assert f"{broken}: OpenCV" in err
    assert "3 of 4 inputs failed" in err

    res = invoke("--model", model_dir, clip_dir, "--apex", 99)
    assert res.exit_code == 1 and f"{clip_dir}: apex index 99 is out of range" in res.stderr
    res = invoke("--model", model_dir, clip_dir, "--apex", "frame.jpg")
    assert res.exit_code == 2 and "frame index" in res.stderr
    res = invoke("--model", model_dir)
    assert res.exit_code == 2 and "--onset FILE --apex FILE" in res.stderr


def test_a_folder_that_is_not_a_model(tmp_path, clip_dir):
    (tmp_path / "empty").mkdir()
    res = invoke("--model", tmp_path / "empty", clip_dir)
    assert res.exit_code == 2 and f"{tmp_path / 'empty' / CARD}: not an MFDAN model folder" in res.stderr
    # a card whose classes the weights do not have (trained with another class set)
    other = make_model_dir(tmp_path / "other", classes=["a", "b"], weights_cfg=small_model_cfg(3))
    res = invoke("--model", other, clip_dir)
    assert res.exit_code == 2 and f"{other / 'model.pt'}: weights do not fit" in res.stderr
    # preprocessing at another image size than the network's
    other = make_model_dir(tmp_path / "size")
    card = json.loads((other / CARD).read_text())
    card["params"]["align"]["output_size"] = 96
    (other / CARD).write_text(json.dumps(card))
    with pytest.raises(ValueError, match=r"card.json: .*align.output_size.: 96.* do not match model.img_size 64"):
        load_final(other)
    card["format"] = "something-else"
    (other / CARD).write_text(json.dumps(card))
    with pytest.raises(ValueError, match="not an MFDAN model card"):
        load_final(other)


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, frames[0].shape[1::-1])
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def numbered_frames(n: int, size: int = 32) -> list[np.ndarray]:
    """Frame ``i`` is flat grey level 20·i (so a decoded frame tells which it was)."""
    return [np.full((size, size, 3), 20 * i, np.uint8) for i in range(n)]


def test_only_the_frames_used_are_read(tmp_path):
    """With --apex only the onset and the apex are decoded (an unreadable frame elsewhere does not matter);
    without it, the onset to the last frame; a video's frames keep their indices."""
    folder = tmp_path / "clip"
    folder.mkdir()
    for i, f in enumerate(numbered_frames(6)):
        cv2.imwrite(str(folder / f"img{i + 1}.png"), f)
    (folder / "img4.png").write_bytes(b"damaged")
    clip = clip_folder(folder, onset=1, apex=4)
    assert sorted(clip.frames) == [1, 4] and clip.frames[4][0, 0, 0] == 80
    assert clip.names == {1: str(folder / "img2.png"), 4: str(folder / "img5.png")}
    with pytest.raises(DatasetError, match="img4.png"):
        clip_folder(folder, onset=1)          # spotting reads the damaged frame: named
    clip = clip_folder(folder, onset=4)
    assert sorted(clip.frames) == [4, 5]

    path = write_video(tmp_path / "v.avi", numbered_frames(6))
    clip = video(path, onset=2, apex=3)
    assert sorted(clip.frames) == [2, 3] and abs(int(clip.frames[3][0, 0, 0]) - 60) <= 3
    assert sorted(video(path, onset=3).frames) == [3, 4, 5]
    with pytest.raises(DatasetError, match=r"apex index 9 is out of range: the clip has 6 frames"):
        video(path, onset=0, apex=9)
    with pytest.raises(DatasetError, match="equals the onset"):
        video(path, onset=2, apex=2)
    with pytest.raises(DatasetError, match="onset index 5 is the last frame"):
        clip_folder(folder, onset=5)


def test_spotted_apex_is_a_frame_number_of_the_clip(model_dir, clip_dir):
    """Without an apex, the spotted apex is reported as the frame's own number and that frame is the one used,
    also when the frames read start after 0 and skip numbers: the same clip with that apex given agrees."""
    from mfdan.predict.inputs import Clip, clip_folder
    from mfdan.predict.predictor import predict_clip

    full = clip_folder(clip_dir)
    numbers = [1, 3, 4]  # onset 1, frame 2 missing
    assert all(i in full.frames for i in numbers), sorted(full.frames)
    kept = {i: full.frames[i] for i in numbers}
    fm = load_final(model_dir)
    spotted = predict_clip(fm, Clip(source="gappy", frames=kept, onset=1, apex=None,
                                    names={i: full.names[i] for i in numbers}), align_as="casme2")
    assert spotted.apex_source == "flow_peak" and spotted.apex in numbers[1:]
    given = predict_clip(fm, Clip(source="gappy", frames={1: kept[1], spotted.apex: kept[spotted.apex]}, onset=1,
                                  apex=spotted.apex, names={i: full.names[i] for i in (1, spotted.apex)}),
                         align_as="casme2")
    assert given.probabilities == pytest.approx(spotted.probabilities, abs=1e-6)


def test_the_command_prepares_in_a_forked_process_with_the_same_answers(model_dir, clip_dir, tmp_path):
    """`mfdan predict` as a user starts it forks before PyTorch is imported: a child loads dlib and prepares the
    clip inputs while the command imports PyTorch (mfdan/predict/prepare.py). Its answers, errors and exit
    status equal the in-process path's (a CliRunner call, PyTorch already imported, runs everything in one
    process) byte for byte; --timings reports dlib's load as its own part. A card the child cannot read leaves
    the preparing to the command, which names the problem as before."""
    import shutil
    import subprocess
    import sys

    frames = sorted(clip_dir.iterdir(), key=lambda p: natural_key(p.name))
    grey = tmp_path / "noface"
    grey.mkdir()
    for i in range(3):
        cv2.imwrite(str(grey / f"f{i}.png"), np.full((120, 120, 3), 128, np.uint8))
    cases = [["--onset", frames[0], "--apex", frames[2], "--json"],
             [clip_dir, grey, clip_dir, "--onset", 0, "--json"],       # the apex spotted; a failure in between
             [clip_dir, "--timings"]]
    mfdan = Path(sys.executable).parent / "mfdan"
    for args in cases:
        args = ["--model", model_dir, *args]
        here = invoke(*args)
        cmd = subprocess.run([str(mfdan), "predict", *map(str, args)], capture_output=True, text=True, timeout=300)
        assert cmd.returncode == here.exit_code, cmd.stderr
        if "--timings" in args:
            first = [line for line in cmd.stdout.splitlines() if "seconds: " in line][0]
            assert ", load " in first and ", dlib " in first and ", align " in first
            assert [line for line in cmd.stdout.splitlines() if "seconds: " not in line] == \
                [line for line in here.stdout.splitlines() if "seconds: " not in line]
        else:
            assert cmd.stdout == here.stdout

            def errors(text: str) -> list[str]:  # the progress lines carry seconds
                return [line for line in text.splitlines() if "error" in line or "failed" in line]
            assert errors(cmd.stderr) == errors(here.stderr)
            assert (grey in args) == bool(errors(cmd.stderr)) == (cmd.returncode == 1)
    assert cmd.returncode == 0
    broken = tmp_path / "broken-model"
    shutil.copytree(model_dir, broken)
    (broken / "card.json").write_text("{not json")
    args = ["--model", broken, "--onset", frames[0], "--apex", frames[2]]
    here, cmd = invoke(*args), subprocess.run([str(mfdan), "predict", *map(str, args)], capture_output=True, text=True)
    assert cmd.returncode == here.exit_code == 2 and "card.json: model card is not valid JSON" in cmd.stderr
    assert cmd.stderr.strip() == here.stderr.strip()


def test_what_prepare_repeats_of_the_registry():
    """prepare.py reads the card without PyTorch (mfdan.predict.card_file), so it keeps its own list of the
    architectures that read landmarks: it must equal the registry's."""
    from mfdan.model.registry import ARCHITECTURES
    from mfdan.predict import prepare

    reads = {n for n, a in ARCHITECTURES.items() if "landmarks" in getattr(a.network, "inputs", ())}
    assert reads == set(prepare.LANDMARK_ARCHS)


def test_the_renamed_apex_flow_key(tmp_path, model_dir):
    """``data.spotting_flow`` is now ``data.apex_flow``: in a params file the old key is an error naming the new
    one; a model card written before the rename loads, its apex policy read under the new name."""
    from mfdan.core.params import Params
    from mfdan.data.config import DataConfig
    from mfdan.predict.prepare import card_sections

    with pytest.raises(ValueError, match=r"data\.spotting_flow was renamed apex_flow"):
        Params({"data": {"spotting_flow": "tvl1"}}, source="p.yaml").section("data", DataConfig)
    old = tmp_path / "old"
    shutil.copytree(model_dir, old)
    card = json.loads((old / CARD).read_text())
    card["params"]["data"] = {"apex": "annotated", "apex_fallback": "middle", "spotting_flow": "tvl1"}
    (old / CARD).write_text(json.dumps(card))
    assert load_final(old).apex_policy == {"apex": "annotated", "apex_fallback": "middle", "apex_flow": "tvl1"}
    assert card_sections(old).apex_policy["apex_flow"] == "tvl1"


def test_a_card_from_before_the_flow_feature_norm_loads_as_the_earlier_head(tmp_path):
    """Model folders written before ``model.flow_feature_norm`` existed have no such key: they are the earlier
    head (no LayerNorm on the flow features), and load as it, weights and all."""
    old = make_model_dir(tmp_path / "old", weights_cfg=MFDANConfig(**{**asdict(small_model_cfg()),
                                                                     "flow_feature_norm": False}))
    card = json.loads((old / CARD).read_text())
    card["params"]["model"].pop("flow_feature_norm")
    (old / CARD).write_text(json.dumps(card))
    fm = load_final(old)
    assert fm.model.config.flow_feature_norm is False and not hasattr(fm.model.flow_norm, "weight")


@pytest.mark.parametrize("fourcc,suffix", [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_a_video_is_what_decodes(model_dir, clip_dir, tmp_path, fourcc, suffix):
    """Videos in two codecs/containers OpenCV writes: whole, they are answered with no note; cut short (its header
    still declaring every frame) the frames that decode are the clip, answered, the note on stderr and in the
    JSON line; nothing decodable (a text file named like a video, an empty file) is one error naming it."""
    frames = [cv2.imread(str(p)) for p in sorted(clip_dir.iterdir(), key=lambda p: natural_key(p.name))]
    path = tmp_path / f"clip{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, frames[0].shape[1::-1])
    for f in frames:
        writer.write(f)
    writer.release()
    res = invoke("--model", model_dir, path, "--whole", "--json")
    assert res.exit_code == 0 and "notes" not in json.loads(res.stdout) and res.stderr == "", res.output
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.7)])
    res = invoke("--model", model_dir, cut, "--whole", "--json")
    try:
        decoded = sum(1 for _ in video_stream(cut))
    except DatasetError:  # MP4 keeps its index (moov) at the end: cut, nothing of it decodes
        decoded = 0
    if decoded == 0:
        assert res.exit_code == 1 and str(cut) in res.stderr
    else:
        assert decoded < len(frames) and res.exit_code == 0, res.output
        rec = json.loads(res.stdout)
        assert rec["label"] and len(rec["notes"]) == 1 and str(cut) in rec["notes"][0]
        assert f"{decoded} frames decode" in rec["notes"][0] and rec["notes"][0] in res.stderr
    for name, data in (("text.mp4", b"not a video"), ("empty.avi", b"")):
        (tmp_path / name).write_bytes(data)
        res = invoke("--model", model_dir, tmp_path / name, "--whole")
        assert res.exit_code == 1 and str(tmp_path / name) in res.stderr


def test_each_answer_carries_its_margin_and_unsure_ones_are_flagged_or_dropped(model_dir, clip_dir, tmp_path):
    """--min-margin X flags answers whose top two probabilities are closer than X ([unsure], "unsure": true);
    --drop-unsure leaves them out and names each on stderr (no Grad-CAM either), exit 0."""
    rec = json.loads(invoke("--model", model_dir, clip_dir, "--json").stdout)
    m = rec["margin"]
    above, below = f"{m + 0.01:.6f}", f"{max(m - 0.01, 0):.6f}"
    flagged = invoke("--model", model_dir, clip_dir, "--json", "--min-margin", above)
    assert json.loads(flagged.stdout)["unsure"] is True
    assert json.loads(invoke("--model", model_dir, clip_dir, "--json", "--min-margin", below).stdout)["unsure"] is False
    row = invoke("--model", model_dir, clip_dir, "--min-margin", above).stdout.splitlines()[1]
    assert row.endswith("[unsure]") and rec["label"] in row
    assert not invoke("--model", model_dir, clip_dir, "--min-margin", below).stdout.splitlines()[1].endswith("[unsure]")
    cams = tmp_path / "cams"
    dropped = invoke("--model", model_dir, clip_dir, clip_dir, "--json", "--min-margin", above, "--drop-unsure",
                     "--cam", cams)
    assert dropped.exit_code == 0 and dropped.stdout.strip() == ""
    assert dropped.stderr.count("dropped (--drop-unsure)") == 2 and f"{rec['label']} {m:.3f}" in dropped.stderr
    assert not cams.exists() or not list(cams.glob("*.png"))
    kept = invoke("--model", model_dir, clip_dir, "--json", "--min-margin", below, "--drop-unsure")
    assert json.loads(kept.stdout)["label"] == rec["label"]
    for bad in ("-0.1", "1.5", "nan"):
        res = invoke("--model", model_dir, clip_dir, "--min-margin", bad)
        assert res.exit_code == 2 and "--min-margin" in res.stderr


def test_what_the_model_was_trained_on_is_said_once(model_dir, clip_dir, tmp_path, synth_root):
    """A card from before cards recorded their data: 'unknown', said once; a model trained on generated data: one
    line on stderr and "trained_on": "generated" in every JSON line; on real data: nothing said."""
    card = json.loads((model_dir / CARD).read_text())
    old = tmp_path / "old"
    shutil.copytree(model_dir, old)
    (old / CARD).write_text(json.dumps({k: v for k, v in card.items() if k != "trained_on"}))
    res = invoke("--model", old, clip_dir, clip_dir, "--json")
    assert res.exit_code == 0, res.output
    assert res.stderr.count("does not record what the recognition model was trained on") == 1
    assert [json.loads(line)["trained_on"] for line in res.stdout.splitlines()] == ["unknown", "unknown"]
    gen = tmp_path / "generated"
    shutil.copytree(model_dir, gen)
    datasets = {"casme2": {"clips": 22, "subjects": 4, "source": "generated", "faces": ["astronaut"]},
                "samm": {"clips": 23, "subjects": 4, "source": "generated", "faces": ["astronaut"]}}
    (gen / CARD).write_text(json.dumps({**card, "trained_on": {"source": "generated", "datasets": datasets}}))
    res = invoke("--model", gen, clip_dir, clip_dir, "--json")
    lines = [line for line in res.stderr.splitlines() if "generated data" in line]
    assert len(lines) == 1 and "45 clips of 8 subjects (casme2, samm) that mfdan's generator made from 1 face photo (astronaut)" in lines[0] and str(gen) in lines[0]
    assert [json.loads(line)["trained_on"] for line in res.stdout.splitlines()] == ["generated", "generated"]
    text = invoke("--model", gen, clip_dir)
    assert "generated data" in text.stderr and "generated data" not in text.stdout
    real = tmp_path / "real"
    shutil.copytree(model_dir, real)
    datasets = {k: {"clips": v["clips"], "subjects": v["subjects"], "source": "real"} for k, v in datasets.items()}
    (real / CARD).write_text(json.dumps({**card, "trained_on": {"source": "real", "datasets": datasets}}))
    res = invoke("--model", real, clip_dir, "--json")
    assert res.stderr.strip() == "" and json.loads(res.stdout)["trained_on"] == "real"

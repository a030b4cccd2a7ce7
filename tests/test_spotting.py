"""Long recordings: the MEGC scores on a hand-worked example, the long-video readers and their bad input, face
tracking over a generated recording whose face leaves or arrives, the spotters, `mfdan predict` on a real
video file (MJPG through OpenCV), and long/dvc.yaml's code deps."""
import json
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest
import torch
from typer.testing import CliRunner

from mfdan.cli import app
from mfdan.core.errors import DatasetError
from mfdan.data.long_readers import read_long
from mfdan.spotting import feature_difference, softnet
from mfdan.spotting.config import SoftNetConfig, SpotConfig
from mfdan.spotting.faces import track
from mfdan.spotting.features import compute_features, lbp_histograms
from mfdan.spotting.peaks import Interval
from mfdan.predict.long_recording import frame_files
from mfdan.spotting.scoring import analysis_f1, evaluate, iou
from mfdan.spotting.timeline import COLOURS
from mfdan.spotting.video_frames import files_stream, video_stream
from mfdan.synth.long_plan import LongSynthConfig
from mfdan.synth.long_videos import encode_video, synthesize_long
from tests.test_predict import make_model_dir

SYN = LongSynthConfig(subjects=2, seconds=8, fps=30, geometry="compact", frame_size=160, micro=2, macro=1, blinks=1,
                      head_turns=1, gap=0.8)
NET = SoftNetConfig(flow="farneback", flow_size=64, epochs=2)


@pytest.fixture(scope="module")
def long_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("long") / "raw"
    synthesize_long(root, SYN)
    return root


def manifest(root: Path, layout: str) -> dict:
    return {r["video"]: r for r in json.loads((root / layout / "synth_manifest.json").read_text())["recordings"]}


def test_megc_scores_on_a_hand_worked_example():
    iv = lambda a, b, kind="micro", label=None: Interval(a, (a + b) // 2, b, kind, label=label)  # noqa: E731
    assert iou(iv(10, 20), iv(11, 21)) == pytest.approx(10 / 12)
    assert iou(iv(40, 50), iv(42, 60)) == pytest.approx(9 / 21)   # < 0.5: a miss
    truth = [iv(10, 20, label="positive"), iv(40, 50, label="negative"), iv(70, 80, label="surprise"),
             iv(100, 150, "macro")]
    spotted = [iv(11, 21, label="positive"), iv(42, 60, label="negative"), iv(70, 79, label="positive"),
               iv(200, 210, label="negative"), iv(105, 150, "macro")]
    m = evaluate([(truth, spotted)], classes=("negative", "positive", "surprise"))
    # micro: hits (10-20, 11-21) and (70-80, 70-79); 42-60 and 200-210 are false positives; 40-50 is missed
    assert (m["micro"]["tp"], m["micro"]["fp"], m["micro"]["fn"]) == (2, 2, 1)
    assert m["micro"]["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))          # 0.5714
    # analysis on the hits: (positive, positive), (surprise, positive). positive: P 1/2, R 1; surprise: P 0, R 0
    # -> mean P 0.25, mean R 0.5, F1 = 2·0.25·0.5/0.75 = 1/3; STRS = 0.5714 × 1/3
    assert m["micro"]["analysis"]["f1"] == pytest.approx(1 / 3)
    assert m["micro"]["strs"] == pytest.approx(m["micro"]["f1"] / 3)
    assert (m["macro"]["tp"], m["macro"]["fp"], m["macro"]["fn"]) == (1, 0, 0)
    # one proposal never counts for two ground truths
    assert evaluate([([iv(0, 10), iv(0, 10)], [iv(0, 10)])])["micro"]["tp"] == 1
    assert analysis_f1([]) ["f1"] == 0.0


@pytest.mark.parametrize("layout", ["casme_sq", "samm_lv"])
def test_readers_give_what_was_generated(long_root, layout):
    videos = read_long(layout, long_root / layout, fps=30)
    plan = manifest(long_root, layout)
    assert len(videos) == SYN.subjects and all(v.fps == 30 for v in videos)
    for v in videos:
        events = plan[v.video]["events"]
        coded = [(e["kind"], e["onset"], e["offset"]) for e in events if e["kind"] in ("micro", "macro")]
        assert [(i.kind, i.onset, i.offset) for i in v.intervals] == coded
        assert len(v.frames) == plan[v.video]["frames"]
        assert all(i.label in ("negative", "positive", "surprise") for i in v.intervals if i.kind == "micro")


def _edit(path: Path, sheet: int, row: int, col: int, value) -> None:
    book = openpyxl.load_workbook(path)
    book.worksheets[sheet].cell(row=row, column=col, value=value)
    book.save(path)


@pytest.mark.parametrize("layout,edit,message", [
    ("casme_sq", lambda r: _edit(r / "CAS(ME)^2code_final.xlsx", 0, 1, 5, "#ON"), "zero-length interval"),
    ("casme_sq", lambda r: _edit(r / "CAS(ME)^2code_final.xlsx", 0, 1, 5, 99999), "runs past the end"),
    ("samm_lv", lambda r: _edit(r / "SAMM_LongVideos_V3_Release.xlsx", 0, 6, 6, "#ON"), "zero-length interval"),
    ("samm_lv", lambda r: _edit(r / "SAMM_LongVideos_V3_Release.xlsx", 0, 6, 8, "Blink"), "neither Macro nor Micro"),
])
def test_bad_sheets_name_the_file_and_row(long_root, tmp_path, layout, edit, message):
    import shutil

    root = tmp_path / layout
    shutil.copytree(long_root / layout, root)
    sheet = next(root.glob("*.xlsx")) if layout == "casme_sq" else root / "SAMM_LongVideos_V3_Release.xlsx"
    book = openpyxl.load_workbook(sheet)
    ws = book.worksheets[0]
    row = 1 if layout == "casme_sq" else 6
    onset = ws.cell(row=row, column=3 if layout == "casme_sq" else 4).value
    book.close()
    edit_fn = edit
    if "zero-length" in message:  # offset := onset
        edit_fn = lambda r: _edit(sheet, 0, row, 5 if layout == "casme_sq" else 6, onset)  # noqa: E731
    edit_fn(root)
    with pytest.raises(DatasetError, match=message) as err:
        read_long(layout, root, fps=30)
    assert sheet.name in str(err.value) and f"row {row}" in str(err.value)


def test_truncated_and_unreadable_videos(long_root, tmp_path):
    """What decodes is the recording: a file cut in half yields the frames before the cut, with a note naming it
    and both counts; a file of which nothing decodes (not a video, empty) is one error naming it."""
    files = frame_files(long_root / "samm_lv" / "SAMM_longvideos" / "006_1")
    video = encode_video(files, tmp_path / "rec.avi", 30)
    notes: list[str] = []
    assert sum(1 for _ in video_stream(video, notes=notes)) == len(files) and notes == []
    cut = tmp_path / "cut.avi"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    n = sum(1 for _ in video_stream(cut, notes=notes))
    assert 0 < n < len(files)
    assert len(notes) == 1 and str(cut) in notes[0] and f"{n} frames decode" in notes[0] and str(len(files)) in notes[0]
    bad, empty = tmp_path / "bad.mp4", tmp_path / "empty.avi"
    bad.write_bytes(b"not a video at all")
    empty.write_bytes(b"")
    for path in (bad, empty):
        with pytest.raises(DatasetError, match="cannot open|decodes no frame") as err:
            list(video_stream(path))
        assert str(path) in str(err.value)


@pytest.fixture(scope="module")
def tracked(long_root):
    """Both recordings of SAMM layout: subject 006 starts without a face, 007 ends without one."""
    cfg = SpotConfig()
    out = []
    for v in read_long("samm_lv", long_root / "samm_lv", fps=30):
        feat = compute_features(track(files_stream(v.frames), cfg), len(v.frames), v.fps, cfg, NET)
        out.append((v, feat))
    return out


def test_faces_come_and_go_and_no_answer_lies_where_there_is_none(long_root, tracked):
    plan = manifest(long_root, "samm_lv")
    cfg = SpotConfig()
    for v, feat in tracked:
        events = plan[v.video]["events"]
        absent = [e for e in events if e["kind"] == "absent"][0]
        gone = np.zeros(feat.n, bool)
        gone[absent["onset"]:absent["offset"] + 1] = True
        assert not feat.face[gone].any()                                 # never a face where there is none
        assert feat.face[~gone].mean() > 0.95                            # and found almost everywhere else
        head = [e for e in events if e["kind"] == "head"]
        if head:                                                         # the head turn starts a new alignment
            assert feat.stretch.max() >= 1
        for iv in feature_difference.spot(feat, cfg):
            assert feat.face[iv.onset:iv.offset + 1].all()
            assert len(set(feat.stretch[iv.onset:iv.offset + 1])) == 1   # one alignment per answer


def test_lbp_histograms_and_blink_masking():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 255, (64, 64)).astype(np.uint8)
    h = lbp_histograms(grey, 4)
    assert h.shape == (16, 59) and np.allclose(h.sum(axis=1), 1)
    flat = lbp_histograms(np.full((64, 64), 7, np.uint8), 4)
    assert np.all(flat[:, 57] == 1)  # all neighbours >= centre: code 255, the last uniform pattern


def test_softnet_learns_leave_one_subject_out(tracked):
    recs = [softnet.Recording(v.key, v.subject, f, list(v.intervals)) for v, f in tracked]
    y = softnet.pseudo_labels(20, 3, [Interval(10, 11, 12)], "micro")
    assert list(np.flatnonzero(y)) == [8, 9, 10, 11, 12]                 # windows [i, i+3) overlapping 10..12
    assert softnet.SOFTNet()(torch.zeros(2, 3, 42, 42)).shape == (2,)
    out = softnet.loso_curves(recs, NET)
    assert set(out) == {r.key for r in recs}
    for r in recs:
        curves = out[r.key]
        ivs = softnet.spot(curves, r.features, SpotConfig(), NET)
        assert curves["micro"].shape == (r.features.n,)
        assert all(r.features.face[iv.onset:iv.offset + 1].all() for iv in ivs)


def test_predict_on_a_long_video_lists_intervals(long_root, tmp_path):
    model = make_model_dir(tmp_path / "final")
    files = frame_files(long_root / "casme_sq" / "rawpic" / "s15" / "15_0101disgustingteeth")
    video = encode_video(files, tmp_path / "rec.avi", 30)
    res = CliRunner().invoke(app, ["predict", "--model", str(model), str(video), "--json", "--spotter", "lbp",
                                   "--timeline", str(tmp_path / "tl"), "--cam", str(tmp_path / "cams")])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert rows, res.output
    gap = [e for e in manifest(long_root, "casme_sq")["15_0101disgustingteeth"]["events"] if e["kind"] == "absent"][0]
    for r in rows:
        assert set(r) == {"input", "onset", "apex", "offset", "onset_s", "apex_s", "offset_s", "spotter", "label",
                          "probabilities", "margin", "unsure", "trained_on"}
        assert r["spotter"] == "feature_difference"
        assert r["onset"] <= r["apex"] <= r["offset"] and r["onset_s"] == pytest.approx(r["onset"] / 30, abs=1e-3)
        assert r["onset"] > gap["offset"]                                # nothing where the face is missing
    assert (tmp_path / "tl" / "rec.png").is_file()
    cams = sorted((tmp_path / "cams").glob("rec_*.png"))
    assert len([p for p in cams if not p.stem.endswith("_magnified")]) == len(rows)   # one Grad-CAM per interval
    assert len([p for p in cams if p.stem.endswith("_magnified")]) == len(rows)       # and its magnified apex
    # --drop-unsure with a margin no answer reaches: nothing printed, and the timeline draws nothing spotted either
    res = CliRunner().invoke(app, ["predict", "--model", str(model), str(video), "--json", "--spotter", "lbp",
                                   "--min-margin", "1", "--drop-unsure", "--timeline", str(tmp_path / "tl_dropped")])
    assert res.exit_code == 0 and res.stdout.strip() == "" and "dropped (--drop-unsure)" in res.stderr, res.output
    micro = lambda png: (cv2.imread(str(png)) == COLOURS["micro"]).all(axis=2).sum()  # noqa: E731 - orange pixels
    assert micro(tmp_path / "tl" / "rec.png") > 0 and micro(tmp_path / "tl_dropped" / "rec.png") == 0
    # --whole keeps today's one clip (the recording starts without a face: refused, naming the frame)
    res = CliRunner().invoke(app, ["predict", "--model", str(model), str(video), "--whole", "--json"])
    assert res.exit_code == 1 and "no face in this onset frame" in res.stderr
    # no face at all: says so on stderr, exit 0
    blank = [tmp_path / f"b{i}.jpg" for i in range(40)]
    for p in blank:
        cv2.imwrite(str(p), np.full((120, 120, 3), 90, np.uint8))
    empty = encode_video(blank, tmp_path / "empty.avi", 30)
    res = CliRunner().invoke(app, ["predict", "--model", str(model), str(empty), "--spotter", "lbp"])
    assert res.exit_code == 0 and "no micro-expression spotted" in res.stderr


def test_validate_and_synth_cli(long_root, tmp_path):
    res = CliRunner().invoke(app, ["validate", "--dataset", "casme_sq", "--root", str(long_root / "casme_sq")])
    assert res.exit_code == 0 and "micro-expressions 4 (release: 57)" in res.stdout, res.output


def test_long_dvc_yaml_lists_each_stage_import_closure():
    import yaml

    from tests.dvc_deps import REPO, closure, covered

    spec = yaml.safe_load((REPO / "long" / "dvc.yaml").read_text())["stages"]
    for name, st in spec.items():
        body = st.get("do", st)
        script = body["cmd"].split()[1].removeprefix("../")
        deps = [d.removeprefix("../") for d in body["deps"]]
        missing = [f for f in sorted(closure(script).files) if not covered(f, deps)]
        assert not missing, f"long/dvc.yaml {name}: code it runs but does not list: {missing}"

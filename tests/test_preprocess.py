"""Preprocessing: Eq. 3 strain, TV-L1 accuracy, alignment, one transform per clip, apex spotting, caches."""
import hashlib
import json
import os
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from mfdan.core.errors import DatasetError
from mfdan.core.params import Params
from mfdan.core.rows import STR, RowWriter
from mfdan.data.config import DataConfig
from mfdan.data.index_file import write_index
from mfdan.data.protocols import get_protocol
from mfdan.data.readers import read_dataset
from mfdan.preprocess import align_stage, flow_stage, pack_stage
from mfdan.preprocess.align_stage import align_one
from mfdan.preprocess.alignment import AlignConfig, estimate_alignment
from mfdan.preprocess.apex_spotting import spot_apex
from mfdan.preprocess.optical_flow import FlowConfig, compute_flow, flow_input
from mfdan.preprocess.optical_strain import optical_strain
from mfdan.synth.face import base_face

SMALL_FLOW = FlowConfig(output_size=64, workers=1)


def _params(align: dict, flow: dict | None = None, data: dict | None = None) -> Params:
    return Params({"align": align, "flow": flow or {"output_size": 64, "workers": 1}, "data": data or {}})


@pytest.mark.parametrize("a,b,c,want", [
    (0.3, -0.2, 0.0, np.sqrt(0.3**2 + 0.2**2)),      # u = a x, v = b y: normal strains only
    (0.0, 0.0, 0.4, 0.4 / np.sqrt(2)),                # u = c y: simple shear, ½ (u_y + v_x)² = c²/2
])
def test_strain_closed_forms(a, b, c, want):
    y, x = np.mgrid[0:40, 0:50].astype(np.float64)
    u = a * x + c * y
    v = b * y
    np.testing.assert_allclose(optical_strain(u, v), want, rtol=1e-6)


def test_strain_axes_and_rotation():
    y, x = np.mgrid[0:40, 0:50].astype(np.float64)
    np.testing.assert_allclose(optical_strain(-0.1 * y, 0.1 * x), 0, atol=1e-7)  # rigid rotation: no strain
    # u depends on x only: must not be read as a y-derivative (the usual axis mix-up)
    s = optical_strain(0.5 * x, np.zeros_like(x))
    np.testing.assert_allclose(s, 0.5, rtol=1e-6)
    s = optical_strain(np.zeros_like(x), 0.5 * x)  # v_x = 0.5 -> sqrt(½ · 0.25)
    np.testing.assert_allclose(s, np.sqrt(0.125), rtol=1e-6)


def _face_crop(size=256):
    g = cv2.cvtColor(base_face(), cv2.COLOR_RGB2GRAY)
    return g[20:20 + size, 100:100 + size]


@pytest.mark.parametrize("dx,dy", [(0.4, -0.3), (-0.25, 0.6)])
def test_tvl1_recovers_a_subpixel_shift_of_a_real_photo(dx, dy):
    img = _face_crop()
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    moved = cv2.warpAffine(img, m, img.shape[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    flow = compute_flow(img, moved, FlowConfig())
    inner = flow[32:-32, 32:-32]
    assert abs(np.median(inner[..., 0]) - dx) < 0.1
    assert abs(np.median(inner[..., 1]) - dy) < 0.1


def test_flow_input_shape_and_normalisation():
    flow = np.random.default_rng(0).normal(0, 0.5, (96, 96, 2)).astype(np.float32)
    out = flow_input(flow, FlowConfig(output_size=48))
    assert out.shape == (3, 48, 48) and out.dtype == np.float32
    assert np.abs(out[:2]).max() == pytest.approx(1.0) and out[2].max() == pytest.approx(1.0) and out[2].min() >= 0
    raw = flow_input(np.full((96, 96, 2), 2.0, np.float32), FlowConfig(output_size=48, normalise="none"))
    np.testing.assert_allclose(raw[:2], 1.0)  # displacements scale with the grid (96 -> 48)


def test_p99_scale_is_set_by_the_motion_not_by_a_few_border_pixels():
    """A smooth motion field with a 2-pixel spike at the border: ``maxabs`` takes its scale from the spike,
    ``p99`` from the motion (the 99th percentile of |(u, v)| is 1 either way); ``p99`` keeps direction."""
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    bump = np.exp(-((xx - 32) ** 2 + (yy - 28) ** 2) / (2 * 10.0 ** 2))
    flow = np.stack([0.6 * bump, 0.8 * bump], axis=-1).astype(np.float32)  # peak |(u, v)| = 1 px
    spiked = flow.copy()
    spiked[0, :2] = 25.0  # two border pixels of a bad match
    cfg = {n: FlowConfig(output_size=64, normalise=n) for n in ("maxabs", "p99")}
    clean, noisy = (flow_input(f, cfg["p99"]) for f in (flow, spiked))
    assert np.percentile(np.hypot(noisy[0], noisy[1]), 99) == pytest.approx(1.0, rel=1e-5)
    centre = (slice(None), slice(8, 56), slice(8, 56))
    np.testing.assert_allclose(noisy[:2][centre], clean[:2][centre], rtol=0.02)  # the spike moves the scale < 2 %
    np.testing.assert_allclose(noisy[1][8:56, 8:56] * 0.6, noisy[0][8:56, 8:56] * 0.8, atol=1e-6)  # u : v kept
    maxabs = flow_input(spiked, cfg["maxabs"])
    assert np.abs(maxabs[:2][centre]).max() < 0.05  # under maxabs the face's motion shrinks to < 5 % of the range
    with pytest.raises(ValueError, match="flow.normalise"):
        FlowConfig(normalise="p95")


@pytest.mark.parametrize("degrees", [8.0, -12.0])
def test_alignment_recovers_a_known_rotation(degrees):
    img = base_face()
    cfg = AlignConfig()
    base = estimate_alignment(img, "casme2", cfg).angle
    rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((256, 256), degrees, 1.0), (512, 512),
                         borderMode=cv2.BORDER_REFLECT)
    a = estimate_alignment(rot, "casme2", cfg)
    # cv2 rotates counter-clockwise on screen; in image (y-down) coordinates the eye line turns by -degrees
    assert abs((a.angle - base) + degrees) < 1.0
    aligned = a.apply(rot, cfg.output_size)
    again = estimate_alignment(aligned, "casme2", AlignConfig(pre_crop={}))  # the aligned face is level
    assert abs(again.angle) < 1.0


def test_samm_default_is_the_papers_centre_crop_and_smic_is_resized():
    h, w = 1088, 2040  # SAMM's frame
    img = np.pad(base_face(), (((h - 512) // 2,) * 2, ((w - 512) // 2,) * 2, (0, 0)), mode="edge")
    cfg = AlignConfig()
    a = estimate_alignment(img, "samm", cfg)
    # Sec. IV-B: the centred 420×420 square, scaled to the output: its corners go to the output's corners
    assert a.method == "resize"
    corners = np.array([[(w - 420) / 2, (h - 420) / 2, 1.0], [(w + 420) / 2, (h + 420) / 2, 1.0]])
    np.testing.assert_allclose(corners @ a.matrix.T, [[0, 0], [cfg.output_size, cfg.output_size]], atol=1e-9)
    # the documented switch: our landmark crop after the centre crop
    lm_cfg = AlignConfig(method={"casme2": "landmarks", "samm": "landmarks", "smic": "resize"})
    assert estimate_alignment(img, "samm", lm_cfg).method == "landmarks"
    r = estimate_alignment(img, "smic", cfg)
    assert r.method == "resize" and r.apply(img, 224).shape == (224, 224, 3)


def _write_pair(tmp_path, onset, apex):
    paths = []
    for name, img in (("img1.png", onset), ("img2.png", apex)):
        p = tmp_path / name
        cv2.imwrite(str(p), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        paths.append(str(p))
    return {"dataset": "casme2", "subject": "sub01", "sample_id": "EP_test", "frames": paths,
            "frame_numbers": [1, 2], "onset": 0, "apex": 1, "offset": 1, "emotion": "happiness",
            "action_units": "12", "label": "positive", "label_index": 1}


def test_onset_and_apex_share_one_transform(tmp_path):
    onset = base_face()
    apex = cv2.warpAffine(onset, np.float32([[1, 0, 4], [0, 1, 0]]), (512, 512), borderMode=cv2.BORDER_REFLECT)
    r = align_one((_write_pair(tmp_path, onset, apex), AlignConfig(), DataConfig(), SMALL_FLOW))
    scale = np.hypot(*r["matrix"][0, :2])
    (sx, sy), _ = cv2.phaseCorrelate(*(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64)
                                       for x in (r["onset"], r["apex"])))
    # the 4 px head motion survives alignment (re-detecting on the apex would have cancelled it)
    assert abs(np.hypot(sx, sy) - 4 * scale) < 0.5


def test_no_face_is_a_clear_error_or_a_counted_fallback(tmp_path):
    blank = np.full((300, 300, 3), 128, np.uint8)
    row = _write_pair(tmp_path, blank, blank)
    with pytest.raises(DatasetError) as err:
        align_one((row, AlignConfig(), DataConfig(), SMALL_FLOW))
    assert err.value.path.name == "img1.png" and "align.fallback" in str(err.value)
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"protocol": "casme2", "classes": ["negative", "positive", "surprise"],
                                 "samples": [row]}))
    align_stage.run(params=_params({"fallback": "center_crop", "workers": 1}), index=index, out=tmp_path / "a.h5",
                    report=tmp_path / "align.json")
    rep = json.loads((tmp_path / "align.json").read_text())
    assert rep["fallbacks"] == 1 and rep["align_methods"] == {"center_crop": 1}


def test_unreadable_frame_error_crosses_worker_processes(tmp_path):
    row = _write_pair(tmp_path, base_face(), base_face())
    (tmp_path / "img2.png").write_bytes(b"garbage")
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"protocol": "casme2", "classes": [], "samples": [row, row]}))
    with pytest.raises(DatasetError) as err:
        align_stage.run(params=_params({"workers": 2}), index=index, out=tmp_path / "a.h5", report=tmp_path / "r.json")
    assert err.value.path.name == "img2.png" and "cannot decode" in str(err.value)
    assert not (tmp_path / "a.h5").exists() and not list(tmp_path.glob(".a.h5*"))  # nothing half-written


def test_flow_peak_spotting_on_generated_clips(synth_root):
    """Spotting must find the annotated apex better than the middle-frame guess (on these clips the old mean-
    magnitude score did not: 1.08 frames mean error against 0.5 for the middle frame), and exactly on nearly
    every clip: with generator seeds 7, 8, 9 it is exact on 11, 12 and 11 of 12 clips, the one miss 3 and 2
    frames off (mean error 0.25, 0, 0.17 against the middle frame's 0.5)."""
    from mfdan.data.images import read_image

    errors, middle = [], []
    for s in read_dataset("casme2", synth_root / "casme2") + read_dataset("samm", synth_root / "samm"):
        if get_protocol(f"{s.dataset}_all").label(s) is None:
            continue  # 'others' clips move little
        frames = [read_image(p) for p in s.frames]
        errors.append(abs(spot_apex(frames) - s.apex))
        middle.append(abs(s.offset // 2 - s.apex))
    assert len(errors) >= 8
    assert np.mean(errors) < np.mean(middle) and sum(e > 1 for e in errors) <= 1, (errors, middle)
    assert sum(e == 0 for e in errors) >= len(errors) - 1, (errors, middle)


def _tree_bytes(*paths):
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_caches_are_byte_identical_across_runs(synth_root, tmp_path):
    from mfdan.data.validate import read_for_protocol

    samples = read_for_protocol("casme2", synth_root / "casme2")
    proto = get_protocol("casme2")
    index = tmp_path / "index.json"
    write_index(index, "casme2", list(proto.classes), proto.select(samples))
    rows = json.loads(index.read_text())["samples"]
    params = _params({"output_size": 96, "workers": 2}, {"output_size": 64, "workers": 2}, {"protocol": "casme2"})
    outs = []
    for run in ("a", "b"):
        d = tmp_path / run
        align_stage.run(params=params, index=index, out=d / "aligned.h5", report=d / "align.json")
        flow_stage.run(params=params, aligned=d / "aligned.h5", out=d / "flow.h5")
        pack_stage.run(index=index, aligned=d / "aligned.h5", flow=d / "flow.h5", out=d / "cache.h5")
        outs.append(_tree_bytes(d / "aligned.h5", d / "flow.h5", d / "cache.h5"))
    assert outs[0] == outs[1]
    with h5py.File(tmp_path / "a" / "aligned.h5") as f:
        assert f["onset"].shape == (len(rows), 96, 96, 3)
    with h5py.File(tmp_path / "a" / "cache.h5") as f:
        assert f["flow"].shape == (len(rows), 3, 64, 64)
        assert [x.decode() for x in f["sample_id"][()]] == [r["sample_id"] for r in rows]
        assert list(f["label"][()]) == [r["label_index"] for r in rows]
        assert np.isfinite(f["flow"][()]).all()


def test_pack_refuses_caches_out_of_order(tmp_path):
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"protocol": "x", "classes": [], "samples": [{"sample_id": "a"}, {"sample_id": "b"}]}))
    for name, keys in (("al.h5", ("apex_frame", "landmarks")), ("fl.h5", ("flow",))):
        with RowWriter(tmp_path / name, 2, {**{k: ((), "i8") for k in keys}, "sample_id": ((), STR)}) as w:
            w.write(0, sample_id="b", **{k: 0 for k in keys})
            w.write(1, sample_id="a", **{k: 0 for k in keys})
    with pytest.raises(DatasetError, match="rerun"):
        pack_stage.run(index=index, aligned=tmp_path / "al.h5", flow=tmp_path / "fl.h5", out=tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_rowwriter_leaves_nothing_when_interrupted(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with RowWriter(tmp_path / "c.h5", 3, {"x": ((4,), "f4")}) as w:
            w.write(0, x=np.zeros(4))
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="only 1 of 3"):
        with RowWriter(tmp_path / "c.h5", 3, {"x": ((4,), "f4")}) as w:
            w.write(0, x=np.zeros(4))
    assert list(tmp_path.iterdir()) == []


PRELOAD_PROBE = """
import sys
from mfdan.core.parallel import imap_ordered
from mfdan.preprocess.landmarks import PRELOAD


def probe(_):
    from mfdan.preprocess import landmarks as lm
    return lm._detector.cache_info().currsize + lm._predictor.cache_info().currsize


if __name__ == "__main__":
    print(sum(imap_ordered(probe, range(4), workers=2, preload=PRELOAD if sys.argv[1] == "preload" else ())))
"""


@pytest.mark.parametrize("mode,loaded", [("preload", 8), ("plain", 0)])
def test_pool_workers_start_with_the_dlib_models_preloaded(tmp_path, mode, loaded):
    """With ``preload`` the forkserver loads dlib's two models once and every worker forked from it has them
    (2 per task, 4 tasks); without, a worker starts with neither."""
    import subprocess
    import sys

    script = tmp_path / "probe.py"
    script.write_text(PRELOAD_PROBE)
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(repo)})
    assert out.stdout.split()[-1] == str(loaded), out.stderr

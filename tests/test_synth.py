"""The generator: deterministic bytes, faces dlib can find, subtle localized AU motion, atomic output."""
import ast
import hashlib
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from mfdan.preprocess import landmarks as lm
from mfdan.synth import exact, generator
from mfdan.synth.action_units import AU_INTENSITY, AU_VARIANTS, EMOTION_AUS, motion_field, temporal_profile
from mfdan.synth.config import SynthConfig
from mfdan.synth.face import BACKGROUND_STEP, face_photo, make_identity
from mfdan.synth.generator import synthesize
from mfdan.synth.plan import ClipPlan, plan_layout
from mfdan.synth.render import clip_nuisance, render_clip
from mfdan.synth.writers import frame_relpath
from tests.conftest import TINY


def tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def sample_cubic_loop(img, x, y, border):
    """Per-pixel reference for :func:`exact.sample_cubic`: 4×4 taps read one by one, borders mapped by
    OpenCV's rules, summed in the sampler's order (row weights outer, column weights inner)."""
    h, w = img.shape[:2]

    def inside(i, n):
        if border == "replicate":
            return min(max(i, 0), n - 1)
        while not 0 <= i < n:  # BORDER_REFLECT: ...cba|abc...xyz|zyx...
            i = -i - 1 if i < 0 else 2 * n - i - 1
        return i

    out = np.zeros(x.shape + img.shape[2:])
    for idx in np.ndindex(x.shape):
        fx, fy = np.floor(x[idx]), np.floor(y[idx])
        wx = [float(v[0]) for v in exact._cubic_weights(np.array([x[idx] - fx]))]
        wy = [float(v[0]) for v in exact._cubic_weights(np.array([y[idx] - fy]))]
        acc = 0.0
        for dr, wr in zip((-1, 0, 1, 2), wy):
            line = 0.0
            for dc, wc in zip((-1, 0, 1, 2), wx):
                line = line + wc * img[inside(int(fy) + dr, h), inside(int(fx) + dc, w)]
            acc = acc + wr * line
        out[idx] = acc
    return out


@pytest.mark.parametrize("channels", [0, 3])
@pytest.mark.parametrize("border", ["reflect", "replicate"])
@pytest.mark.parametrize("reach", [0.0, 4.0])  # 0: every tap inside (the fast path); 4: taps far outside
def test_sample_cubic_matches_per_pixel_reference(channels, border, reach):
    """The vectorised sampler (flat gathers, the all-inside shortcut) gives the reference's bits exactly."""
    rng = np.random.default_rng(3)
    img = rng.uniform(0, 255, (7, 9) + ((channels,) if channels else ()))
    lo_x, hi_x, lo_y, hi_y = (1.0, 6.9, 1.0, 4.9) if reach == 0 else (-reach, 8 + reach, -reach, 6 + reach)
    x, y = rng.uniform(lo_x, hi_x, (5, 6)), rng.uniform(lo_y, hi_y, (5, 6))
    got = exact.sample_cubic(img, x, y, border)
    assert got.shape == x.shape + img.shape[2:]
    assert np.array_equal(got, sample_cubic_loop(img, x, y, border))
    assert exact.sample_cubic(img, x[:0], y[:0], border).shape == (0, 6) + img.shape[2:]  # no points


def private_imports(source: str) -> list[str]:
    """``module.name`` for each leading-underscore name that ``source`` imports from an ``mfdan`` module."""
    return [f"{node.module}.{a.name}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mfdan.")
            for a in node.names if a.name.startswith("_")]


def test_the_generators_use_each_other_through_public_names_only():
    """The parts of mfdan/synth (the clip generator's steps and the long-video generator built on them) import
    no private helper from one another (the long-video generator once imported ``_rng`` and ``_save_xlsx``)."""
    assert private_imports("from mfdan.synth.generator import SynthConfig, _rng\n") == ["mfdan.synth.generator._rng"]
    files = sorted((Path(__file__).resolve().parents[1] / "mfdan" / "synth").glob("*.py"))
    assert len(files) > 5
    found = {f.name: private_imports(f.read_text()) for f in files}
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def test_same_config_same_bytes(tmp_path):
    cfg = SynthConfig(seed=3, subjects=1, samples_per_subject=2, max_frames=4, geometry="compact", frame_size=160,
                      check_faces=False)
    synthesize("casme2", tmp_path / "a", cfg)
    synthesize("casme2", tmp_path / "b", cfg)
    synthesize("casme2", tmp_path / "c", SynthConfig(**{**cfg.__dict__, "seed": 4}))
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")


def test_every_written_frame_has_a_face(synth_root):
    from mfdan.data.images import read_image

    frames = sorted(p for p in synth_root.rglob("*") if p.suffix in (".jpg", ".bmp"))
    assert len(frames) > 50
    for p in frames:
        assert lm.detect_face(read_image(p)) is not None, p


def test_check_faces_runs_dlib_on_each_clips_onset_and_apex_and_names_the_failing_frame(tmp_path, monkeypatch):
    cfg = SynthConfig(seed=2, subjects=1, samples_per_subject=2, others_per_subject=0, max_frames=6,
                      geometry="compact", frame_size=160, workers=1)
    plans = plan_layout("casme2", cfg)
    face_photo("astronaut")  # measured once (cached) with the real detector
    seen = []

    def detect(image):  # a face in every frame checked but the last one
        seen.append(image.shape)
        return None if len(seen) == 2 * len(plans) else ((0, 0, 1, 1), 1.0)

    monkeypatch.setattr(lm, "detect_face", detect)
    with pytest.raises(RuntimeError) as err:
        synthesize("casme2", tmp_path / "raw", cfg)
    assert all(p.onset < p.apex < p.offset for p in plans)  # each clip has frames that are not checked
    assert len(seen) == 2 * len(plans)  # two per clip: onset and apex
    named = str(err.value).removeprefix("synth: dlib finds no face in casme2/")
    assert named in {str(frame_relpath(p, n)) for p in plans for n in (p.onset, p.apex)}
    assert not (tmp_path / "raw").exists()


def test_identities_differ_between_subjects():
    cfg = SynthConfig(seed=1)
    a = make_identity("casme2", "sub01", cfg)
    b = make_identity("casme2", "sub02", cfg)
    assert np.abs(a.image - b.image).mean() > 5
    assert np.abs(a.points - b.points).max() > 1


@pytest.mark.parametrize("emotion,anchors", [("happiness", [48, 54]), ("surprise", [17, 18, 25, 26]),
                                             ("disgust", [21, 22, 51])])
def test_motion_is_localized_on_the_au_landmarks(emotion, anchors):
    ident = make_identity("casme2", "sub01", SynthConfig())
    field = motion_field(ident.points, EMOTION_AUS[emotion], 640, 480)
    mag = np.hypot(*field)
    assert mag.shape == (480, 640) and mag.max() == pytest.approx(1.0)
    near = max(mag[int(round(y)), int(round(x))] for x, y in ident.points[anchors])
    assert near > 0.6
    # far from the face (image corners) nothing moves
    assert mag[:20, :20].max() < 1e-3 and mag[-20:, -20:].max() < 1e-3


def test_apex_amplitude_is_subtle():
    cfg = SynthConfig(noise=0.0, jitter=0.0, amplitude=(1.5, 1.5))
    ident = make_identity("samm", "006", cfg)
    plan = ClipPlan("samm", "006", "006_1_2", "anger", "4+7", onset=100, apex=104, offset=108,
                          motion=EMOTION_AUS["anger"], label3="negative")
    frames = render_clip(ident, plan, cfg)
    w = temporal_profile(9, 4)
    assert w[0] == 0 and w[4] == 1 and w[-1] == pytest.approx(0, abs=1e-12)
    onset, apex, offset = (f.astype(float) for f in (frames[0], frames[4], frames[8]))
    assert np.abs(offset - onset).max() <= 1  # back to neutral (rounding only)
    diff = np.abs(apex - onset)  # SAMM frames are grey: (1088, 2040)
    x0, y0, x1, y1 = ident.geometry.window()
    face = diff[y0:y1, x0:x1]
    assert face.max() > 10  # visible where it moves...
    assert (face > 2).mean() < 0.10  # ...but only over a small part of the face window
    assert face[-40:].max() < 1 and face[:, :30].max() < 1  # nothing below the chin or at the window's border
    face[:] = 0
    assert diff.max() == 0  # outside the window the frame is the static background


@pytest.mark.parametrize("layout,shape,suffix", [("casme2", (480, 640, 3), ".jpg"), ("samm", (1088, 2040), ".jpg"),
                                                 ("smic", (230, 190, 3), ".bmp"), ("casme3", (720, 1280, 3), ".jpg"),
                                                 ("mmew", (1080, 1920, 3), ".jpg"), ("casme", (720, 1280, 3), ".jpg")])
def test_release_geometry(tmp_path, layout, shape, suffix):
    """Each layout is written at its release's frame size and colour, read back by our readers, and SAMM's
    face lies inside the paper's 420×420 centre crop."""
    from mfdan.data.images import read_image

    cfg = SynthConfig(subjects=1, samples_per_subject=1, max_frames=3)
    synthesize(layout, tmp_path / layout, cfg)
    frames = sorted(p for p in (tmp_path / layout).rglob("*") if p.suffix in (".jpg", ".bmp"))
    assert len(frames) == 3 and {p.suffix for p in frames} == {suffix}
    raw = cv2.imread(str(frames[0]), cv2.IMREAD_UNCHANGED)
    assert raw.shape == shape
    assert read_image(frames[0]).shape[:2] == shape[:2]
    ident = make_identity(layout, plan_layout(layout, cfg)[0].subject, cfg)
    if layout == "samm":
        h, w = shape
        inside = (np.abs(ident.points - [w / 2, h / 2]) < 210).all()
        assert inside, "a landmark falls outside the 420x420 centre crop"
    if layout == "casme2":  # the face fills roughly CASME II's 280x340 face area of the 640x480 frame
        span = ident.points.max(axis=0) - ident.points.min(axis=0)
        assert 150 < span[0] < 300 and 150 < span[1] < 300


def test_interrupted_synth_leaves_nothing(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = generator.write_image

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        real(*a, **k)

    monkeypatch.setattr(generator, "write_image", flaky)
    with pytest.raises(KeyboardInterrupt):
        synthesize("smic", tmp_path / "out", SynthConfig(subjects=1, samples_per_subject=2, max_frames=4,
                                                          check_faces=False))
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="already exists"):
        synthesize("smic", tmp_path / "out", TINY)


SYNTH_TREE_HASH = """
import hashlib, sys
from pathlib import Path
from dataclasses import replace
from mfdan.synth.config import SynthConfig
from mfdan.synth.generator import synthesize
from tests.conftest import TINY
out = Path(sys.argv[1])
synthesize("all", out / "compact", replace(TINY, faces=("astronaut", "grace_hopper")))
synthesize("samm", out / "release", SynthConfig(subjects=1, samples_per_subject=1, max_frames=3, check_faces=False))
h = hashlib.sha256()
for p in sorted(out.rglob("*")):
    if p.is_file():
        h.update(p.relative_to(out).as_posix().encode() + b"\\0" + p.read_bytes())
print(h.hexdigest())
"""


def reduced_isa_env() -> dict[str, str]:
    """Every run-time-dispatched SIMD feature this machine has, switched off: OpenCV's (its features line marks
    them with *), NumPy's dispatch targets, libjpeg-turbo's SIMD and glibc's AVX/FMA math variants; what a
    machine with only the x86-64 baseline would run."""
    import cv2
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    cv_off = [f.lstrip("*") for f in cv2.getCPUFeaturesLine().split() if f.startswith("*")]
    np_off = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    return {"OPENCV_CPU_DISABLE": ",".join(cv_off), "NPY_DISABLE_CPU_FEATURES": " ".join(np_off),
            "JSIMD_FORCENONE": "1", "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA,-AVX"}


def test_demo_data_is_byte_identical_across_cpu_feature_levels(tmp_path):
    """The demo dataset every user starts from must not depend on the CPU: the same generator run with all
    SIMD features disabled writes the same bytes (layouts, sheets and manifests, both face photos, the
    release geometry's grey SAMM frames) as on this machine."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    hashes = {}
    for name, extra in (("native", {}), ("baseline", reduced_isa_env())):
        env = {k: v for k, v in os.environ.items() if k not in reduced_isa_env()} | extra
        res = subprocess.run([sys.executable, "-c", SYNTH_TREE_HASH, str(tmp_path / name)], cwd=repo, env=env,
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        hashes[name] = res.stdout.strip().splitlines()[-1]
    assert hashes["native"] == hashes["baseline"], hashes


def test_workers_do_not_change_the_bytes(tmp_path):
    """Subjects are written by worker processes; one process or two write the same tree."""
    cfg = SynthConfig(seed=5, subjects=2, samples_per_subject=1, max_frames=3, geometry="compact", frame_size=128,
                      check_faces=False)
    synthesize("casme2", tmp_path / "one", SynthConfig(**{**cfg.__dict__, "workers": 1}))
    synthesize("casme2", tmp_path / "two", SynthConfig(**{**cfg.__dict__, "workers": 2}))
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")
    assert "workers" not in (tmp_path / "one" / "synth_manifest.json").read_text()


def test_background_outside_the_face_window_is_coarse_and_the_window_is_not():
    """Outside the face window the identity frame is constant on BACKGROUND_STEP cells; inside it is not."""
    ident = make_identity("casme2", "sub01", SynthConfig(noise=0.0))
    x0, y0, x1, y1 = ident.geometry.window()
    st = BACKGROUND_STEP
    corner = ident.image[:y0 - y0 % st, :x0 - x0 % st]  # whole cells left of and above the window
    assert corner.size and np.array_equal(corner, np.repeat(np.repeat(corner[::st, ::st], st, 0), st, 1))
    face = ident.image[y0:y1, x0:x1]
    assert not np.array_equal(face[:st * 4, :st * 4], np.repeat(np.repeat(face[:st * 4:st, :st * 4:st], st, 0), st, 1))


def test_casme_sections_have_both_cameras_sizes(tmp_path):
    """CASME's Section A (sub01-sub07) is 1280×720, Section B (sub08-) 640×480, each in its section's folder."""
    synthesize("casme", tmp_path / "casme", SynthConfig(subjects=2, samples_per_subject=1, max_frames=3))
    a = sorted((tmp_path / "casme/CASME_A/Section A").rglob("*.jpg"))
    b = sorted((tmp_path / "casme/CASME_B/Section B").rglob("*.jpg"))
    assert a and b and {p.parts[-3] for p in a} == {"sub01"} and {p.parts[-3] for p in b} == {"sub08"}
    assert cv2.imread(str(a[0])).shape == (720, 1280, 3) and cv2.imread(str(b[0])).shape == (480, 640, 3)


# --- the hard set's confounders (blinks, head drift and roll, AU variants, weaker motion) ------------------------
QUIET = dict(noise=0.0, jitter=0.0, amplitude=(1e-6, 1e-6))  # no expression, noise or jitter: only the confounder


def hard_clip(**kw):
    """A SAMM-geometry clip (grey, 400 px face) with only the confounders in ``kw``, its frames and draws."""
    cfg = SynthConfig(**QUIET, **kw)
    ident = make_identity("samm", "006", cfg)
    plan = ClipPlan("samm", "006", "006_1_2", "anger", "4+7", onset=100, apex=104, offset=108,
                          motion=EMOTION_AUS["anger"], label3="negative")
    frames = render_clip(ident, plan, cfg)
    return ident, frames, clip_nuisance(plan, cfg, len(frames), ident.geometry.face)


def test_confounders_are_off_by_default():
    """The demo draws none of them: no nuisance, every clip moves as its emotion's AUs at full weight."""
    cfg = SynthConfig()
    plan = plan_layout("casme2", cfg)[0]
    assert clip_nuisance(plan, cfg, 9, 310.0) is None
    assert all(p.weights == () and p.motion in EMOTION_AUS.values() for p in plan_layout("samm", cfg))


def head_motion(ident, frames):
    """The rigid motion from the first frame to the last, fitted by OpenCV's ECC alignment (Euclidean) of the
    face windows: (dx, dy, degrees) of the face centre."""
    x0, y0, x1, y1 = ident.geometry.window()
    a, b = (np.float32(f[y0:y1, x0:x1]) for f in (frames[0], frames[-1]))
    stop = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-7)
    _, m = cv2.findTransformECC(a, b, np.eye(2, 3, dtype=np.float32), cv2.MOTION_EUCLIDEAN, stop, None, 5)
    cx, cy = ident.geometry.centre[0] - x0, ident.geometry.centre[1] - y0
    moved = m.astype(np.float64) @ np.array([cx, cy, 1.0])
    return moved[0] - cx, moved[1] - cy, math.degrees(math.atan2(float(m[1, 0]), float(m[0, 0])))


def test_head_drift_translates_the_face_from_none_at_the_onset():
    ident, frames, nz = hard_clip(drift=0.1)  # this draw: ~2.4 px
    _, still, _ = hard_clip()
    assert nz.blink.max() == 0 and nz.angle == 0 and math.hypot(*nz.shift) > 1
    assert np.array_equal(frames[0], still[0])  # the onset, where alignment is estimated, is not moved
    dx, dy, deg = head_motion(ident, frames)
    assert (dx, dy) == pytest.approx(nz.shift, abs=0.1) and abs(deg) < 0.02  # moved by the drawn shift


def test_head_roll_rotates_the_face_about_its_centre_by_the_drawn_angle():
    ident, frames, nz = hard_clip(roll=3.0)
    assert abs(nz.angle) > 0.5 and nz.shift == (0.0, 0.0)
    dx, dy, deg = head_motion(ident, frames)
    assert deg == pytest.approx(nz.angle, abs=0.05) and math.hypot(dx, dy) < 0.1


def test_a_blink_moves_the_lids_and_not_the_mouth():
    ident, frames, nz = hard_clip(blink_rate=1.0)
    assert nz.blink.max() > 0.5 and (nz.blink == 0).any()
    peak, rest = int(nz.blink.argmax()), int(np.flatnonzero(nz.blink == 0)[0])
    diff = np.abs(np.float64(frames[peak]) - np.float64(frames[rest]))

    def near(idx):
        return max(diff[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4].max() for x, y in ident.points[idx])

    assert near([37, 38, 43, 44]) > 5  # the upper lids move by px
    assert near(list(range(48, 68))) < 0.5  # the mouth does not


def test_au_variants_draw_several_combinations_per_class_at_their_own_intensities():
    cfg = SynthConfig(au_variants=True)
    plans = [p for lay in ("casme2", "samm", "smic") for p in plan_layout(lay, cfg) if p.label3]
    by_class = {}
    for p in plans:
        assert p.motion in AU_VARIANTS[p.label3]
        assert len(p.weights) == len(p.motion) and all(AU_INTENSITY[0] <= w <= AU_INTENSITY[1]
                                                       for w in p.weights)
        by_class.setdefault(p.label3, set()).add(p.motion)
    assert set(by_class) == {"negative", "positive", "surprise"} and all(len(v) >= 2 for v in by_class.values())
    ident = make_identity("casme2", "sub01", SynthConfig())
    aus = ("AU6", "AU12")
    assert np.array_equal(motion_field(ident.points, aus, 320, 240, (1.0, 1.0)),
                          motion_field(ident.points, aus, 320, 240))
    mouth_only = motion_field(ident.points, aus, 640, 480, (1e-9, 1.0))
    assert np.allclose(mouth_only, motion_field(ident.points, ("AU12",), 640, 480), atol=1e-6)
    with pytest.raises(ValueError, match="2 weights for 1 AUs"):
        motion_field(ident.points, ("AU12",), 64, 64, (1.0, 1.0))


def test_the_hard_set_is_valid_params_and_writes_the_same_bytes_twice(tmp_path):
    """``--set hard`` builds through the params registry, and its generator output is deterministic."""
    from mfdan.core.params import Params
    from mfdan.sweep.sets import load_set

    repo = Path(__file__).resolve().parents[1]
    cfg = Params(load_set("hard", repo=repo).values).section("synth", SynthConfig)
    assert cfg.au_variants and cfg.blink_rate > 0 and cfg.drift > 0 and cfg.roll > 0
    assert cfg.amplitude[1] < SynthConfig().amplitude[0] + 0.5  # weaker motion than the demo's
    small = SynthConfig(**{**cfg.__dict__, "subjects": 1, "samples_per_subject": 3, "geometry": "compact",
                           "frame_size": 160, "check_faces": False})
    synthesize("casme2", tmp_path / "a", small)
    synthesize("casme2", tmp_path / "b", small)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    # the manifest says what each clip holds: its AUs and weights, its blink and head motion
    samples = json.loads((tmp_path / "a" / "synth_manifest.json").read_text())["samples"]
    emotional = [s for s in samples if s["label3"]]  # ('others' clips move as before, every AU at 1)
    assert emotional and all(len(s["weights"]) == len(s["motion"]) for s in emotional)
    assert all(len(s["confounders"]["blink"]) == small.max_frames for s in samples)
    demo = SynthConfig(subjects=1, samples_per_subject=1, max_frames=3, geometry="compact", frame_size=160,
                       check_faces=False)
    synthesize("casme2", tmp_path / "demo", demo)
    assert "confounders" not in (tmp_path / "demo" / "synth_manifest.json").read_text()

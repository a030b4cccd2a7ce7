"""Spotting on generated long recordings over several generator seeds, and what each rule against false alarms
is worth.

    python bench/spotting.py --seeds 0 1 2 [--params long/params.yaml] [--model models/final]

Per seed: long recordings written with long/params.yaml's ``long_synth`` (seed replaced) into a temporary
folder, the face tracking and features the ``features@`` stages compute, the training-free spotter (LBP
feature difference) and the learned one (SOFTNet, leave-one-subject-out, training seed = generator seed), and
today's whole-video-as-one-clip. Printed, as mean ± sd with the per-seed values:

* MEGC micro / macro F1 (IoU ≥ 0.5), micro precision and recall, and STRS (micro proposals recognised by
  ``--model``), for the three;
* the rules of mfdan/spotting/peaks.py switched off one at a time (same features and SOFTNet curves; the eye
  mask needs the feature-difference features recomputed): micro F1 and where the false alarms lie — over a
  blink, a head turn, a macro-expression, a micro-expression missed by IoU, or nothing the generator made
  (sensor noise and jitter), from the generator's manifest;
* tracking + features speed in frames per second on this CPU (one process).

``--release-speed S`` instead writes one S-second recording per layout at the releases' geometry and rate
(CAS(ME)² 640×480 colour at 30 fps, SAMM 2040×1088 grey at 200 fps) and times tracking + features on it:
the training-free spotter's features alone (what ``mfdan predict`` computes), with SOFTNet's Farnebäck inputs
(the demo profile), and with its TV-L1 inputs (the paper's).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from mfdan.core.params import Params
from mfdan.data.long_config import LongDataConfig
from mfdan.data.long_readers import read_long
from mfdan.data.long_records import Interval
from mfdan.predict.model_card import load_final
from mfdan.spotting import feature_difference, softnet
from mfdan.spotting.config import SoftNetConfig, SpotConfig
from mfdan.spotting.faces import track
from mfdan.spotting.features import compute_features
from mfdan.predict.recognise_stage import label_intervals
from mfdan.spotting.scoring import evaluate, match
from mfdan.spotting.spot_stage import whole_video
from mfdan.spotting.video_frames import files_stream
from mfdan.synth.long_plan import LongSynthConfig
from mfdan.synth.long_videos import synthesize_long

CLASSES = ("negative", "positive", "surprise")
ARMS = {  # rule switched off -> SpotConfig changes
    "all rules": {},
    "no macro mask": {"mask_macro": False},
    "no macro rules": {"mask_macro": False, "drop_in_macro": False, "max_micro": 1e9},
    "no head gate": {"head_motion": 1e9},
    "no eye mask": {"mask_eyes": False},
}


def false_alarms(truth: list[Interval], spotted: list[Interval], events: list[dict]) -> Counter:
    """Micro false positives by what they overlap in the generator's manifest."""
    t = [iv for iv in truth if iv.kind == "micro"]
    p = [iv for iv in spotted if iv.kind == "micro"]
    hits = {pi for _, pi in match(t, p)}
    out = Counter()
    for pi, iv in enumerate(p):
        if pi in hits:
            continue
        over = {e["kind"] for e in events if e["onset"] <= iv.offset and iv.onset <= e["offset"]}
        out[next((k for k in ("micro", "macro", "blink", "head") if k in over), "nothing")] += 1
    return out


def one_seed(seed: int, params: Params, fm, tmp: Path) -> tuple[dict, float]:
    syn = dataclasses.replace(params.section("long_synth", LongSynthConfig), seed=seed)
    data = params.section("long_data", LongDataConfig)
    cfg = params.section("spot", SpotConfig)
    net = dataclasses.replace(params.section("softnet", SoftNetConfig), seed=seed)
    root = tmp / f"seed{seed}"
    synthesize_long(root, syn)
    frames, seconds = 0, 0.0
    pairs: dict[tuple[str, str], list] = {}
    alarms: dict[tuple[str, str], Counter] = {}
    for dataset in syn.layouts:
        events = {r["video"]: r["events"] for r in
                  json.loads((root / dataset / "synth_manifest.json").read_text())["recordings"]}
        videos = read_long(dataset, root / dataset, fps=data.fps.get(dataset))
        recs = []
        for v in videos:
            t = time.perf_counter()
            feat = compute_features(track(files_stream(v.frames), cfg), len(v.frames), v.fps, cfg, net)
            seconds += time.perf_counter() - t
            frames += len(v.frames)
            recs.append((v, feat))
        no_eye = dataclasses.replace(cfg, mask_eyes=False)
        plain = {v.key: compute_features(track(files_stream(v.frames), no_eye), len(v.frames), v.fps, no_eye)
                 for v, _ in recs}
        curves = softnet.loso_curves([softnet.Recording(v.key, v.subject, f, list(v.intervals)) for v, f in recs], net)
        for v, f in recs:
            for arm, change in ARMS.items():
                c = dataclasses.replace(cfg, **change)
                spotted = {"feature_difference": feature_difference.spot(plain[v.key] if arm == "no eye mask" else f, c)}
                if arm != "no eye mask":
                    spotted["softnet"] = softnet.spot(curves[v.key], f, c, net)
                if arm == "all rules":
                    spotted["whole_video"] = whole_video(f.face)
                for name, ivs in spotted.items():
                    if arm == "all rules":  # recognised, for STRS
                        rows, _ = label_intervals(fm, v, list(v.frames), [iv.to_json() for iv in ivs])
                        ivs = [Interval(**{k: r[k] for k in ("onset", "apex", "offset", "kind", "score", "label")})
                               for r in rows]
                    pairs.setdefault((arm, name), []).append((list(v.intervals), ivs))
                    alarms.setdefault((arm, name), Counter()).update(false_alarms(list(v.intervals), ivs,
                                                                                  events[v.video]))
    result = {}
    for key, ps in pairs.items():
        m = evaluate(ps, classes=CLASSES)
        result[key] = {"micro F1": m["micro"]["f1"], "precision": m["micro"]["precision"],
                       "recall": m["micro"]["recall"], "STRS": m["micro"]["strs"], "macro F1": m["macro"]["f1"],
                       **{f"FP {k}": alarms[key][k] for k in ("nothing", "blink", "head", "macro", "micro")}}
    return result, frames / seconds


def release_speed(seconds: float, params: Params) -> None:
    cfg = params.section("spot", SpotConfig)
    syn = LongSynthConfig(subjects=1, seconds=max(4.0, seconds), geometry="release", fps=0, face_gaps=False)
    with tempfile.TemporaryDirectory() as tmp:
        for layout in syn.layouts:
            root = Path(tmp) / layout
            t = time.perf_counter()
            synthesize_long(root, syn, layout=layout)
            made = time.perf_counter() - t
            v = read_long(layout, root)[0]
            line = []
            for name, net in (("features only", None), ("+ SOFTNet farneback", SoftNetConfig(flow="farneback")),
                              ("+ SOFTNet tvl1", SoftNetConfig(flow="tvl1"))):
                frames = v.frames if net is None or net.flow == "farneback" else v.frames[: int(v.fps)]  # tvl1: 1 s
                t = time.perf_counter()
                f = compute_features(track(files_stream(frames), cfg), len(frames), v.fps, cfg, net)
                dt = time.perf_counter() - t
                line.append(f"{name} {len(frames) / dt:.1f} frames/s ({len(frames)} frames, "
                            f"{int(f.face.sum())} with a face)")
            h, w = cv2_size(v.frames[0])
            print(f"{layout} {w}x{h} at {v.fps:g} fps (written in {made:.0f} s): " + "; ".join(line), flush=True)


def cv2_size(path: Path) -> tuple[int, int]:
    from mfdan.data.images import read_image

    return read_image(path).shape[:2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--params", type=Path, default=Path("long/params.yaml"))
    ap.add_argument("--model", type=Path, default=Path("models/final"))
    ap.add_argument("--release-speed", type=float, default=0.0, metavar="S")
    args = ap.parse_args()
    params = Params.load(args.params)
    if args.release_speed:
        return release_speed(args.release_speed, params)
    fm = load_final(args.model, torch.device("cpu"))
    runs, speeds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            t = time.perf_counter()
            m, fps = one_seed(seed, params, fm, Path(tmp))
            runs.append(m)
            speeds.append(fps)
            d = m[("all rules", "feature_difference")], m[("all rules", "softnet")]
            print(f"seed {seed}: micro F1 feature_difference {d[0]['micro F1']:.3f}, softnet {d[1]['micro F1']:.3f}; "
                  f"tracking + features {fps:.1f} frames/s ({time.perf_counter() - t:.0f} s)", flush=True)
    print(f"\nmean ± sd over seeds {args.seeds} (per-seed values in brackets)")
    table = {}
    for key in runs[0]:
        arm, name = key
        cells = []
        for metric in runs[0][key]:
            if arm != "all rules" and metric in ("STRS", "macro F1"):
                continue
            vals = [r[key][metric] for r in runs]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            table.setdefault(f"{arm} / {name}", {})[metric] = vals
            fmt = (lambda x: f"{x:.3f}") if not metric.startswith("FP") else (lambda x: f"{x:.1f}")
            cells.append(f"{metric} {fmt(statistics.mean(vals))} ± {fmt(sd)} {[round(v, 3) for v in vals]}")
        print(f"  {arm:<15} {name:<19} " + "; ".join(cells))
    print(f"  tracking + features: {statistics.mean(speeds):.1f} frames/s (per seed {[round(v, 1) for v in speeds]}), "
          f"one process, {torch.get_num_threads()} torch threads")
    print(json.dumps(table))


if __name__ == "__main__":
    main()

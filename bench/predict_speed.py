"""Does long-video ``mfdan predict`` keep up with the camera? (issue 47 item 4: ≥ 30 frames/s end to end at
640×480, 30 fps, on the 2-core CPU, with either spotter.)

    python bench/predict_speed.py                               # the smoke recording ×3 (24 s), LBP spotter
    python bench/predict_speed.py --spotter lbp softnet --runs 3 --name predict_speed
    python bench/predict_speed.py --video my.mp4 --model models/final --spotter-model long/models/spotter
    python bench/predict_speed.py --omp-wait passive          # PyTorch's OpenMP threads sleep instead of spinning

The recording, unless ``--video`` is given, is the suite's smoke recording (``tests/test_recording.py``: a real
face photo at 640×480, 30 fps, moving its head, blinking, leaving and coming back, one expression), written
``--repeat`` times one after another with ``--codec``.

Per spotter, ``--runs`` passes of predict's own long-recording path (:func:`mfdan.predict.long_recording.
spot_recording`, with the model and dlib loaded once, as ``mfdan predict`` does before its first input), each
timed per part by clocks wrapped around the functions that module calls — *exclusive* seconds, a part's own time
without the parts it pulls from:

* ``decode``: OpenCV decoding the frames, to RGB (:func:`mfdan.spotting.video_frames.video_stream`);
* ``faces``: dlib's detector every ``detect_every`` frames, the 68 landmarks on every frame, the stretches
  (:func:`mfdan.spotting.faces.track`);
* ``features``: the aligned face, its LBP histograms and feature difference, with SOFTNet its flow inputs
  (:func:`mfdan.spotting.features.compute_features`);
* ``spotter network``: SOFTNet's forward passes (``softnet.confidences``; SOFTNet only);
* ``spotting``: curves, thresholds, peaks and the rules (``feature_difference.spot`` / ``softnet.spot``);
* ``recognition``: reading the onset and apex frames again and recognising each micro interval (align, flow,
  MagNet, the network: ``read_frames``, ``predict_clip``);
* ``other``: the rest of ``spot_recording``.

Each part is printed as frames/s (the recording's frames over that part's seconds: how fast it would go alone)
beside the decode-only floor (``video_stream`` alone, no face work) and the end-to-end rate; then the command
itself, ``mfdan predict --model M VIDEO --json --spotter S`` in a fresh process, start-up included. Without a
saved spotter (``--spotter-model``, default ``long/models/spotter``) SOFTNet is timed with untrained networks
(same shapes, same cost; their intervals, hence the recognition count, differ from a trained one's).

On cores other work shares, PyTorch's OpenMP threads spin at each parallel region's barrier while the other
thread waits for a core: ``--omp-wait passive`` (``OMP_WAIT_POLICY=PASSIVE``) or ``--torch-threads 1`` shows
what that costs recognition. ``--profile N`` adds a cProfile of one pass per spotter (its top N functions by own
time). ``--name N`` writes ``bench/results/N.md`` and ``N.json`` (generated files: rerun to update). Run it on a
quiet machine (``uptime``); the 1-minute load before and after is recorded.
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfdan.spotting.config import KINDS, SoftNetConfig, SpotConfig  # noqa: E402
from mfdan.sweep.tasks import cpu_identity  # noqa: E402

PARTS = ("decode", "faces", "features", "spotter network", "spotting", "recognition", "other")
GOAL = 30.0  #: frames/s: a 30 fps camera


class Clock:
    """Exclusive seconds per part: entering a part pauses the one it was entered from."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[str] = []
        self._t = time.perf_counter()

    def _switch(self) -> None:
        now = time.perf_counter()
        if self._stack:
            self.seconds[self._stack[-1]] += now - self._t
        self._t = now

    @contextmanager
    def part(self, key: str) -> Iterator[None]:
        self._switch()
        self._stack.append(key)
        try:
            yield
        finally:
            self._switch()
            self._stack.pop()

    def call(self, key: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            with self.part(key):
                return fn(*args, **kwargs)
        return timed

    def stream(self, key: str, fn: Callable[..., Iterator]) -> Callable[..., Iterator]:
        """``fn`` returns an iterator: each of its items is timed as ``key``."""
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            it = iter(fn(*args, **kwargs))

            def items():
                while True:
                    with self.part(key):
                        try:
                            x = next(it)
                        except StopIteration:
                            return
                    yield x
            return items()
        return timed


@contextmanager
def patched(clock: Clock) -> Iterator[None]:
    """The functions ``mfdan.predict.long_recording`` calls, wrapped with ``clock`` (restored on exit)."""
    from mfdan.predict import long_recording as lr
    from mfdan.spotting import feature_difference, softnet

    swaps: list[tuple[Any, str, Any]] = []

    def swap(owner: Any, name: str, wrap: Callable[[str, Callable], Callable], key: str) -> None:
        if hasattr(owner, name):
            swaps.append((owner, name, getattr(owner, name)))
            setattr(owner, name, wrap(key, getattr(owner, name)))

    swap(lr, "video_stream", clock.stream, "decode")
    swap(lr, "files_stream", clock.stream, "decode")
    swap(lr, "track", clock.stream, "faces")
    swap(lr, "compute_features", clock.call, "features")
    swap(softnet, "confidences", clock.call, "spotter network")
    swap(feature_difference, "spot", clock.call, "spotting")
    swap(feature_difference, "curves", clock.call, "spotting")
    swap(softnet, "spot", clock.call, "spotting")
    if hasattr(softnet, "StreamScorer"):  # predict's SOFTNet path: inputs scored as they stream
        swap(softnet.StreamScorer, "curves", clock.call, "spotting")
    swap(lr, "read_frames", clock.call, "recognition")
    swap(lr, "predict_clip", clock.call, "recognition")
    try:
        yield
    finally:
        for owner, name, fn in reversed(swaps):
            setattr(owner, name, fn)


def write_recording(path: Path, repeat: int, codec: str, face: str) -> Path:
    """The smoke recording of tests/test_recording.py, ``repeat`` times in one file."""
    from tests.test_recording import FPS, HEIGHT, WIDTH, record

    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.avi"
        record(one, "MJPG", face)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), FPS, (WIDTH, HEIGHT))
        if not writer.isOpened():
            sys.exit(f"{path}: OpenCV cannot write {codec}")
        try:
            for _ in range(repeat):
                cap = cv2.VideoCapture(str(one))
                while True:
                    ok, bgr = cap.read()
                    if not ok:
                        break
                    writer.write(bgr)
                cap.release()
        finally:
            writer.release()
    return path


def untrained_spotter(folder: Path, flow: str):
    """A spotter folder with untrained SOFTNet networks (its cost is a trained one's), loaded."""
    from mfdan.spotting.softnet import SOFTNet
    from mfdan.spotting.spotter_folder import load_spotter, spot_params, write_spotter_dir

    import torch

    net = SoftNetConfig(flow=flow)
    torch.manual_seed(0)  # the same untrained networks on every run, so the same intervals to recognise
    models = {k: SOFTNet(input_size=net.input_size) for k in KINDS}
    write_spotter_dir(folder, models, {"params": {"spot": spot_params(SpotConfig()), "softnet": asdict(net)},
                                       "trained_on": {"source": "untrained (bench/predict_speed.py: timing only)"}})
    return load_spotter(folder)


def decode_floor(video: Path) -> float:
    from mfdan.spotting.video_frames import video_stream

    t = time.perf_counter()
    for _ in video_stream(video):
        pass
    return time.perf_counter() - t


def one_pass(fm, video: Path, spotter) -> tuple[dict[str, float], float, int, int]:
    """One timed ``spot_recording``: seconds per part, total seconds, frames, answers."""
    from mfdan.predict.long_recording import spot_recording

    clock = Clock()
    with patched(clock):
        t = time.perf_counter()
        with clock.part("other"):
            kwargs = {"spotter": spotter} if spotter is not None else {}
            res = spot_recording(fm, video, SpotConfig(), **kwargs)
        total = time.perf_counter() - t
    return {p: clock.seconds.get(p, 0.0) for p in PARTS}, total, res.n, len(res.answers)


def profile_pass(fm, video: Path, spotter, top: int) -> str:
    from mfdan.predict.long_recording import spot_recording

    prof = cProfile.Profile()
    kwargs = {"spotter": spotter} if spotter is not None else {}
    prof.enable()
    spot_recording(fm, video, SpotConfig(), **kwargs)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    text = out.getvalue().replace(f"{REPO}/", "").replace(f"{Path(sys.prefix)}/", "")  # paths as in the repository
    lines = [line for line in text.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return "\n".join(lines[start - 2:])


def command(model: Path, video: Path, spotter: str, spotter_dir: Path | None) -> tuple[float, int, str]:
    """``mfdan predict`` as a user runs it: wall seconds, JSON lines, stderr."""
    cmd = [sys.executable, "-m", "mfdan", "predict", "--model", str(model), str(video), "--json", "--spotter", spotter]
    if spotter == "softnet" and spotter_dir is not None:
        cmd += ["--spotter-model", str(spotter_dir)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=video.parent)
    wall = time.perf_counter() - t
    if res.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr}")
    return wall, sum(line.startswith("{") for line in res.stdout.splitlines()), res.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, help="a recording to time (default: the smoke recording, written here)")
    ap.add_argument("--repeat", type=int, default=3, help="the smoke recording this many times (8 s each)")
    ap.add_argument("--codec", default="mp4v", help="FourCC of the written recording (mp4v: .mp4, MJPG: .avi)")
    ap.add_argument("--face", default="astronaut", choices=("astronaut", "grace_hopper"))
    ap.add_argument("--model", type=Path, default=REPO / "models" / "final")
    ap.add_argument("--spotter", nargs="+", default=["lbp", "softnet"], choices=("lbp", "softnet"))
    ap.add_argument("--spotter-model", type=Path, default=REPO / "long" / "models" / "spotter",
                    help="a saved spotter folder (else SOFTNet is timed untrained)")
    ap.add_argument("--flow", default="farneback", choices=("farneback", "tvl1"),
                    help="the untrained SOFTNet's flow (a saved spotter's card says its own)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile one pass: the top N functions")
    ap.add_argument("--no-command", action="store_true", help="skip the fresh-process mfdan predict run")
    ap.add_argument("--omp-wait", choices=("default", "passive", "active"), default="default",
                    help="OMP_WAIT_POLICY for PyTorch's OpenMP threads, here and in the command (set before torch is "
                         "imported; default: as the environment has it)")
    ap.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads here (0: PyTorch's default)")
    ap.add_argument("--name", help="write bench/results/NAME.md and NAME.json")
    args = ap.parse_args()
    if args.omp_wait != "default":
        if "torch" in sys.modules:
            sys.exit("--omp-wait: torch is imported already; OpenMP reads the policy once, at start-up")
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait.upper()
    if not (args.model / "card.json").is_file():
        sys.exit(f"{args.model}: no model folder (run `dvc repro` first, or pass --model)")
    load0 = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M")

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.video is None:
            suffix = ".mp4" if args.codec == "mp4v" else ".avi"
            t = time.perf_counter()
            video = write_recording(tmp / f"recording{suffix}", args.repeat, args.codec, args.face)
            print(f"wrote {video.name}: the smoke recording ({args.face}) x{args.repeat}, {args.codec}, "
                  f"in {time.perf_counter() - t:.1f} s")
        else:
            video = args.video.resolve()
        cap = cv2.VideoCapture(str(video))
        geometry = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                    float(cap.get(cv2.CAP_PROP_FPS)))
        cap.release()

        import torch

        from mfdan.predict.model_card import load_final
        from mfdan.preprocess.landmarks import load_models

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        fm = load_final(args.model, torch.device("cpu"))
        load_models()
        spotters: dict[str, Any] = {}
        for name in args.spotter:
            if name == "lbp":
                spotters[name] = None
            elif (args.spotter_model / "card.json").is_file():
                from mfdan.spotting.spotter_folder import load_spotter

                spotters[name] = load_spotter(args.spotter_model)
            else:
                spotters[name] = untrained_spotter(tmp / "spotter", args.flow)

        decode_floor(video)  # warm: the page cache, OpenCV's decoder
        floors = [decode_floor(video) for _ in range(args.runs)]
        results: dict[str, Any] = {}
        for name, spotter in spotters.items():
            passes = [one_pass(fm, video, spotter) for _ in range(args.runs + 1)][1:]  # the first warms up
            n = passes[0][2]
            parts = {p: statistics.median(x[0][p] for x in passes) for p in PARTS}
            total = statistics.median(x[1] for x in passes)
            flow = spotter.net.flow if spotter is not None else None
            trained = spotter is None or (args.spotter_model / "card.json").is_file()
            results[name] = {"frames": n, "answers": passes[0][3], "seconds": parts, "total_s": total,
                             "fps": {p: (n / s if s > 0 else None) for p, s in parts.items()},
                             "end_to_end_fps": n / total, "flow": flow, "trained": trained}
            if args.profile:
                results[name]["profile"] = profile_pass(fm, video, spotter, args.profile)
            if not args.no_command:
                folder = spotter.folder if spotter is not None else None
                wall, rows, _ = command(args.model, video, name, folder)
                results[name]["command"] = {"wall_s": wall, "fps": n / wall, "answers": rows}
        n = next(iter(results.values()))["frames"]
        floor = statistics.median(floors)
    load1 = os.getloadavg()

    report = {"video": str(args.video or f"smoke recording x{args.repeat} ({args.face}, {args.codec})"),
              "geometry": {"width": geometry[0], "height": geometry[1], "fps": geometry[2]}, "frames": n,
              "runs": args.runs, "decode_floor_fps": n / floor, "spotters": results, "goal_fps": GOAL,
              "load_1min": [load0[0], load1[0]], "cpu": cpu_identity(), "cores": os.cpu_count(), "date": started,
              "torch_threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
              "command": " ".join(["python", "bench/predict_speed.py",
                                                                             *sys.argv[1:]])}
    text = render(report)
    print(text)
    if args.name:
        out = REPO / "bench" / "results"
        (out / f"{args.name}.json").write_text(json.dumps(report, indent=1) + "\n")
        (out / f"{args.name}.md").write_text(text + "\n")
        print(f"wrote bench/results/{args.name}.md and .json")


def render(r: dict) -> str:
    g = r["geometry"]
    lines = ["# Long-video `mfdan predict` speed (generated by bench/predict_speed.py; rerun to update)", "",
             f"`{r['command']}`, {r['date']}: {r['video']}, {g['width']}x{g['height']} at {g['fps']:g} fps, "
             f"{r['frames']} frames; {r['cpu']}, {r['cores']} cores, torch threads {r['torch_threads']} (in process; "
             f"the command: PyTorch's default), OMP_WAIT_POLICY {r['omp_wait_policy']}; "
             f"1-minute load {r['load_1min'][0]:.2f} before, {r['load_1min'][1]:.2f} after (other work shares "
             f"the cores); medians of {r['runs']} passes after a warm-up one.", "",
             f"Decode-only floor (`video_stream` alone): **{r['decode_floor_fps']:.0f} frames/s**. Goal: "
             f"≥ {r['goal_fps']:g} frames/s end to end.", "",
             "frames/s per part: the recording's frames over that part's own seconds (what it would sustain alone).",
             ""]
    names = list(r["spotters"])
    label = {n: (n if n == "lbp" else f"softnet ({r['spotters'][n]['flow']}"
                 + ("" if r["spotters"][n]["trained"] else ", untrained") + ")") for n in names}
    lines += ["| part | " + " | ".join(f"{label[n]} s | frames/s" for n in names) + " |",
              "| --- |" + " --- | --- |" * len(names)]
    for p in PARTS:
        if all(r["spotters"][n]["seconds"][p] == 0 for n in names):
            continue
        cells = []
        for n in names:
            s, fps = r["spotters"][n]["seconds"][p], r["spotters"][n]["fps"][p]
            cells.append(f"{s:.2f} | {fps:.0f}" if fps else "— | —")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines.append("| **end to end** (in process) | " + " | ".join(
        f"{r['spotters'][n]['total_s']:.2f} | **{r['spotters'][n]['end_to_end_fps']:.1f}**" for n in names) + " |")
    if all("command" in r["spotters"][n] for n in names):
        lines.append("| `mfdan predict` (fresh process, start-up included) | " + " | ".join(
            f"{r['spotters'][n]['command']['wall_s']:.2f} | {r['spotters'][n]['command']['fps']:.1f}"
            for n in names) + " |")
    lines.append("")
    for n in names:
        s = r["spotters"][n]
        ok = "meets" if s["end_to_end_fps"] >= r["goal_fps"] else "misses"
        lines.append(f"- {label[n]}: {s['end_to_end_fps']:.1f} frames/s end to end = "
                     f"{s['end_to_end_fps'] / r['goal_fps']:.2f}x the camera ({ok} the goal), "
                     f"{s['end_to_end_fps'] / r['decode_floor_fps']:.3f}x the decode floor; {s['answers']} answers.")
    for n in names:
        if "profile" in r["spotters"][n]:
            lines += ["", f"cProfile, one pass, {label[n]} (top by own time):", "", "```",
                      r["spotters"][n]["profile"], "```"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

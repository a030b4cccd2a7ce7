"""Wall time of a two-frame ``mfdan predict``, start-up and model load included, each run a fresh process as a
user starts it; beside it, in the same run, the floor no prediction can go under: a Python that only imports
PyTorch. The issue's goal is 2 s wall on a 2-core CPU (docs/benchmarks.md).

    python bench/predict_time.py                       # models/final on two frames of the demo data, 5 runs
    python bench/predict_time.py --onset a.jpg --apex b.jpg --model models/final --runs 7

Prints each run's wall seconds and the parts ``--timings`` reports (import, load, dlib — loaded by the
preparing process beside the import —, read, align, flow, magnify, model), then the medians and the ratio of
the prediction's median wall time to the import floor's.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def wall(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr}")
    return time.perf_counter() - t, res.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "models" / "final")
    ap.add_argument("--onset", type=Path, default=REPO / "data/raw/casme2/sub02/EP01_11f/img46.jpg")
    ap.add_argument("--apex", type=Path, default=REPO / "data/raw/casme2/sub02/EP01_11f/img47.jpg")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    for p in (args.onset, args.apex, args.model / "card.json"):
        if not p.is_file():
            sys.exit(f"{p}: missing (run `dvc repro` first, or pass --model / --onset / --apex)")
    predict = [str(BIN / "mfdan"), "predict", "--model", str(args.model), "--onset", str(args.onset),
               "--apex", str(args.apex), "--timings"]
    floor_cmd = [sys.executable, "-c", "import torch"]
    first, _ = wall(predict)  # writes bytecode where missing, warms the page cache: reported, not counted
    print(f"first run: {first:.2f} s wall (not counted)")
    walls, floors, parts = [], [], []
    for i in range(args.runs):  # interleaved, so a drift of the machine's speed hits both alike
        floors.append(wall(floor_cmd)[0])
        w, out = wall(predict)
        walls.append(w)
        line = next(x for x in out.splitlines() if "seconds: " in x).split("seconds: ")[1]
        parts.append({k: float(v) for k, v in (item.split() for item in line.split(", "))})
        print(f"run {i + 1}: predict {w:.2f} s wall ({line}); import torch alone {floors[-1]:.2f} s")
    med = statistics.median(walls)
    floor = statistics.median(floors)
    print(f"predict: median {med:.2f} s wall (min {min(walls):.2f}, max {max(walls):.2f}) over {args.runs} runs")
    print("parts (median s): " + ", ".join(f"{k} {statistics.median(p[k] for p in parts):.3f}" for k in parts[0]))
    print(f"`python -c 'import torch'`: median {floor:.2f} s; predict / that floor: {med / floor:.2f}")
    print(f"goal 2 s: {'met' if med <= 2.0 else 'not met'} (median)")


if __name__ == "__main__":
    main()

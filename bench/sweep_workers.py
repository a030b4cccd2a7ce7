"""Wall time of one sweep on one worker vs on N, in one run, and whether the results are the same bytes.

    python bench/sweep_workers.py                     # the demo's MFDAN LOSO, seed 0, 1 vs 2 workers
    python bench/sweep_workers.py --workers 4 --arm flow_driven --arm self_only --seeds 0-1

Each sweep starts from an empty store in a temporary folder (the set's caches are restored from the project's
DVC run cache, so both pay the same set-up), runs as ``mfdan sweep`` runs it (an embedded LocalCluster,
``--threads 1`` per task), and is timed from the command's start to its end, start-up included. Prints both
wall times, their ratio, the median seconds per fold, and whether every stored fold is byte-identical.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MFDAN = Path(sys.executable).parent / "mfdan"


def sweep(store: Path, workers: int, args: argparse.Namespace) -> tuple[float, dict]:
    cmd = [str(MFDAN), "sweep", "--set", args.set, "--seeds", args.seeds, "--workers", str(workers),
           "--store", str(store), "--json", *[x for a in args.arm for x in ("--arm", a)]]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return wall, json.loads(res.stdout)


def stored(result: dict) -> dict[str, dict[str, bytes]]:
    return {label: {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.name != "task.json"}
            for label, folder in result["tasks"].items()}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="demo")
    ap.add_argument("--arm", action="append", default=[], help="mfdan sweep --arm (default: mfdan:)")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--workers", type=int, default=2, help="the N compared with one worker")
    args = ap.parse_args()
    args.arm = args.arm or ["mfdan:"]
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        one, r1 = sweep(Path(tmp) / "one", 1, args)
        many, rn = sweep(Path(tmp) / "many", args.workers, args)
        same = stored(r1) == stored(rn)
    tasks = len(r1["tasks"])
    secs = {a: c["seconds_per_fold_median"] for a, c in r1["cost"].items()}
    print(f"{cpu_name()}, {len(r1['tasks'])} tasks ({', '.join(r1['arms'])}; seeds {args.seeds}; set {args.set})")
    print(f"1 worker: {one:.1f} s; {args.workers} workers: {many:.1f} s; ratio {one / many:.2f}x "
          f"(ideal {args.workers}x); median s per fold at 1 worker: "
          + ", ".join(f"{a} {s:.1f}" for a, s in secs.items()))
    print(f"stored folds byte-identical between the two: {same} ({tasks} tasks)")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()

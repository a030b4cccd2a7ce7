"""Preprocessing throughput and memory, measured in one run.

    python bench/preprocess.py [--clips 24] [--workers 0]

Generates N clips (``mfdan synth``, CASME II layout), then prints:
* samples per second of the align, flow and pack stages;
* the TV-L1-only floor: the same aligned pairs through ``calc`` alone, in the same number of processes with
  one OpenCV thread each, and the ratio flow-stage time / floor (goal ≤ 1.5) and
  (align + flow + pack) / floor;
* peak RSS of ``pack`` (each in a fresh process) at N and 4N samples and the growth ratio (goal ≤ 1.2).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from mfdan.core.parallel import imap_ordered, worker_count
from mfdan.core.params import Params
from mfdan.data.index_file import write_index
from mfdan.data.protocols import get_protocol
from mfdan.data.validate import read_for_protocol
from mfdan.preprocess import align_stage, flow_stage, pack_stage
from mfdan.preprocess.optical_flow import FlowConfig, tvl1
from mfdan.synth.config import SynthConfig
from mfdan.synth.generator import synthesize


def calc_only(job):
    onset, apex, cfg = job
    tvl1(cfg).calc(onset[..., 1], apex[..., 1], None)  # one channel: same cost as the grey conversion path
    return 0


def index_clips(root: Path, out: Path, repeat: int = 1) -> int:
    """The pipeline's sample index of the generated clips; ``repeat`` > 1 lists the same clips again under new
    ids (k-th copy after the (k-1)-th)."""
    proto = get_protocol("casme2")
    labelled = proto.select(read_for_protocol("casme2", root))
    if repeat > 1:
        labelled = [(replace(s, sample_id=f"{s.sample_id}_{k}"), lab) for k in range(repeat) for s, lab in labelled]
    write_index(out, proto.name, list(proto.classes), labelled)
    return len(labelled)


def pack_rss(index: Path, aligned: Path, flow: Path, out: Path) -> int:
    code = ("import resource, sys; from pathlib import Path; from mfdan.preprocess import pack_stage; "
            "i, a, f, o = map(Path, sys.argv[1:5]); pack_stage.run(index=i, aligned=a, flow=f, out=o); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    res = subprocess.run([sys.executable, "-c", code, str(index), str(aligned), str(flow), str(out)],
                         capture_output=True, text=True, check=True)
    return int(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    workers = worker_count(args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        per_subject = 6
        cfg = SynthConfig(subjects=max(1, -(-args.clips // per_subject)), samples_per_subject=per_subject,
                          check_faces=False)
        synthesize("casme2", tmp / "raw", cfg)
        n = index_clips(tmp / "raw", tmp / "index.json")
        params = Params({"data": {"protocol": "casme2"}, "align": {"workers": workers}, "flow": {"workers": workers}})
        flow_cfg = params.section("flow", FlowConfig)
        print(f"{n} clips, {workers} worker processes, 224² aligned pairs, TV-L1 at OpenCV defaults")

        t = time.perf_counter()
        align_stage.run(params=params, index=tmp / "index.json", out=tmp / "aligned.h5", report=tmp / "align.json")
        t_align = time.perf_counter() - t
        t = time.perf_counter()
        flow_stage.run(params=params, aligned=tmp / "aligned.h5", out=tmp / "flow.h5")
        t_flow = time.perf_counter() - t
        t = time.perf_counter()
        pack_stage.run(index=tmp / "index.json", aligned=tmp / "aligned.h5", flow=tmp / "flow.h5", out=tmp / "cache.h5")
        t_pack = time.perf_counter() - t

        with h5py.File(tmp / "aligned.h5") as f:
            pairs = [(f["onset"][i], f["apex"][i], flow_cfg) for i in range(n)]
        t = time.perf_counter()
        for _ in imap_ordered(calc_only, pairs, workers=workers, total=n, desc="calc only"):
            pass
        t_floor = time.perf_counter() - t

        print(f"align  {n / t_align:7.2f} samples/s  ({t_align:.1f} s)")
        print(f"flow   {n / t_flow:7.2f} samples/s  ({t_flow:.1f} s)")
        print(f"pack   {n / t_pack:7.2f} samples/s  ({t_pack:.1f} s)")
        print(f"TV-L1 calc-only floor {n / t_floor:.2f} samples/s ({t_floor:.1f} s)")
        print(f"ratio flow stage / floor:           {t_flow / t_floor:.2f}  (goal ≤ 1.5)")
        print(f"ratio align+flow+pack / floor:      {(t_align + t_flow + t_pack) / t_floor:.2f}")

        # pack peak RSS at N and 4N (the same clips under new ids, so only the count changes)
        for name in ("aligned.h5", "flow.h5"):
            with h5py.File(tmp / name) as src, h5py.File(tmp / f"x4_{name}", "w") as dst:
                for key in src:
                    data4 = src[key][()]
                    if key == "sample_id":
                        data4 = [f"{s.decode()}_{k}" for k in range(4) for s in data4]
                    else:
                        data4 = np.concatenate([data4] * 4)
                    dst.create_dataset(key, data=data4, chunks=(1, *data4.shape[1:]) if getattr(data4, "ndim", 1) > 1 else None)
        n4 = index_clips(tmp / "raw", tmp / "index4.json", repeat=4)
        rss1 = pack_rss(tmp / "index.json", tmp / "aligned.h5", tmp / "flow.h5", tmp / "p1.h5")
        rss4 = pack_rss(tmp / "index4.json", tmp / "x4_aligned.h5", tmp / "x4_flow.h5", tmp / "p4.h5")
        print(f"pack peak RSS: {rss1 / 1024:.1f} MiB at N={n}, {rss4 / 1024:.1f} MiB at 4N={n4}; "
              f"growth {rss4 / rss1:.3f}  (goal ≤ 1.2)")


if __name__ == "__main__":
    main()

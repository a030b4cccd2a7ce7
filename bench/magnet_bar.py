"""Score magnifiers on the MagNet bar (docs/magnet.md): held-out generated pairs and a set's own clips.

    python bench/magnet_bar.py models/checkpoints/magnet_procedural.pth              # + linear and none
    python bench/magnet_bar.py old.pth new.pth --aligned data/aligned.h5 --out bench/results/magnet_bar.md

Each ``.pth`` (a MagNet state_dict: ours, the community checkpoint, a training snapshot) and the two reference
magnifiers (``linear``: two-frame Eulerian; ``none``: the apex itself) get one row: the held-out scores of
``evaluate_quality`` (MagNet only) and the clip measures' medians at α = 2.5 over every clip of ``--aligned``
(the demo's aligned onsets and apexes by default) and over six clips of a real face no generator here was tuned
on, moved by a known sub-pixel motion (matplotlib's Grace Hopper photo: ``tests/test_magnet.py: face_clips``),
each with whether it passes. Prints a Markdown table; ``--out`` also writes it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfdan.core.rows import open_rows  # noqa: E402
from mfdan.magnify.magnet import load_magnet  # noqa: E402
from mfdan.magnify.magnet_training import evaluate_quality  # noqa: E402
from mfdan.magnify.magnification import MagnifyConfig, magnify  # noqa: E402
from mfdan.magnify.quality import clip_agreement, summarise, synthetic_failures  # noqa: E402
from tests.test_magnet import face_clips  # noqa: E402

ALPHA = 2.5


def clip_scores(pairs, method: str, model) -> dict:
    cfg = MagnifyConfig(method=method)
    rows = []
    for onset, apex in pairs:
        out = magnify(onset, apex, np.array([ALPHA], np.float32), cfg, model)[0]
        base = magnify(onset, apex, np.array([1.0], np.float32), cfg, model)[0] if model is not None else None
        rows.append(clip_agreement(onset, apex, out, ALPHA, base))
    return summarise(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="*", type=Path)
    ap.add_argument("--aligned", type=Path, default=REPO / "data" / "aligned.h5")
    ap.add_argument("--pairs", type=int, default=64, help="held-out generated pairs")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.manual_seed(0)
    with open_rows(args.aligned, ("onset", "apex")) as f:
        demo = list(zip(f["onset"][()], f["apex"][()]))
    grace = face_clips()
    head = ("| magnifier | held-out: α = 1 (dB) | held-out: gain at α 2–8 (dB) | synthetic bar | "
            f"{args.aligned.name}: motion r / size / flow cos / recon dB | clip bar | "
            "real face: motion r / size / flow cos / recon dB | clip bar |")
    lines = [head, "| " + " | ".join(["---"] * 9) + " |"]
    entries = [(str(p), "magnet", load_magnet(p).eval()) for p in args.weights] + \
              [("linear", "linear", None), ("none", "none", None)]
    for name, method, model in entries:
        if model is not None:
            q = evaluate_quality(model, pairs=args.pairs)
            held = (f"{q['reconstruction']['magnet']:.2f}", f"{q['magnification']['gain_db']:+.2f}",
                    "passed" if not synthetic_failures(q) else "missed")
        else:
            held = ("—", "—", "—")
        cells = []
        for pairs in (demo, grace):
            s = clip_scores(pairs, method, model)
            cells += [f"{s['motion_r']['median']:+.2f} / {s['motion_size']['median']:.2f} / "
                      f"{s['flow_cosine']['median']:+.2f} / {s['reconstruction_db']['median']:.1f}",
                      "passed" if s["passes"] else "missed"]
        lines.append(f"| {name} | " + " | ".join([*held, *cells]) + " |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if args.out:
        args.out.write_text(f"`python bench/magnet_bar.py {' '.join(str(p) for p in args.weights)}` "
                            f"(α = {ALPHA} on the clips; {args.pairs} held-out pairs)\n\n" + text)


if __name__ == "__main__":
    main()

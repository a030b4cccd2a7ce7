"""One paper-config LOSO fold on a GPU, timed in fp32 and with AMP, rerun and compared byte for byte.

Run by ``bench/gpu_check.sh`` on a borrowed CUDA machine, from caches built here (``bench/gpu_check.sh
prepare``): the demo data at the paper's 224 px. The model and train sections come from ``--params`` (default
the paper's composite profile), the data from the caches; nothing needs dvc, dlib or opencv-contrib.

    python bench/gpu_check.py                                   # CUDA, the paper profile, 3 runs
    python bench/gpu_check.py --device cpu --cache data/cache.h5 --magnified data/magnified.h5 \\
        --params params.yaml --epochs 1                         # the same code path on CPU (a smoke run)

Prints one summary screen and writes it as JSON (``--out``).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mfdan.core.device import resolve_device  # noqa: E402
from mfdan.core.params import load_variant  # noqa: E402
from mfdan.model.network import MFDAN, MFDANConfig  # noqa: E402
from mfdan.train.fold_data import check_fold, check_sizes, load_data  # noqa: E402
from mfdan.train.loop import TrainConfig, train_fold  # noqa: E402


def weights_digest(model: torch.nn.Module) -> str:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()


def one_run(name: str, fold: str, data, model_cfg: MFDANConfig, cfg: TrainConfig, device: torch.device) -> dict:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    r = train_fold(fold, data, model_cfg, cfg, progress=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"run": name, "amp": cfg.amp, "seconds": round(seconds, 2),
            "seconds_per_epoch": round(seconds / max(1, len(r.curve)), 3),
            "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.type == "cuda" else None,
            "final_train_loss": round(r.curve[-1]["train_loss"], 6), "weights_sha256": weights_digest(r.model),
            "probs": r.probs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=REPO / "bench/gpu/cache.h5")
    ap.add_argument("--magnified", type=Path, default=REPO / "bench/gpu/magnified.h5")
    ap.add_argument("--params", type=Path, default=REPO / "profiles/paper-composite.yaml",
                    help="model and train sections (and dropkey) from this profile (dotted overrides of params.yaml)")
    ap.add_argument("--fold", default="", help="held-out subject (default: the cache's first)")
    ap.add_argument("--epochs", type=int, default=0, help="override train.epochs (0: the profile's)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, default=REPO / "bench/out/gpu_check.json")
    args = ap.parse_args()

    device = resolve_device(args.device)
    params = load_variant(args.params, REPO / "params.yaml")
    data = load_data(args.cache, args.magnified)
    fold = args.fold or sorted(set(data.folds))[0]
    check_fold(fold, data, args.cache)
    model_cfg = params.section("model", MFDANConfig, dropkey=params.dropkey, num_classes=len(data.classes))
    check_sizes(data, model_cfg, args.cache)
    cfg = replace(params.section("train", TrainConfig), device=str(device))
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)

    # the profile's own amp setting is overridden both ways: fp32 twice (compared byte for byte), then AMP
    fp32 = replace(cfg, amp=False)
    runs = [one_run("fp32 #1", fold, data, model_cfg, fp32, device),
            one_run("fp32 #2", fold, data, model_cfg, fp32, device)]
    if device.type == "cuda":
        runs.append(one_run("amp", fold, data, model_cfg, replace(cfg, amp=True), device))
    same_weights = runs[0]["weights_sha256"] == runs[1]["weights_sha256"]
    same_probs = bool(np.array_equal(runs[0]["probs"], runs[1]["probs"]))
    amp_gap = float(np.abs(runs[2]["probs"] - runs[0]["probs"]).max()) if len(runs) > 2 else None
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "cuda": torch.version.cuda, "params": str(args.params), "fold": fold,
        "train_samples": int(sum(f != fold for f in data.folds)), "test_samples": int(sum(f == fold for f in data.folds)),
        "img_size": model_cfg.img_size, "parameters": sum(p.numel() for p in MFDAN(model_cfg).parameters()),
        "epochs": cfg.epochs, "batch": cfg.batch,
        "reruns_identical": {"weights": same_weights, "probabilities": same_probs},
        "amp_max_probability_gap": amp_gap,
        "runs": [{k: v for k, v in r.items() if k != "probs"} for r in runs],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")

    print(f"\n== GPU check: {report['device']}, torch {report['torch']} (CUDA {report['cuda']})")
    print(f"   {args.params.name}: {report['parameters']:,} parameters at {report['img_size']} px, fold {fold} "
          f"({report['train_samples']} train / {report['test_samples']} test), {cfg.epochs} epochs × batch {cfg.batch}")
    print(f"   {'run':<8} {'s':>8} {'s/epoch':>8} {'peak MiB':>9} {'last loss':>10}  weights")
    for r in report["runs"]:
        mem = f"{r['peak_gpu_mib']:.0f}" if r["peak_gpu_mib"] is not None else "-"
        print(f"   {r['run']:<8} {r['seconds']:>8.1f} {r['seconds_per_epoch']:>8.2f} {mem:>9} "
              f"{r['final_train_loss']:>10.4f}  {r['weights_sha256'][:12]}")
    print(f"   rerun byte-identical: weights {same_weights}, probabilities {same_probs}"
          + (f"; AMP vs fp32 max |Δp| {amp_gap:.2e}" if amp_gap is not None else ""))
    print(f"   written: {args.out}")
    if not (same_weights and same_probs):
        sys.exit(1)


if __name__ == "__main__":
    main()

"""DVC stage ``train_magnet``: load the user's MagNet checkpoint (params ``magnet.checkpoint``), or, when none
is given, train MagNet on generated pairs; either way write the weights used and their scores on held-out
generated pairs against the bar every MagNet must pass (:mod:`mfdan.magnify.quality`). A MagNet that misses the
bar is written all the same (its metrics say ``"passes": false`` and what it missed) and the stage prints a
warning: the ``magnify_check`` stage and ``mfdan summary`` say it again.

A checkpoint must lie in the folder DVC tracks by content for this stage (``models/checkpoints/``): a path
elsewhere would be tracked as text only, so replacing the file would leave every later result stale."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from mfdan.core.device import deterministic, resolve_device
from mfdan.core.files import save_torch, sha256
from mfdan.core.params import Params
from mfdan.magnify.magnet import load_magnet
from mfdan.magnify.magnet_training import EVAL_PROTOCOL, MagnetConfig, evaluate_quality, train
from mfdan.magnify.quality import SYNTHETIC_BAR, synthetic_failures


def run(*, params: Params, checkpoints: Path, out: Path, metrics: Path) -> str:
    cfg = params.section("magnet", MagnetConfig)
    if cfg.checkpoint and not Path(cfg.checkpoint).resolve().is_relative_to(checkpoints.resolve()):
        raise ValueError(f"{params.source}: magnet.checkpoint {cfg.checkpoint!r} must lie in {checkpoints}/, the "
                         f"folder DVC tracks by content; copy or link the file there and point magnet.checkpoint "
                         f"at it (e.g. {checkpoints}/{Path(cfg.checkpoint).name})")
    device = resolve_device(cfg.device)
    deterministic()
    info: dict = {"device": str(device)}
    if cfg.checkpoint:
        model = load_magnet(cfg.checkpoint, map_location=device).eval()
        info |= {"source": "checkpoint", "checkpoint": cfg.checkpoint, "checkpoint_sha256": sha256(cfg.checkpoint)}
    else:
        model, losses, seconds = train(cfg)
        print(f"train_magnet: {cfg.iterations} iterations in {seconds:.1f} s on {device}", flush=True)
        info |= {"source": "trained on generated pairs", "iterations": cfg.iterations,
                 "final_loss": losses[-1],
                 "loss_first_10": float(sum(losses[:10]) / min(10, len(losses))),
                 "loss_last_10": float(sum(losses[-10:]) / min(10, len(losses)))}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_torch(model.state_dict(), out)
    info["weights_sha256"] = sha256(out)
    scores = evaluate_quality(model, pairs=cfg.eval_pairs, seed=cfg.seed)
    failures = synthetic_failures(scores)
    info["held_out_psnr_db"] = scores
    info["eval"] = {"pairs": cfg.eval_pairs, "alpha_range": list(EVAL_PROTOCOL.alpha_range),
                    "patch": EVAL_PROTOCOL.patch, "max_motion": EVAL_PROTOCOL.max_motion}
    info["bar"] = asdict(SYNTHETIC_BAR)
    info["passes"], info["failures"] = not failures, failures
    info["config"] = asdict(cfg)
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps(info, indent=1) + "\n")
    if failures:
        print(f"warning: this MagNet does not magnify well enough: {'; '.join(failures)} (docs/magnet.md)",
              file=sys.stderr, flush=True)
    rec, mag = scores["reconstruction"], scores["magnification"]
    return (f"train_magnet: {info['source']}; held-out PSNR at alpha 1 {rec['magnet']:.2f} dB, at alpha 2-8 "
            f"{mag['magnet']:.2f} dB ({mag['gain_db']:+.2f} dB over no magnification); "
            f"bar {'passed' if not failures else 'MISSED'}")

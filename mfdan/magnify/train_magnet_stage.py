"""DVC stage ``train_magnet``: load the user's MagNet checkpoint (params ``magnet.checkpoint``), or, when none
is given, train MagNet on generated pairs; either way write the weights used and PSNR on held-out pairs.

A checkpoint must lie in the folder DVC tracks by content for this stage (``models/checkpoints/``): a path
elsewhere would be tracked as text only, so replacing the file would leave every later result stale."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from mfdan.core.device import deterministic, resolve_device
from mfdan.core.files import save_torch, sha256
from mfdan.core.params import Params
from mfdan.magnify.magnet import load_magnet
from mfdan.magnify.magnet_training import MagnetConfig, evaluate_psnr, train


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
    info["psnr_db"] = evaluate_psnr(model, cfg)
    info["eval"] = {"pairs": cfg.eval_pairs, "alpha_range": list(cfg.alpha_range), "patch": cfg.patch}
    info["config"] = asdict(cfg)
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps(info, indent=1) + "\n")
    return f"train_magnet: {info['source']}; PSNR {info['psnr_db']}"

"""DVC stage ``train_magnet``: load the user's MagNet checkpoint (params ``magnet.checkpoint``), or, when none
is given, train MagNet on generated pairs; either way write the weights used and PSNR on held-out pairs."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from mfdan.core.device import resolve_device
from mfdan.core.files import sha256, temporary_name
from mfdan.core.params import Params
from mfdan.magnify.magnet import load_magnet
from mfdan.magnify.magnet_training import MagnetConfig, evaluate_psnr, train


def run(*, params: Params, out: Path, metrics: Path) -> str:
    cfg = params.section("magnet", MagnetConfig)
    device = resolve_device(cfg.device)
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
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
    tmp = temporary_name(out)
    torch.save(model.state_dict(), tmp)
    tmp.replace(out)
    info["weights_sha256"] = sha256(out)
    info["psnr_db"] = evaluate_psnr(model, cfg)
    info["eval"] = {"pairs": cfg.eval_pairs, "alpha_range": list(cfg.alpha_range), "patch": cfg.patch}
    info["config"] = asdict(cfg)
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps(info, indent=1) + "\n")
    return f"train_magnet: {info['source']}; PSNR {info['psnr_db']}"

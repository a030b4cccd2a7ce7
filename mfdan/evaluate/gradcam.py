"""Grad-CAM (Selvaraju et al., ICCV 2017) on MFDAN's last Flow-Driven block, as in the paper's Fig. 6 (and on
a baseline's last convolution map, its ``cam_layer``, for the comparison).

The class-discriminative map is captum's ``LayerGradCam`` on the image tokens that leave Flow-Driven block 2
(G/8 × G/8, e.g. 7 × 7 at 224 px): each token channel is weighted by the mean gradient of the class score over
the tokens, summed over channels, ReLU. MFDAN's tokens are channels-last (B, h, w, C) and LayerGradCam reads
channels first, so the model is run as ``classify(tap(features(image, flow)))`` with a channels-first
:class:`TokenMap` tap in between — the same operations as ``MFDAN.forward``. Maps are upsampled bilinearly to
the input size and scaled to [0, 1] per sample.
"""
from __future__ import annotations


import cv2
import numpy as np
import torch
from torch import nn

from mfdan.core.pictures import CAPTION, put_text
from mfdan.model.network import MFDAN


class TokenMap(nn.Identity):
    """The point Grad-CAM reads: block-2 tokens as a channels-first map (B, C, h, w)."""


def cam_layer(model: nn.Module) -> nn.Module | None:
    """The layer Grad-CAM reads for a baseline (its ``cam_layer``: a B×C×h×w map over the face), or ``None``
    where it has none (HTNet's tokens are landmark regions, not a map of the face; Bi-WOOF is no network)."""
    return getattr(model, "cam_layer", None) if isinstance(model, nn.Module) else None


def supports_cam(model: nn.Module) -> bool:
    return isinstance(model, MFDAN) or cam_layer(model) is not None


def grad_cam(model: nn.Module, batch: dict[str, torch.Tensor], target: torch.Tensor | int) -> np.ndarray:
    """Grad-CAM maps of ``target`` (class index per sample, or one for all): (B, H, W) float32 in [0, 1], H×W
    the image's. ``batch`` holds the named inputs (image, flow, landmarks). MFDAN: its block-2 tokens (module
    docstring); a baseline: its ``cam_layer``, a map over the (resized) flow input, upsampled to the image."""
    from captum.attr import LayerAttribution, LayerGradCam  # here: `mfdan predict` without --cam never loads captum

    from mfdan.model.registry import forward as run

    model.eval()
    if isinstance(model, MFDAN):
        tap = TokenMap()

        def forward(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
            tokens = tap(model.features(image, flow).permute(0, 3, 1, 2))  # (B, C, h, w)
            return model.classify(tokens.permute(0, 2, 3, 1), flow)       # (B, num_classes)

        cam = LayerGradCam(forward, tap).attribute((batch["image"], batch["flow"]), target=target,
                                                   relu_attributions=True)  # (B, 1, h, w)
    else:
        layer = cam_layer(model)
        if layer is None:
            raise ValueError(f"{type(model).__name__} has no spatial map for Grad-CAM")
        names = list(model.inputs)

        def forward(*xs: torch.Tensor) -> torch.Tensor:
            return run(model, dict(zip(names, xs)))

        cam = LayerGradCam(forward, layer).attribute(tuple(batch[k] for k in names), target=target,
                                                     relu_attributions=True)  # (B, 1, h, w)
    up = LayerAttribution.interpolate(cam.detach(), tuple(batch["image"].shape[-2:]), interpolate_mode="bilinear")
    heat = up[:, 0].clamp_min(0).float().cpu().numpy()  # (B, H, W)
    peak = heat.reshape(len(heat), -1).max(axis=1)
    return (heat / np.where(peak > 0, peak, 1)[:, None, None]).astype(np.float32)


def overlay(frame: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """A heat map (H×W in [0, 1]) over an RGB frame (H×W×3 uint8), JET colours, as uint8 RGB."""
    colour = cv2.cvtColor(cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_JET),
                          cv2.COLOR_BGR2RGB)
    return np.round((1 - alpha) * frame.astype(np.float32) + alpha * colour.astype(np.float32)).astype(np.uint8)


def top_fraction_mask(heat: np.ndarray, fraction: float = 0.2) -> np.ndarray:
    """The ``fraction`` of pixels with the highest heat (H×W bool)."""
    k = max(1, int(round(fraction * heat.size)))
    threshold = np.partition(heat.ravel(), heat.size - k)[heat.size - k]
    return heat >= threshold


def flow_picture(flow: np.ndarray) -> np.ndarray:
    """The (u, v) of a flow map (3×H×W: u, v, strain) as RGB uint8 in the usual colour wheel: hue = direction,
    brightness = length relative to the map's 99th percentile (so a few border pixels do not darken the face)."""
    u, v = flow[0].astype(np.float32), flow[1].astype(np.float32)
    length, angle = cv2.cartToPolar(u, v, angleInDegrees=True)
    peak = float(np.percentile(length, 99))
    length = np.minimum(length, peak)
    hsv = np.zeros(u.shape + (3,), dtype=np.uint8)
    hsv[..., 0] = np.round(angle / 2).astype(np.uint8) % 180  # OpenCV hue: 0..179
    hsv[..., 1] = 255
    hsv[..., 2] = np.round(255 * length / (peak if peak > 0 else 1)).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


PANEL_PARTS = ("onset", "apex", "flow (u, v)", "Grad-CAM")
def sample_panel(onset: np.ndarray, apex: np.ndarray, flow: np.ndarray, heat: np.ndarray, caption: str,
                 tile: int = 112) -> np.ndarray:
    """One sample as the paper's Fig. 6 shows it: onset, apex, flow and the Grad-CAM heat map over the apex,
    side by side, ``tile`` px each, under a caption line (sample, dataset, true and predicted class, probability)."""
    parts = [onset, apex, flow_picture(flow), overlay(apex, heat)]
    row = np.concatenate([cv2.resize(p, (tile, tile), interpolation=cv2.INTER_AREA) for p in parts], axis=1)
    panel = np.zeros((CAPTION + tile, row.shape[1], 3), dtype=np.uint8)
    panel[CAPTION:] = row
    put_text(panel, caption, 3, CAPTION - 4)
    return panel


def figure(panels: list[np.ndarray], title: str) -> np.ndarray:
    """Sample panels stacked top to bottom under a title line and a header naming the four columns."""
    width = panels[0].shape[1]
    tile = width // len(PANEL_PARTS)
    head = np.zeros((2 * CAPTION + 4, width, 3), dtype=np.uint8)
    put_text(head, title, 3, CAPTION - 2, (255, 255, 160))
    for k, name in enumerate(PANEL_PARTS):
        put_text(head, name, k * tile + 3, 2 * CAPTION, (200, 200, 200))
    return np.concatenate([head, *panels], axis=0)

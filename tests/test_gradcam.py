"""Grad-CAM (Fig. 6) where the answer is known: a model trained on a toy task in which only one region moves
must light up that region."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mfdan.evaluate.gradcam import grad_cam, grid, overlay, top_fraction_mask
from mfdan.model import MFDAN, MFDANConfig
from mfdan.train.losses import build_loss
from mfdan.train.optim import build_optimizer

SIZE = 64
TOY = MFDANConfig(num_classes=2, img_size=SIZE, patch_size=4, embed_dim=16, merge_dims=(32, 32, 32), heads=(2, 2),
                  window=8, dropkey=0.0, flow_encoder_input=16, flow_encoder_channels=(4, 4),
                  flow_encoder_kernels=(3, 3), flow_encoder_strides=(1, 1), flow_encoder_paddings=(1, 1),
                  flow_encoder_pool=(2, 2), flow_encoder_dim=8)
MOVING = np.zeros((SIZE, SIZE), dtype=bool)
MOVING[:32, :32] = True     # the top-left quadrant: where class 1's blob appears and moves
ELSEWHERE = np.zeros((SIZE, SIZE), dtype=bool)
ELSEWHERE[32:, 32:] = True  # the opposite quadrant


def toy(n: int, seed: int):
    """Smooth random texture everywhere; class 1 adds a blob centred in the top-left quadrant to the frame and
    moves it in the flow; class 0 has neither. Returns images, flows, labels (n×3×64×64, n×3×64×64, n)."""
    g = torch.Generator().manual_seed(seed)
    img = F.avg_pool2d(torch.randn(n, 3, SIZE + 6, SIZE + 6, generator=g), 7, 1)  # (n, 3, 64, 64)
    img = img / img.std()
    flow = 0.05 * torch.randn(n, 3, SIZE, SIZE, generator=g)
    y = torch.arange(n) % 2
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    blob = torch.exp(-((xx - 16.0) ** 2 + (yy - 16.0) ** 2) / (2 * 6.0 ** 2))
    img[y == 1] += 3.0 * blob
    flow[y == 1, 0] += blob
    flow[y == 1, 1] -= blob
    return img, flow, y


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_gradcam_lights_up_the_moving_region():
    """The top 20 % of the class-1 Grad-CAM of a model trained on the toy task overlaps the moving quadrant
    (IoU ≥ 0.5; a top 20 % wholly inside it gives 0.8) and not the opposite one."""
    torch.manual_seed(0)
    model = MFDAN(TOY)
    opt = build_optimizer(model.parameters(), "adan", lr=3e-3)
    loss_fn = build_loss("ce", num_classes=2)
    img, flow, y = toy(64, seed=1)
    for _ in range(60):
        idx = torch.randperm(64)[:16]
        loss = loss_fn(model(img[idx], flow[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    test_img, test_flow, test_y = toy(16, seed=2)
    model.eval()
    with torch.no_grad():
        assert (model(test_img, test_flow).argmax(1) == test_y).float().mean() >= 0.9  # the task was learnt
    pos = test_y == 1
    heat = grad_cam(model, test_img[pos], test_flow[pos], 1)
    assert heat.shape == (int(pos.sum()), SIZE, SIZE) and heat.min() >= 0 and heat.max() == pytest.approx(1)
    assert np.mean([iou(top_fraction_mask(h, 0.2), MOVING) for h in heat]) >= 0.5
    assert np.mean([iou(top_fraction_mask(h, 0.2), ELSEWHERE) for h in heat]) < 0.1


def test_overlay_grid_and_top_fraction():
    heat = np.zeros((8, 8), np.float32)
    heat[:2, :4] = 1.0
    assert top_fraction_mask(heat, 0.125).sum() == 8 and top_fraction_mask(heat, 0.125)[:2, :4].all()
    frame = np.full((8, 8, 3), 100, np.uint8)
    out = overlay(frame, heat)
    assert out.dtype == np.uint8 and out.shape == (8, 8, 3) and not np.array_equal(out[0, 0], out[7, 7])
    g = grid([frame] * 5, columns=4)
    assert g.shape == (16, 32, 3) and (g[8:, 8:] == 0).all()

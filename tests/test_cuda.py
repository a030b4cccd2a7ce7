"""CUDA checks (skipped without a CUDA device). They import only torch, numpy and the model/training code, so
they also run on a borrowed GPU machine that lacks dvc, dlib and opencv-contrib (bench/gpu_check.sh)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from mfdan.model.network import MFDAN, MFDANConfig
from mfdan.train.fold_data import FoldData
from mfdan.train.loop import TrainConfig, train_fold
from tests.toys import toy_fold_data

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

SMALL = MFDANConfig(img_size=64, patch_size=2, embed_dim=24, merge_dims=(48, 96, 96), heads=(3, 4), window=8,
                    flow_encoder_input=32, flow_encoder_channels=(6, 16), flow_encoder_kernels=(5, 5),
                    flow_encoder_strides=(1, 1), flow_encoder_paddings=(2, 2), flow_encoder_pool=(2, 2),
                    flow_encoder_dim=32)


def toy_data(n: int = 24, size: int = 64) -> FoldData:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 3
    flow = rng.standard_normal((n, 3, size, size)).astype(np.float32) * 0.1
    flow[:, 0] += labels[:, None, None] * 0.3  # the class moves the face rightwards
    return toy_fold_data([f"s{i % 4}" for i in range(n)], size=size, variants=2, dataset="toy",
                         classes=("a", "b", "c"), flow=flow, labels=labels)


def state_bytes(model: torch.nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("impl", ["sdpa", "matmul", "reference"])
def test_cuda_attention_paths_match_cpu(impl):
    torch.manual_seed(0)
    cfg = MFDANConfig(**{**SMALL.__dict__, "attention_impl": impl})
    model = MFDAN(cfg).eval()
    image, flow = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        cpu = model(image, flow)
        gpu = model.cuda()(image.cuda(), flow.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-4)


def test_cuda_fold_training_is_deterministic():
    """Two CUDA trainings of the same fold, deterministic algorithms on: the same weights and probabilities,
    byte for byte."""
    data, cfg = toy_data(), TrainConfig(epochs=2, batch=4, lr=1e-3, device="cuda")
    a, b = (train_fold("toy_s0", data, SMALL, cfg, progress=False) for _ in range(2))
    assert a.device.startswith("cuda")
    assert np.array_equal(a.probs, b.probs)
    assert state_bytes(a.model) == state_bytes(b.model)


def test_cuda_amp_training_is_finite_and_close():
    data = toy_data()
    fp32 = train_fold("toy_s0", data, SMALL, TrainConfig(epochs=2, batch=4, lr=1e-3, device="cuda"), progress=False)
    amp = train_fold("toy_s0", data, SMALL, TrainConfig(epochs=2, batch=4, lr=1e-3, device="cuda", amp=True),
                     progress=False)
    assert np.isfinite(amp.probs).all()
    assert np.abs(amp.probs - fp32.probs).max() < 0.2

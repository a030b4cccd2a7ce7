"""MFDAN's concepts, each checked on its own and against a slower reference path."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mfdan.model.dropkey import DROP_VALUE, dropkey_mask
from mfdan.model.flow_driven_attention import FlowDrivenWindowAttention, scaled_unit
from mfdan.core.layers import LocalResponseNorm2d
from mfdan.train.losses import build_loss
from mfdan.model.network import MFDAN, MFDANConfig, parameter_breakdown
from mfdan.train.optim import build_optimizer
from mfdan.model.patch_embedding import PatchEmbed, PatchMerging
from mfdan.model.windows import (SHIFT_MASK_VALUE, relative_position_index, shifted_window_mask, window_partition,
                           window_reverse)

SMALL = dict(img_size=112, patch_size=2, embed_dim=24, merge_dims=(48, 96, 96), heads=(3, 4),
             flow_encoder_input=56, flow_encoder_channels=(6, 16), flow_encoder_kernels=(5, 5),
             flow_encoder_strides=(1, 1), flow_encoder_paddings=(2, 2), flow_encoder_pool=(2, 2), flow_encoder_dim=32)


@pytest.mark.parametrize("b,h,w,c,win", [(2, 14, 14, 5, 7), (1, 56, 56, 3, 7), (3, 8, 12, 2, 4)])
def test_window_partition_round_trip(b, h, w, c, win):
    x = torch.randn(b, h, w, c)
    win_x = window_partition(x, win)
    assert win_x.shape == (b * (h // win) * (w // win), win * win, c)
    assert torch.equal(window_reverse(win_x, win, h, w), x)
    # the first window is the top-left win×win patch, row-major
    assert torch.equal(win_x[0].view(win, win, c), x[0, :win, :win])


def test_relative_position_index_covers_the_table():
    idx = relative_position_index(7)
    assert idx.shape == (49, 49) and idx.min() == 0 and idx.max() == 13 * 13 - 1
    assert torch.all(idx.diagonal() == idx[0, 0])  # zero offset maps to one entry
    centre = 6 * 13 + 6  # offset (0, 0)
    assert torch.all(idx + idx.T == 2 * centre)  # offset (dy, dx) and (−dy, −dx) mirror around the centre


@pytest.mark.parametrize("size,win,shift", [(14, 7, 3), (56, 7, 3), (8, 4, 2)])
def test_shift_mask_blocks_exactly_the_cross_region_pairs(size, win, shift):
    mask = shifted_window_mask(size, size, win, shift)
    # reference: after rolling by -shift, a token "wrapped" iff it came from the other side of the image
    r = torch.arange(size)
    wrapped = (r >= size - shift)
    wr = wrapped[:, None].expand(size, size)
    wc = wrapped[None, :].expand(size, size)
    key = torch.stack([wr, wc], -1).float()  # (H, W, 2)
    win_key = window_partition(key[None], win)  # (nW, win², 2)
    same = (win_key[:, :, None, :] == win_key[:, None, :, :]).all(-1)  # (nW, win², win²)
    assert torch.equal(mask == 0, same)
    assert torch.all(mask[~same] == SHIFT_MASK_VALUE)
    assert (~same).any()  # the shifted mask blocks something
    assert torch.all(shifted_window_mask(size, size, win, 0) == 0)


def _attn(flow_driven=True, dropkey=0.0, impl="reference", dim=12, heads=3, window=4):
    torch.manual_seed(0)
    return FlowDrivenWindowAttention(dim=dim, heads=heads, window=window, flow_driven=flow_driven,
                                     dropkey=dropkey, impl=impl).double()


@pytest.mark.parametrize("impl", ["matmul", "sdpa"])
@pytest.mark.parametrize("flow_driven,with_mask,with_drop", list(itertools.product([True, False], repeat=3)))
def test_fast_paths_equal_reference_float64(impl, flow_driven, with_mask, with_drop):
    fused, ref = _attn(flow_driven, impl=impl), _attn(flow_driven, impl="reference")
    ref.load_state_dict(fused.state_dict())
    with torch.no_grad():
        fused.bias_table.normal_(0, 0.5)
        ref.bias_table.copy_(fused.bias_table)
    nw, b = 4, 2
    x = torch.randn(b * nw, 16, 12, dtype=torch.double)
    f = torch.randn(b * nw, 16, 12, dtype=torch.double)
    mask = shifted_window_mask(8, 8, 4, 2).double() if with_mask else None
    drop = dropkey_mask((b * nw, 3, 16, 16), 0.3, generator=torch.Generator().manual_seed(1)) if with_drop else None
    x.requires_grad_()
    f.requires_grad_()
    a = fused(x, f, mask=mask, drop=drop)
    r = ref(x, f, mask=mask, drop=drop)
    torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-12)
    # and the same gradients, for the inputs and every parameter (τ included)
    g = torch.randn_like(a)
    grads_a = torch.autograd.grad(a, [x, f, *fused.parameters()], g, allow_unused=True)
    grads_r = torch.autograd.grad(r, [x, f, *ref.parameters()], g, allow_unused=True)
    names = ["x", "flow"] + [n for n, _ in fused.named_parameters()]
    for name, ga, gr in zip(names, grads_a, grads_r):
        if name == "flow" and not flow_driven:
            assert ga is None and gr is None
            continue
        torch.testing.assert_close(ga, gr, rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize("with_scale", [False, True])
def test_scaled_unit_gradients(with_scale):
    """The hand-written backward of the fast paths' normalisation, checked numerically and against F.normalize."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 4, dtype=torch.double, requires_grad=True)
    scale = (torch.rand(3, dtype=torch.double) + 0.5).requires_grad_() if with_scale else None
    assert torch.autograd.gradcheck(scaled_unit, (x, scale))
    # a row whose norm is below F.normalize's ε: the norm is the constant ε there, in both
    tiny = torch.randn(2, 3, 5, 4, dtype=torch.double)
    tiny[0, 1, 2] *= 1e-14
    tiny.requires_grad_()
    c = torch.ones(3, dtype=torch.double) if scale is None else scale
    want = F.normalize(tiny, dim=-1) * c.view(1, -1, 1, 1)
    got = scaled_unit(tiny, scale)
    torch.testing.assert_close(got, want)
    g = torch.randn_like(got)
    torch.testing.assert_close(torch.autograd.grad(got, tiny, g)[0], torch.autograd.grad(want, tiny, g)[0])


@pytest.mark.parametrize("impl", ["matmul", "sdpa", "reference"])
def test_attention_under_autocast_keeps_the_low_precision_dtype(impl):
    """Mixed precision (train.amp): autocast may take norms in float32; the branches must still meet in one dtype."""
    m = _attn(dropkey=0.1, impl=impl).float().train()
    x = torch.randn(8, 16, 12, requires_grad=True)
    f = torch.randn(8, 16, 12, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(x, f)
    assert y.dtype == torch.bfloat16 and torch.isfinite(y).all()
    y.float().sum().backward()
    assert torch.isfinite(m.tau_raw.grad).all() and m.tau_raw.grad.abs().sum() > 0


def test_patch_embedding_and_merging_equal_convolution_and_swin_concatenation():
    torch.manual_seed(0)
    embed = PatchEmbed(dim=8, patch=4).double()
    image = torch.randn(2, 3, 16, 12, dtype=torch.double)
    torch.testing.assert_close(embed(image), embed.norm(embed.proj(image).permute(0, 2, 3, 1)))
    merge = PatchMerging(dim=5, out_dim=7).double()
    t = torch.randn(2, 6, 8, 5, dtype=torch.double)
    swin = torch.cat([t[:, 0::2, 0::2], t[:, 1::2, 0::2], t[:, 0::2, 1::2], t[:, 1::2, 1::2]], dim=-1)
    torch.testing.assert_close(merge(t), merge.reduction(merge.norm(swin)))


def test_output_is_the_sum_of_self_and_flow_branches():
    m = _attn(impl="reference")
    x = torch.randn(2, 16, 12, dtype=torch.double)
    f = torch.randn(2, 16, 12, dtype=torch.double)
    q, k, v = m.qkv(x).view(2, 16, 3, 3, 4).permute(2, 0, 3, 1, 4)
    qf = m._split_heads(F.linear(f, m.qkv.weight[:12], m.qkv.bias[:12]))
    bias = m.position_bias()[None]
    self_branch = torch.softmax(q @ k.transpose(-2, -1) / 2.0 + bias, -1) @ v  # √d = 2
    flow_branch = torch.softmax(m.flow_logits(qf, k) + bias, -1) @ v
    want = m.proj((self_branch + flow_branch).transpose(1, 2).reshape(2, 16, 12))
    torch.testing.assert_close(m(x, f), want)


@pytest.mark.parametrize("with_mask", [False, True])
def test_attention_maps_are_the_two_branches_of_the_forward(with_mask):
    """The analysis maps (attention entropy, docs/evidence.md) are the ones the forward pass uses: (P_self + P_flow) V
    reproduces it, each row sums to 1, and a self-only layer has no flow map."""
    m = _attn(impl="reference").eval()
    x = torch.randn(4, 16, 12, dtype=torch.double)
    f = torch.randn(4, 16, 12, dtype=torch.double)
    mask = shifted_window_mask(8, 8, 4, 2).to(torch.double) if with_mask else None  # 4 windows, one image
    maps = m.attention_maps(x, f, mask=mask)
    _, _, v = m.qkv(x).view(4, 16, 3, 3, 4).permute(2, 0, 3, 1, 4)
    want = m.proj(((maps["self"] + maps["flow"]) @ v).transpose(1, 2).reshape(4, 16, 12))
    torch.testing.assert_close(m(x, f, mask=mask), want)
    torch.testing.assert_close(maps["flow"].sum(-1), torch.ones(4, 3, 16, dtype=torch.double))
    plain = _attn(impl="reference", flow_driven=False).eval()
    assert set(plain.attention_maps(x, f)) == {"self"}


def test_flow_token_norm_switch_keeps_the_motion_magnitude():
    """Default: the flow tokens are layer-normalised as Swin's image tokens (a still patch's noise is rescaled to
    unit variance); ``flow_token_norm=False``: a patch with 10× less motion gives a 10× smaller token."""
    torch.manual_seed(0)
    flow = torch.randn(1, 3, 8, 8)
    for norm in (True, False):
        emb = PatchEmbed(dim=6, patch=4, norm=norm)
        with torch.no_grad():
            emb.proj.bias.zero_()
            big, small = emb(flow), emb(flow / 10)
        ratio = (big.norm() / small.norm()).item()
        assert ratio == (pytest.approx(1.0, abs=0.01) if norm else pytest.approx(10.0, rel=1e-4))
    with pytest.raises(ValueError, match="flow_token_norm"):
        MFDANConfig(flow_token_norm=False, share_patch_embed=True)


@pytest.mark.parametrize("flow_driven", [True, False])
def test_fusion_image_routes_motion_only_through_the_attention(flow_driven):
    """``fusion: image``: no flow encoder, a head on the image tokens alone; the flow then changes the logits only
    through the flow-driven attention (not at all in M1). ``concat`` (the paper's) reads the flow in both arms."""
    torch.manual_seed(0)
    image, flow = torch.randn(2, 3, 112, 112), torch.randn(2, 3, 112, 112)
    other = torch.randn(2, 3, 112, 112)
    for fusion in ("concat", "image"):
        model = MFDAN(MFDANConfig(**SMALL, dropkey=0.0, flow_driven=flow_driven, fusion=fusion)).eval()
        assert hasattr(model, "flow_encoder") == (fusion == "concat")
        assert model.head.in_features == 96 + (32 if fusion == "concat" else 0)
        with torch.no_grad():
            a, b = model(image, flow), model(image, other)
        assert a.shape == (2, 3)
        assert torch.equal(a, b) == (fusion == "image" and not flow_driven)
    with pytest.raises(ValueError, match="fusion must be one of"):
        MFDANConfig(fusion="sum")


def test_cosine_branch_is_invariant_to_scaling_qf_and_km():
    m = _attn()
    qf = torch.randn(2, 3, 16, 4, dtype=torch.double)
    k = torch.randn(2, 3, 16, 4, dtype=torch.double)
    base = m.flow_logits(qf, k)
    torch.testing.assert_close(m.flow_logits(qf * 7.5, k), base)
    torch.testing.assert_close(m.flow_logits(qf, k * 0.01), base)
    assert base.abs().max() <= 1 / m.tau.min() + 1e-9
    assert all(t > 0 for t in m.tau) and m.tau_raw.requires_grad


def test_dropkey_rate_and_eval_behaviour():
    mask = dropkey_mask((400, 3, 49, 49), 0.3, generator=torch.Generator().manual_seed(0))
    assert mask.dtype == torch.bool and abs(mask.float().mean().item() - 0.3) < 0.005
    m = _attn(dropkey=0.5)
    x = torch.randn(4, 16, 12, dtype=torch.double)
    f = torch.randn(4, 16, 12, dtype=torch.double)
    m.eval()
    plain = _attn(dropkey=0.0).eval()
    torch.testing.assert_close(m(x, f), plain(x, f))  # no DropKey in eval
    m.train()
    torch.manual_seed(3)
    a = m(x, f)
    assert not torch.allclose(a, plain(x, f))  # active in training
    # a dropped key gets exactly zero attention
    q, k, v = m.qkv(x).view(4, 16, 3, 3, 4).permute(2, 0, 3, 1, 4)
    drop = dropkey_mask((4, 3, 16, 16), 0.5, generator=torch.Generator().manual_seed(2))
    logits = (q @ k.transpose(-2, -1) * m.scale + m.position_bias()[None]).masked_fill(drop, DROP_VALUE)
    assert torch.all(torch.softmax(logits, -1)[drop] == 0)


def test_lrn_matches_torch():
    x = torch.randn(2, 16, 9, 9, dtype=torch.double) * 3
    for size in (3, 5, 4):
        torch.testing.assert_close(LocalResponseNorm2d(size)(x), torch.nn.LocalResponseNorm(size)(x))


DEMO = dict(img_size=64, patch_size=4, embed_dim=32, merge_dims=(64, 128, 128), heads=(2, 4), window=8,
            flow_encoder_input=32, flow_encoder_channels=(6, 16), flow_encoder_kernels=(5, 5),
            flow_encoder_strides=(1, 1), flow_encoder_paddings=(2, 2), flow_encoder_pool=(2, 2), flow_encoder_dim=64)


def _branch_spreads(cfg: MFDANConfig, n: int = 16) -> tuple[float, float]:
    """Mean over features of the across-sample sd of what the head reads from each branch, at initialisation:
    (pooled image tokens, flow-encoder features). Inputs: smooth random faces in [-1, 1] and smooth random flow
    maps max-abs scaled per sample, as the flow stage writes them."""
    torch.manual_seed(0)
    model = MFDAN(cfg).eval()
    g = torch.Generator().manual_seed(1)
    s = cfg.img_size
    image = F.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=(s, s), mode="bilinear") * 2 - 1
    flow = F.interpolate(torch.randn(n, 3, 6, 6, generator=g), size=(s, s), mode="bilinear")
    flow = flow / flow.abs().amax(dim=(1, 2, 3), keepdim=True)
    with torch.no_grad():
        pooled = model.norm(model.features(image, flow)).mean(dim=(1, 2))  # (n, dims[-1])
        motion = model.flow_norm(model.flow_encoder(flow))  # (n, flow_encoder_dim)
    return pooled.std(0).mean().item(), motion.std(0).mean().item()


@pytest.mark.parametrize("name,config", [("demo", DEMO), ("paper", {}), ("small", SMALL)])
def test_fusion_head_reads_both_branches_at_a_comparable_scale(name, config):
    """At initialisation neither branch's features vary across samples more than 4x the other's (the flow
    features are LayerNorm-ed, ``flow_feature_norm``); the earlier head (switch off) fails this on the demo's
    configuration, where the flow features varied ~50x less."""
    image_sd, flow_sd = _branch_spreads(MFDANConfig(**config))
    assert 1 / 4 < image_sd / flow_sd < 4, (name, image_sd, flow_sd)
    if name == "demo":
        image_sd, flow_sd = _branch_spreads(MFDANConfig(**config, flow_feature_norm=False))
        assert image_sd / flow_sd > 10, (image_sd, flow_sd)


CONFIGS = {
    "paper": {},
    "self_only": {"flow_driven": False},
    "shared": {"share_patch_embed": True, "share_merging": True},
    "small": SMALL,
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_forward_backward_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    cfg = MFDANConfig(**CONFIGS[name])
    model = MFDAN(cfg).train()
    image = torch.randn(2, 3, cfg.img_size, cfg.img_size)
    flow = torch.randn(2, 3, cfg.img_size, cfg.img_size)
    logits = model(image, flow)
    assert logits.shape == (2, cfg.num_classes) and torch.isfinite(logits).all()
    build_loss("focal", num_classes=3)(logits, torch.tensor([0, 2])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


def test_without_flow_driven_flow_reaches_logits_only_through_the_flow_encoder():
    class Const(torch.nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.dim = dim

        def forward(self, flow):
            return torch.ones(flow.shape[0], self.dim)

    for flow_driven, should_change in ((False, False), (True, True)):
        torch.manual_seed(0)
        model = MFDAN(MFDANConfig(**SMALL, flow_driven=flow_driven)).eval()
        model.flow_encoder = Const(SMALL["flow_encoder_dim"])
        image = torch.randn(2, 3, 112, 112)
        a = model(image, torch.randn(2, 3, 112, 112))
        b = model(image, torch.randn(2, 3, 112, 112) * 5)
        assert (not torch.allclose(a, b)) == should_change


def test_paper_configuration_parameter_count():
    model = MFDAN()
    parts = parameter_breakdown(model)
    assert sum(parts.values()) == sum(p.numel() for p in model.parameters())
    # SSSN encoder by hand: conv1 3·96·11² + 96, conv2 96·256·5² + 256, FC 256·12²·256 + 256
    assert parts["flow_encoder"] == (3 * 96 * 121 + 96) + (96 * 256 * 25 + 256) + (256 * 144 * 256 + 256) == 10_087_040
    assert parts["flow_norm"] == 2 * 256  # our LayerNorm on the flow features (flow_feature_norm)
    assert sum(parts.values()) == 27_611_767
    shared = MFDAN(MFDANConfig(share_patch_embed=True, share_merging=True))
    assert sum(p.numel() for p in shared.parameters()) == sum(parts.values()) - parts["flow_embed"] - parts["flow_merge"]


@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5]])
def test_focal_with_gamma_zero_is_cross_entropy(weights):
    logits = torch.randn(32, 3, dtype=torch.double).float()
    target = torch.randint(0, 3, (32,))
    fl = build_loss("focal", num_classes=3, gamma=0.0, class_weights=weights)(logits, target)
    ce = F.cross_entropy(logits, target, weight=torch.tensor(weights) if weights else None)
    torch.testing.assert_close(fl, ce)
    # γ > 0 down-weights easy examples: never more than CE
    assert build_loss("focal", num_classes=3, gamma=2.0)(logits, target) <= F.cross_entropy(logits, target)


def test_other_losses():
    logits = torch.randn(16, 3)
    target = torch.randint(0, 3, (16,))
    ce = F.cross_entropy(logits, target)
    torch.testing.assert_close(build_loss("nll", num_classes=3)(logits, target), ce)
    torch.testing.assert_close(build_loss("kl", num_classes=3, smoothing=0.0)(logits, target), ce)
    assert build_loss("kl", num_classes=3, smoothing=0.1)(logits, target) != ce
    with pytest.raises(ValueError):
        build_loss("hinge", num_classes=3)


def test_adan_betas_reach_the_optimizer_converted():
    p = [torch.nn.Parameter(torch.zeros(3))]
    opt = build_optimizer(p, "adan", lr=1e-3, betas=(0.98, 0.92, 0.99), weight_decay=0.02)
    assert type(opt).__name__ == "Adan"
    assert opt.param_groups[0]["betas"] == pytest.approx((0.02, 0.08, 0.01))
    assert opt.param_groups[0]["weight_decay"] == 0.02
    adamw = build_optimizer(p, "adamw", lr=1e-3, betas=(0.9, 0.999))
    assert adamw.param_groups[0]["betas"] == (0.9, 0.999)


def test_adamw_uses_its_own_betas_not_adans():
    """Table V, M4: the AdamW comparison runs with AdamW's standard (0.9, 0.999), not Adan's betas."""
    from mfdan.train.loop import TrainConfig
    from tests.toys import TINY_MFDAN, toy_fold_data

    cfg = TrainConfig(optimizer="adamw")
    assert cfg.adamw_betas == (0.9, 0.999) and cfg.betas == (0.98, 0.92, 0.99)
    seen = {}
    import mfdan.train.loop as loop

    real = loop.build_optimizer

    def spy(params, name, **kw):
        seen[name] = kw["betas"]
        return real(params, name, **kw)

    loop.build_optimizer = spy
    try:
        data = toy_fold_data(["a", "a", "b", "b"])
        loop.train_fold("d_a", data, TINY_MFDAN, TrainConfig(optimizer="adamw", epochs=1, batch=4, device="cpu"),
                        progress=False)
    finally:
        loop.build_optimizer = real
    assert seen == {"adamw": (0.9, 0.999)}


def test_on_epoch_hook_sees_every_epoch_and_changes_nothing():
    """``train_fold(on_epoch=...)`` (the ablation diagnostics) is called once per epoch with the model, and a
    run with the hook predicts exactly what a run without it does; the ``final`` pseudo-fold trains on every
    sample and predicts none."""
    from mfdan.train.model_folder import FINAL
    from mfdan.train.loop import TrainConfig, train_fold
    from tests.toys import TINY_MFDAN, toy_fold_data

    n = 6
    data, small = toy_fold_data(["a", "a", "b", "b", "c", "c"], seed=1), TINY_MFDAN
    cfg = TrainConfig(epochs=3, batch=4, device="cpu")
    seen = []
    hooked = train_fold("d_a", data, small, cfg, progress=False,
                        on_epoch=lambda e, m: seen.append((e, float(m.block1.w.attn.tau.detach().mean()))))
    plain = train_fold("d_a", data, small, cfg, progress=False)
    assert [e for e, _ in seen] == [1, 2, 3]
    np.testing.assert_array_equal(hooked.probs, plain.probs)
    final = train_fold(FINAL, data, small, cfg, progress=False)
    assert len(final.split.train) == n and len(final.split.test) == 0 and final.probs.shape == (0, 3)


def test_balanced_sampler_equalises_classes():
    from collections import Counter

    from mfdan.train.sampling import balanced_sampler

    labels = [0] * 80 + [1] * 15 + [2] * 5
    drawn = Counter(labels[i] for i in balanced_sampler(labels, seed=0, num_samples=30000))
    assert all(abs(drawn[c] / 30000 - 1 / 3) < 0.02 for c in range(3))
    assert list(balanced_sampler(labels, seed=1)) == list(balanced_sampler(labels, seed=1))


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="divisible by 8"):
        MFDANConfig(img_size=100)
    with pytest.raises(ValueError, match="dropkey"):
        MFDANConfig(dropkey=1.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    torch.manual_seed(0)
    model = MFDAN(MFDANConfig(**SMALL)).eval()
    image, flow = torch.randn(2, 3, 112, 112), torch.randn(2, 3, 112, 112)
    cpu = model(image, flow)
    gpu = model.cuda()(image.cuda(), flow.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-4)


def test_paper_flow_encoder_is_sssn():
    """Sec. III-A uses SSSN's shallow structure: a shallow AlexNet — 96 filters 11×11 stride 4, then 256
    filters 5×5, each with ReLU, max-pooling and LRN — then a fully connected layer, on the 224² flow map."""
    from torch import nn

    enc = MFDAN(MFDANConfig()).flow_encoder
    layers = list(enc.features)
    assert [type(m).__name__ for m in layers] == ["Conv2d", "ReLU", "MaxPool2d", "LocalResponseNorm2d"] * 2
    c1, c2 = layers[0], layers[4]
    assert (c1.in_channels, c1.out_channels, c1.kernel_size, c1.stride) == (3, 96, (11, 11), (4, 4))
    assert (c2.in_channels, c2.out_channels, c2.kernel_size, c2.stride, c2.padding) == (96, 256, (5, 5), (1, 1), (2, 2))
    assert all((m.kernel_size, m.stride) == (3, 2) for m in (layers[2], layers[6]))
    assert enc.pool == 1  # the full 224 × 224 map, no average pooling first
    assert isinstance(enc.fc, nn.Linear) and enc.fc.in_features == 256 * 12 * 12  # 224 → 54 → 26 → 26 → 12
    with torch.no_grad():
        assert enc(torch.randn(2, 3, 224, 224)).shape == (2, 256)


def test_optimizers_run_without_loading_the_compiler_stack():
    """build_optimizer skips PyTorch's lazy torch._dynamo import (seconds per stage process): a fresh process
    builds Adan, steps, zeroes and round-trips its state without it, and ends with the same weights as a process
    that loaded torch._dynamo first (where PyTorch's own wrappers run)."""
    import subprocess
    import sys

    code = """
import sys, torch
if sys.argv[1] == "preload":
    import torch._dynamo
from mfdan.train.optim import build_optimizer
torch.manual_seed(0)
m = torch.nn.Linear(4, 3)
opt = build_optimizer(m.parameters(), "adan", lr=1e-2, weight_decay=0.02)
for _ in range(3):
    opt.zero_grad()
    m(torch.ones(2, 4)).square().sum().backward()
    opt.step()
opt.load_state_dict(opt.state_dict())
print("dynamo" if "torch._dynamo" in sys.modules else "no-dynamo",
      torch.cat([p.detach().flatten() for p in m.parameters()]).double().tolist())
"""
    runs = {mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True,
                                 check=True).stdout.split(" ", 1) for mode in ("plain", "preload")}
    assert runs["plain"][0] == "no-dynamo" and runs["preload"][0] == "dynamo"
    assert runs["plain"][1] == runs["preload"][1]

"""Training-step time of MFDAN (forward + backward + Adan step), flow-driven attention on vs off.

    python bench/train_step.py [--batch 16] [--size 224] [--steps 5] [--device cpu|cuda]

Prints first the multiply-adds of one training step (forward and backward, counted by
``torch.utils.flop_counter.FlopCounterMode`` over matmuls, convolutions and attention products) of each variant
and their ratio: the compute floor of the step-time ratio. Then, from one run (variants interleaved step by
step), the median step time of each variant and the ratio flow-driven / self-only, both as the ratio of the
medians and as the median of the ratios of steps taken back to back (steadier when the machine's speed drifts),
against the multiply-add ratio (goal: within 1.05× of it), and the fast vs reference attention paths.

The C heap is set as training sets it (:func:`mfdan.core.device.keep_freed_memory`); ``--glibc-defaults``
leaves glibc's thresholds, for comparison. Each variant's median page faults per step are printed beside its
time: with the defaults, the flow-driven model re-faults its activations every step.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from mfdan.core.device import keep_freed_memory
from mfdan.train.losses import build_loss
from mfdan.model.network import MFDAN, MFDANConfig
from mfdan.train.optim import build_optimizer


def make_step(cfg: MFDANConfig, *, batch: int, device: str):
    """A closure running one training step of a fresh model on fixed random inputs."""
    torch.manual_seed(0)
    model = MFDAN(cfg).to(device).train()
    opt = build_optimizer(model.parameters(), "adan", lr=1e-4)
    loss_fn = build_loss("focal", num_classes=cfg.num_classes)
    image = torch.randn(batch, 3, cfg.img_size, cfg.img_size, device=device)
    flow = torch.randn(batch, 3, cfg.img_size, cfg.img_size, device=device)
    target = torch.randint(0, cfg.num_classes, (batch,), device=device)

    def step() -> tuple[float, int]:
        """(seconds, minor page faults) of one step."""
        if device == "cuda":
            torch.cuda.synchronize()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(image, flow), target).backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults

    return step


def multiply_adds(cfg: MFDANConfig, *, batch: int) -> tuple[int, int]:
    """(forward, backward) multiply-adds of one training step (FLOPs / 2), counted on CPU."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = MFDAN(cfg).train()
    image, flow = torch.randn(batch, 3, cfg.img_size, cfg.img_size), torch.randn(batch, 3, cfg.img_size, cfg.img_size)
    with FlopCounterMode(display=False) as fwd:
        loss = model(image, flow).logsumexp(1).sum()
    with FlopCounterMode(display=False) as bwd:
        loss.backward()
    return fwd.get_total_flops() // 2, bwd.get_total_flops() // 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--impl", nargs="*", default=[], choices=["matmul", "sdpa"],
                    help="also time these attention implementations")
    ap.add_argument("--glibc-defaults", action="store_true",
                    help="leave glibc's heap thresholds as they are (training sets them on the CPU)")
    args = ap.parse_args()
    heap = "glibc defaults" if args.glibc_defaults or args.device != "cpu" else \
        ("kept (keep_freed_memory)" if keep_freed_memory() else "not settable here: defaults")
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"batch {args.batch}, {args.size}², paper config, {args.steps} timed steps (median); C heap: {heap}")
    # counted per sample (batch 1): every layer's work is linear in the batch, so the ratio is the step's
    macs = {fd: multiply_adds(MFDANConfig(img_size=args.size, flow_driven=fd), batch=1) for fd in (True, False)}
    for fd, (f, b) in macs.items():
        print(f"  multiply-adds per sample, {'flow-driven' if fd else 'self-attention only':<20} forward {f / 1e9:6.2f} G, "
              f"backward {b / 1e9:8.2f} G")
    mac_ratio = sum(macs[True]) / sum(macs[False])
    print(f"multiply-add ratio flow-driven / self-only: {mac_ratio:.3f} (forward {macs[True][0] / macs[False][0]:.3f}, "
          f"backward {macs[True][1] / macs[False][1]:.3f})")
    impls = ["auto", "reference"] + args.impl
    variants = {(impl, fd): MFDANConfig(img_size=args.size, flow_driven=fd, attention_impl=impl)
                for impl in impls for fd in (True, False)}
    steps = {key: make_step(cfg, batch=args.batch, device=args.device) for key, cfg in variants.items()}
    times: dict = {key: [] for key in variants}
    faults: dict = {key: [] for key in variants}
    for key, step in steps.items():  # warm-up
        step()
    for _ in range(args.steps):  # interleaved, so drifts in machine load hit every variant alike
        for key, step in steps.items():
            seconds, n = step()
            times[key].append(seconds)
            faults[key].append(n)
    med = {}
    for (impl, fd), t in times.items():
        med[impl, fd] = statistics.median(t)
        name = f"{'flow-driven' if fd else 'self-attention only'} [{impl}]"
        print(f"  {name:<34} {med[impl, fd] * 1000:9.1f} ms/step  (min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f})"
              f"  {statistics.median(faults[impl, fd]):9,.0f} page faults/step")
    for impl in impls:
        paired = statistics.median(a / b for a, b in zip(times[impl, True], times[impl, False]))
        ratio = med[impl, True] / med[impl, False]
        print(f"ratio flow-driven / self-only [{impl}]: {ratio:.3f} of the medians, {paired:.3f} median of the "
              f"per-round ratios; {ratio / mac_ratio:.3f}× the multiply-add ratio (goal ≤ 1.05)")
    print(f"ratio auto / reference (flow-driven): {med['auto', True] / med['reference', True]:.3f}")


if __name__ == "__main__":
    main()

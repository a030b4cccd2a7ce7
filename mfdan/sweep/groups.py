"""How a sweep packs its tasks into groups for the fold-batched engine (``mfdan sweep --engine batched``).

A group holds tasks of one arm — the same params but ``train.seed``, the same caches — in the sweep's order
(seed-major), at most ``size`` of them; a hand-crafted method (Bi-WOOF: an SVM per fold) and an arm under
``train.budget: inner`` (each outer training waits for its own inner choice) are never grouped (:func:`groupable`).
The layout is part of every member's key (:func:`mfdan.sweep.tasks.task_key`), so it must come out the same
when the same command runs again: it depends only on the plan, the group size and, for the automatic size,
the number of workers and their memory.

The automatic size (:func:`auto_size`): enough groups for every worker to have one (``ceil(tasks / workers)``),
at most :data:`MAX_GROUP`, and no more tasks than half a worker's memory holds by :func:`task_bytes` — the
parameters with their gradient and optimizer state (Adan keeps four tensors per parameter) and the activations
one training step saves for its backward pass, measured by running the network once on a batch of the cache's
shape on the CPU.
"""
from __future__ import annotations

import math
from typing import Any

from mfdan.sweep.store import Store
from mfdan.sweep.tasks import Task, TaskGroup

#: how a sweep trains its tasks: one fold at a time, or groups side by side (mfdan.train.batched); ``auto``:
#: batched where the workers train on CUDA, per-fold on CPUs (:func:`resolve_engine`)
ENGINES = ("auto", "per-fold", "batched")
#: the most tasks in one group (what a failed group retrains, and a worker holds, stays bounded)
MAX_GROUP = 64
#: the engine a sweep uses unless --engine says otherwise
DEFAULT_ENGINE = "auto"


def resolve_engine(engine: str, devices: set[str]) -> str:
    """``auto`` -> ``batched`` where the workers train on CUDA (``devices``: their device types), else
    ``per-fold``: on a CPU a fold-batched step of the convolutional baselines cost more per fold than the
    per-fold engine's (grouped convolutions, masked batch norm: bench/batched.py), while on a GPU one small
    network's fold leaves the device idle between kernel launches. ``per-fold`` and ``batched`` as given."""
    if engine not in ENGINES:
        raise ValueError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine != "auto":
        return engine
    return "batched" if "cuda" in devices else "per-fold"


def groupable(params: Any) -> bool:
    """Whether an arm's tasks (``params``: a :class:`mfdan.core.params.Params`) can train in groups: not a
    hand-crafted method, not inner selection (both train on the per-fold engine)."""
    from mfdan.model.registry import architecture
    from mfdan.train.loop import TrainConfig

    return (architecture(params.arch).kind != "handcrafted"
            and params.section("train", TrainConfig).budget != "inner")


def pack(arms: list[str], size: dict[str, int]) -> list[list[int]]:
    """Groups of the entries of ``arms`` (each entry's arm, in the sweep's order) as lists of entry indices:
    consecutive entries of one arm, at most ``size[arm]`` per group; an arm of size 0 is not grouped."""
    groups: list[list[int]] = []
    open_: dict[str, list[int]] = {}
    for i, arm in enumerate(arms):
        if size.get(arm, 0) < 1:
            continue
        g = open_.get(arm)
        if g is None or len(g) >= size[arm]:
            g = open_[arm] = []
            groups.append(g)
        g.append(i)
    return groups


def auto_size(tasks: int, workers: int, memory: int | None, per_task: int | None) -> int:
    """The group size for one arm's ``tasks`` on ``workers`` workers of ``memory`` bytes each (the module
    docstring); ``per_task``: :func:`task_bytes`. Unknown memory: no memory bound."""
    size = min(MAX_GROUP, math.ceil(tasks / max(1, workers)))
    if memory and per_task:
        size = min(size, max(1, int(0.5 * memory // per_task)))
    return max(1, size)


def task_bytes(model_cfg: Any, batch: int, frames: int, flow: int, *, optimizer_tensors: int = 4) -> int:
    """Bytes one task of a group needs: its parameters (float32) with their gradient and ``optimizer_tensors``
    state tensors, and the tensors one training step of ``batch`` samples saves for its backward pass (counted
    with saved-tensor hooks on a CPU forward of zeros of the cache's shapes: ``frames`` and ``flow`` px)."""
    import torch

    from mfdan.model.registry import build, forward

    torch.manual_seed(0)
    model = build(model_cfg).train()
    params = sum(p.numel() for p in model.parameters()) * 4 * (2 + optimizer_tensors)
    seen: dict[int, int] = {}

    def pack_hook(t: torch.Tensor) -> torch.Tensor:
        seen[id(t.untyped_storage())] = t.untyped_storage().nbytes()
        return t

    inputs = {"image": torch.zeros(batch, 3, frames, frames), "flow": torch.zeros(batch, 3, flow, flow),
              "landmarks": torch.full((batch, 68, 2), frames / 2)}
    with torch.autograd.graph.saved_tensors_hooks(pack_hook, lambda t: t):
        forward(model, inputs).sum()
    return params + sum(seen.values())


def jobs(tasks: list[Task]) -> list[Task | TaskGroup]:
    """What the workers run: each per-fold task alone, each group's tasks (in order) as one
    :class:`~mfdan.sweep.tasks.TaskGroup`, in the order of their first task."""
    order: list[Task | tuple[str, tuple[str, ...]]] = []
    members: dict[tuple[str, tuple[str, ...]], list[Task]] = {}
    for t in tasks:
        if t.engine == "per-fold":
            order.append(t)
            continue
        gid = (t.arm, t.group)
        if gid not in members:
            members[gid] = []
            order.append(gid)
        members[gid].append(t)
    return [TaskGroup(tuple(members[j])) if isinstance(j, tuple) else j for j in order]


def todo_jobs(tasks: list[Task], store: Store, weights: bool) -> list[Task | TaskGroup]:
    """The jobs with a member not yet in ``store`` (a group trains whole; its stored members are kept)."""
    return [j for j in jobs(tasks) if any(not store.has(t.key, weights=weights) for t in j.members)]

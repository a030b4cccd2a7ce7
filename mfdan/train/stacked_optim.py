"""The optimizers of :mod:`mfdan.train.optim` for K tasks at once, on stacked parameters (K, ...).

The fold-batched engine (:mod:`mfdan.train.batched`) holds the K tasks' copies of each parameter as one tensor.
Every optimizer we use updates each element from that element's own gradient and state (no norms across a
tensor), so one elementwise update of the stack is K separate updates — except for what is counted per task:
the step number (Adan's and Adam's bias corrections) and whether a task steps at all. Folds differ in size, so
at a given step some tasks have no batch (their epoch is over) or have stopped early; a masked task's
parameters and state must not move. :class:`StackedOptimizer` therefore keeps one step count per task and takes
a boolean mask per step: the stack is updated in place, as the library updates one tensor, and the masked
tasks' slices are put back as they were.

Each update is the library's, written out over the stack with per-task bias corrections; the tests compare
them with the library (same gradients, K tasks, random masks) to float tolerance:

* ``adan``: ``adan-pytorch``'s ``Adan.step`` (its betas convention: weight of the new term, ``b = 1 − β``);
  on a task's first step the moments stay zero and only the weight decay divides the weights, as there.
* ``adam`` / ``adamw``: ``torch.optim.Adam`` (weight decay added to the gradient) and ``torch.optim.AdamW``
  (decoupled weight decay), their defaults otherwise (no amsgrad, no maximize).
* ``sgd``: ``torch.optim.SGD`` with momentum, no dampening, no Nesterov; a task's first step copies its
  gradient into the momentum buffer.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from mfdan.train.optim import ADAN_BETAS, OPTIMIZERS, adan_pytorch_betas

#: per optimizer: the state tensors it keeps per parameter
STATE = {"adan": ("m", "v", "n", "prev_grad"), "adam": ("exp_avg", "exp_avg_sq"),
         "adamw": ("exp_avg", "exp_avg_sq"), "sgd": ("momentum_buffer",)}


#: parameters with this many elements per task or more are updated task by task: the temporaries of one task's
#: update stay small enough for the C heap to reuse (a whole stack's would be fresh memory, page-faulted in, at
#: every step), and the loop's overhead is nothing beside the memory traffic
PER_TASK_FROM = 1 << 18


def per_task(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A (K,) tensor shaped (K, 1, ...) to broadcast against a stacked parameter (K, ...), in its dtype."""
    return values.view(-1, *([1] * (like.dim() - 1))).to(like.dtype)


class StackedOptimizer:
    """One optimizer over ``params`` (name -> tensor (K, ...)), K tasks; :meth:`step` takes their gradients."""

    def __init__(self, params: Mapping[str, torch.Tensor], name: str, *, tasks: int, lr: float,
                 weight_decay: float = 0.0, betas: Sequence[float] = ADAN_BETAS, eps: float = 1e-8,
                 momentum: float = 0.9) -> None:
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
        if name in ("adam", "adamw") and len(betas) != 2:
            raise ValueError(f"{name} needs two betas (β1, β2), got {tuple(betas)}")
        self.params = dict(params)
        self.name, self.lr, self.weight_decay, self.eps, self.momentum = name, lr, weight_decay, eps, momentum
        self.betas = adan_pytorch_betas(betas) if name == "adan" else tuple(betas)
        device = next(iter(self.params.values())).device
        self.steps = torch.zeros(tasks, dtype=torch.int64, device=device)  # per task: steps taken
        self.state: dict[str, dict[str, torch.Tensor]] = {}

    @torch.no_grad()
    def step(self, grads: Mapping[str, torch.Tensor], mask: torch.Tensor) -> None:
        """Update the tasks where ``mask`` (K,) is True from ``grads`` (name -> (K, ...)); the others'
        parameters and state stay as they are."""
        held = torch.nonzero(~mask).flatten()  # the tasks that do not step
        before = self.steps.clone()
        self.steps += mask.to(self.steps.dtype)
        # every task at the same step (baselines' whole-fold batches; the first epoch): the bias corrections
        # are one number, as in the library, instead of a tensor per task
        lo, hi = (int(v) for v in torch.aminmax(before))
        if lo == hi:
            before = lo
        update = getattr(self, f"_{self.name}")
        for key, p in self.params.items():
            g = grads.get(key)
            if g is None:  # as the library: a parameter without a gradient is not touched
                continue
            state = self.state.get(key)
            if state is None:
                state = self.state[key] = {s: torch.zeros_like(p) for s in STATE[self.name]}
            if p[0].numel() >= PER_TASK_FROM:  # large: task by task, each its own number of steps
                for i in torch.nonzero(mask).flatten().tolist():
                    update(p[i], g[i], {s: v[i] for s, v in state.items()}, int(before[i]) if torch.is_tensor(before) else before)
                continue
            kept = {"p": p[held], **{s: v[held] for s, v in state.items()}} if len(held) else None
            update(p, g, state, before)
            if kept is not None:  # the tasks that did not step, back as they were
                p[held] = kept.pop("p")
                for s, v in kept.items():
                    state[s][held] = v

    @staticmethod
    def _per_step(f, before: torch.Tensor | int, p: torch.Tensor) -> torch.Tensor | float:
        """``f(step)`` of this step: a number when every task is at one step, else (K, 1, ...) per task."""
        if isinstance(before, int):
            return f(float(before + 1))
        return per_task(f((before + 1).to(torch.float64)), p)

    @staticmethod
    def _per_task_flag(flag: torch.Tensor | bool, p: torch.Tensor) -> torch.Tensor | float:
        return float(flag) if isinstance(flag, bool) else per_task(flag, p)

    # --- the updates, in place: (parameter, gradient, state, each task's steps before this one) -----------------
    def _adan(self, p, g, state, before) -> None:
        b1, b2, b3 = self.betas
        m, v, n, prev = state["m"], state["v"], state["n"], state["prev_grad"]
        started = self._per_task_flag(before > 0, p)  # adan-pytorch moves the moments from a task's second step on
        diff = g - prev
        m.mul_(1 - b1).add_(g, alpha=b1)
        v.mul_(1 - b2).add_(diff, alpha=b2)
        n.mul_(1 - b3).add_((g + (1 - b2) * diff) ** 2, alpha=b3)
        if not (isinstance(started, float) and started == 1.0):  # a task at its first step: moments stay zero
            for t in (m, v, n):
                t.mul_(started)
        c_m, c_v, c_n = (self._per_step(lambda step, b=b: 1 / (1 - (1 - b) ** step), before, p) for b in (b1, b2, b3))
        size = (n * c_n).sqrt_().add_(self.eps).reciprocal_().mul_(self.lr)
        p.addcmul_(size, m * c_m + (1 - b2) * v * c_v, value=-1.0).div_(1 + self.weight_decay * self.lr)
        prev.copy_(g)

    def _adam(self, p, g, state, before) -> None:
        self._adam_like(p, g.add(p, alpha=self.weight_decay) if self.weight_decay else g, state, before)

    def _adamw(self, p, g, state, before) -> None:
        p.mul_(1 - self.lr * self.weight_decay)
        self._adam_like(p, g, state, before)

    def _adam_like(self, p, g, state, before) -> None:
        b1, b2 = self.betas
        avg, sq = state["exp_avg"], state["exp_avg_sq"]
        avg.lerp_(g, 1 - b1)
        sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        size = self._per_step(lambda step: self.lr / (1 - b1 ** step), before, p)
        root = self._per_step(lambda step: (1 - b2 ** step) ** 0.5, before, p)
        denom = sq.sqrt().div_(root).add_(self.eps)
        if isinstance(size, float):
            p.addcdiv_(avg, denom, value=-size)
        else:
            p.sub_(avg / denom * size)

    def _sgd(self, p, g, state, before) -> None:
        d = g.add(p, alpha=self.weight_decay) if self.weight_decay else g
        buf = state["momentum_buffer"]
        first = self._per_task_flag(before == 0, p)  # a task's first step: the buffer is its gradient
        buf.mul_(self.momentum).mul_(1 - first).add_(d)
        p.add_(buf, alpha=-self.lr)

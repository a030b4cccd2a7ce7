"""Device choice shared by the training stages (CUDA when present, CPU otherwise) and the settings that make
CUDA runs deterministic.

cuBLAS picks reduction strategies per workspace unless ``CUBLAS_WORKSPACE_CONFIG`` fixes its workspace; it
must be set before CUDA is initialised, so importing this module sets it (``:4096:8``, unless the user
set it). :func:`deterministic` then asks PyTorch for deterministic algorithms everywhere, CUDA included: an op
without a deterministic implementation raises instead of warning.
"""
from __future__ import annotations

import os

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch  # noqa: E402  (after the cuBLAS setting, which must precede CUDA initialisation)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> ``cuda`` if available else ``cpu``; ``cpu``, ``cuda`` or ``cuda:N`` as given, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but this machine has no CUDA device (use auto or cpu)")
    return torch.device(name)


def deterministic() -> None:
    """Deterministic algorithms on every device (no ``warn_only``).

    ``torch.use_deterministic_algorithms`` also sets TorchInductor's flag, and importing its config loads the
    whole compiler stack (``torch._dynamo``: ~4 s here, in every fold's process). Nothing here compiles, so
    unless the compiler is already loaded we set the one flag eager kernels read, the call's other half."""
    import sys

    if "torch._inductor" in sys.modules or not hasattr(torch._C, "_set_deterministic_algorithms"):
        torch.use_deterministic_algorithms(True)
    else:
        torch._C._set_deterministic_algorithms(True, warn_only=False)

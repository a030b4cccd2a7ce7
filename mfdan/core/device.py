"""Device choice shared by the training stages (CUDA when present, CPU otherwise), the settings that make
CUDA runs deterministic, and the C heap's thresholds for training on the CPU.

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


#: glibc ``mallopt`` parameters (malloc.h) and the values :func:`keep_freed_memory` sets.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
TRIM_THRESHOLD = 1 << 30  #: free memory at the heap's top kept, not returned to the system (1 GiB)
MMAP_THRESHOLD = 1 << 28  #: allocations from 256 MiB up get their own mmap (glibc's default adapts up to 32 MiB)
MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Keep freed activations in the C heap for the next training step (glibc only; True when set).

    PyTorch's CPU tensors come from ``malloc``. With glibc's defaults, a step's activations above 32 MiB get
    fresh mmaps, and freed space at the heap's top beyond about 64 MiB goes back to the system: the next step
    touches the same memory anew, one 4 KiB page fault at a time (paper config, batch 16, 224², on a 2-core
    EPYC: 0.75–2·10⁵ faults and 0.4–0.8 s of system time per flow-driven step, fewer self-only). With
    these thresholds a step faults no page once the heap has grown to the step's peak; the process then holds
    that peak (2.8 GiB against 2.7 GiB there). Results are the same bytes (tested; the demo's ``dvc repro``
    reproduced every committed output). Left alone where the user set glibc's malloc variables
    (``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_``, ``GLIBC_TUNABLES``) and where the C library is not
    glibc. Measured by bench/train_step.py (page faults per step, ``--glibc-defaults`` for the comparison)."""
    import ctypes
    import ctypes.util
    import platform

    if platform.libc_ver()[0] != "glibc" or any(k in os.environ for k in MALLOC_ENV):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False

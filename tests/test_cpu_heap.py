"""The C heap's thresholds for CPU training (mfdan.core.device.keep_freed_memory): each step's activations are
reused instead of re-faulted from the system, and the results are the same bytes. Each arm runs in its own
process, since glibc's settings last for the process."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

GLIBC = platform.libc_ver()[0] == "glibc"
needs_glibc = pytest.mark.skipif(not GLIBC, reason="mallopt thresholds are glibc's")

# A training step's life cycle in small: six activations of 8 to 60 MiB (most above glibc's 32 MiB ceiling for
# its adaptive mmap threshold) written, held together, then freed; thirteen steps, the page faults of the last
# five counted (the first steps settle the heap; now and then one later step still grows it by one activation).
SIZES_MIB = (40, 60, 20, 50, 8, 36)
FAULTS = f"""
import json, resource, sys, torch
from mfdan.core.device import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
def step():
    alive = [torch.empty(n * 2**18).fill_(1.0) for n in {SIZES_MIB}]
    return sum(float(t[0]) for t in alive)
for _ in range(8):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(json.dumps({{"kept": kept, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}}))
"""

# One small fold, its held-out probabilities as float32 bytes (hex).
FOLD = """
import json, sys
import numpy as np
from mfdan.core.device import keep_freed_memory
from mfdan.train.loop import TrainConfig, train_fold
from tests.toys import TINY_MFDAN, toy_fold_data
data = toy_fold_data(["a", "a", "b", "b", "c", "c"], seed=3)
r = train_fold("d_a", data, TINY_MFDAN, TrainConfig(epochs=2, batch=4, device="cpu", threads=1), progress=False)
print(json.dumps({"kept": keep_freed_memory(), "probs": r.probs.astype(np.float32).tobytes().hex()}))
"""


def _run(script: str, *args: str, env_extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _thp_always() -> bool:
    try:
        return "[always]" in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


@needs_glibc
def test_kept_heap_reuses_a_freed_activation_without_page_faults():
    kept = _run(FAULTS, "keep")
    default = _run(FAULTS, "default")
    assert kept["kept"] is True
    pages = 5 * sum(SIZES_MIB) * 2**20 // 4096  # every page of five steps' activations: 273,920
    assert kept["faults"] < 0.1 * pages, kept  # seen: 0, or 9,216 (one 36 MiB activation placed anew once)
    if not _thp_always():  # with transparent huge pages always on, the defaults fault 2 MiB at a time
        assert default["faults"] > 0.5 * pages, default


@needs_glibc
def test_a_users_malloc_settings_are_left_alone():
    assert _run(FAULTS, "keep", env_extra={"MALLOC_TRIM_THRESHOLD_": "131072"})["kept"] is False
    assert _run(FAULTS, "keep", env_extra={"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"})["kept"] is False


@needs_glibc
def test_a_fold_predicts_the_same_bytes_with_the_kept_heap_and_with_glibcs_defaults():
    """train_fold sets the thresholds on the CPU; with a user's malloc variable set it leaves glibc's
    defaults. The held-out probabilities are the same bytes either way."""
    kept = _run(FOLD)
    # a malloc tunable at its default value: keep_freed_memory steps aside, glibc's heap stays as it comes
    default = _run(FOLD, env_extra={"GLIBC_TUNABLES": "glibc.malloc.tcache_count=7"})
    assert kept["kept"] is True and default["kept"] is False
    assert kept["probs"] == default["probs"]

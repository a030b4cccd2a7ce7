#!/usr/bin/env bash
# The GPU check in one command, for a borrowed CUDA machine with no network and its own Python (torch, numpy,
# h5py, pyyaml, typer, pytest, opencv-python-headless; no dvc, dlib, opencv-contrib, adan-pytorch or captum).
#
#   bash bench/gpu_check.sh prepare   # here, once: demo caches at the paper's 224 px and the wheels it needs,
#                                     # into bench/gpu/ (git-ignored; carry it with the working tree)
#   bash bench/gpu_check.sh           # there: the CUDA tests, then one paper-config fold in fp32 twice
#                                     # (compared byte for byte) and with AMP, peak GPU memory, one summary
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=bench/gpu

if [[ "${1:-run}" == "prepare" ]]; then
  PY=${PY:-.venv/bin/python}
  [[ -x "$PY" ]] || { echo "error: $PY not found; run 'make setup' first" >&2; exit 2; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "== building the demo caches at 224 px with dvc (in a temporary clone: $tmp)"
  git clone -q . "$tmp/repo"
  cp params.yaml "$tmp/repo/params.yaml"  # this checkout's params, committed or not
  # the paper's 224 px maps (the demo data stays the demo data), as a DVC experiment on the two sections
  (cd "$tmp/repo" && PATH="$OLDPWD/.venv/bin:$PATH" dvc exp run --quiet -S align.output_size=224 \
      -S flow.output_size=224 pack magnify)
  rm -rf "$GPU.tmp" && mkdir -p "$GPU.tmp/wheels"
  cp "$tmp/repo/data/cache.h5" "$tmp/repo/data/magnified.h5" "$GPU.tmp/"
  adan=$(grep -i '^adan-pytorch==' requirements.lock)
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$GPU.tmp/wheels" "$adan"
  rm -rf "$GPU" && mv "$GPU.tmp" "$GPU"
  du -sh "$GPU"/* | sed 's/^/   /'
  echo "== ready: carry $GPU/ with the working tree and run 'bash bench/gpu_check.sh' there"
  exit 0
fi

[[ -f "$GPU/cache.h5" && -f "$GPU/magnified.h5" ]] || {
  echo "error: $GPU/cache.h5 and magnified.h5 missing; run 'bash bench/gpu_check.sh prepare' where dvc is installed" >&2
  exit 2; }
PY=${PY:-python3}
start=$(date +%s)
echo "== $("$PY" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO CUDA DEVICE")')"
"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' || {
  echo "error: no CUDA device here; the same code on CPU: python bench/gpu_check.py --device cpu --epochs 1" >&2
  exit 2; }
"$PY" -m pip install --quiet --no-index --no-deps --upgrade --target "$GPU/site" "$GPU"/wheels/*.whl
export PYTHONPATH="$PWD:$PWD/$GPU/site${PYTHONPATH:+:$PYTHONPATH}"
echo "== CUDA tests"
"$PY" -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_model.py -k "cuda"
echo "== one paper-config fold (profiles/paper-composite.yaml model + train, demo data at 224 px)"
"$PY" bench/gpu_check.py --device cuda --out bench/out/gpu_check.json "$@"
echo "== GPU check done in $(( $(date +%s) - start )) s"

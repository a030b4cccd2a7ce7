#!/usr/bin/env bash
# The comparison of docs/baselines.md (bench/compare.py: every architecture under each budget rule -- inner
# selection, the papers' recipes, equal steps --, MFDAN at 112 px with its pre-fix states as rows (--ladder), LOSO
# and HDE, seeds 0-4, on the demo, real-face and hard sets; fold-batched where a budget allows it) trained
# on a borrowed CUDA machine. Those machines have no network and no DVC, Dask or dlib (docs/gpu.md), so the tasks
# travel as a bundle (mfdan/sweep/bundle.py) and the tables are made here from the results that come back.
#
#   bash bench/gpu_compare.sh prepare          # here, once: the tasks and caches of the sets ($SETS) into
#                                              # bench/gpu/compare/, the wheels into bench/gpu/compare-wheels/
#                                              # (git-ignored: carry bench/gpu with the working tree)
#   bash bench/gpu_compare.sh run [SECONDS]    # there: train what bench/gpu/store lacks, starting no task after
#                                              # SECONDS (default 420); the same command resumes
#   bash bench/gpu_compare.sh collect STORE    # here: merge STORE (that store, brought back) into sweeps/ and
#                                              # copy it to bench/gpu/store (so the next run resumes), then the
#                                              # tables bench/results/compare_<set>_cuda.{md,png} and CSVs
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=bench/gpu
# two sets per trip: hard@0.5 and realface make 56 MiB with the tracked files (a lent machine carries 64 MiB);
# the next trip SETS="demo hard". The bundle runs in this order: hard@0.5 (the level fixed before scoring) first
SETS=${SETS:-"hard@0.5 realface"}
BUDGETS=${BUDGETS:-"inner recipe steps"}  # ... and, within a set, the budget rule the comparison leads with first
# one arm's 12 folds x 5 seeds in one group on the GPU (inner selection is never grouped: mfdan/sweep/groups.py)
# Table V's M1 on the fixed model, paired against it under the same budget: self-attention only, at 112 px
ARGS=(--seeds 0-4 --ladder --extra "mfdan_self_only:@profiles/arm-mfdan_112.yaml,model.flow_driven=false"
      --engine batched --group-size 60)

case "${1:-run}" in
prepare)
  PY=${PY:-.venv/bin/python}
  [[ -x "$PY" ]] || { echo "error: $PY not found; run 'make setup' first" >&2; exit 2; }
  rm -rf "$GPU/compare.tmp"
  for set in $SETS; do
    for budget in $BUDGETS; do
      echo "== $set, budget $budget: exporting its tasks (the set's caches built by DVC where they are not yet)"
      "$PY" bench/compare.py --set "$set" --budget "$budget" "${ARGS[@]}" --export "$GPU/compare.tmp" | tail -1
    done
  done
  mkdir -p "$GPU/compare-wheels.tmp"
  for pin in adan-pytorch click; do  # pure-Python wheels at this project's pins
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$GPU/compare-wheels.tmp" \
      "$(grep -i "^$pin==" requirements.lock)"
  done
  rm -rf "$GPU/compare" "$GPU/compare-wheels"
  mv "$GPU/compare.tmp" "$GPU/compare" && mv "$GPU/compare-wheels.tmp" "$GPU/compare-wheels"
  du -sh "$GPU/compare" "$GPU/compare-wheels" | sed 's/^/   /'
  # a lent machine takes 64 MiB along in all, the working tree's tracked files included: say so here, not there
  tree=$(git ls-files -z | du --files0-from=- -cb 2>/dev/null | tail -1 | cut -f1)
  mib=$(( ($(du -sb "$GPU" | cut -f1) + tree + 1048575) / 1048576 ))
  if (( mib > 64 )); then
    echo "error: $GPU/ and the tracked files make $mib MiB; a lent GPU machine carries 64 MiB. Prepare fewer" \
         "sets (SETS='hard@0.5', then SETS='realface', ...), run and collect each in turn" >&2
    exit 4
  fi
  echo "== ready ($mib MiB with the tracked files): carry $GPU/ and run 'bash bench/gpu_compare.sh run' there"
  ;;
run)
  budget=${2:-420}
  [[ -f "$GPU/compare/bundle.json" ]] || {
    echo "error: $GPU/compare/bundle.json missing; run 'bash bench/gpu_compare.sh prepare' where dvc is installed" >&2
    exit 2; }
  PY=${PY:-python3}
  site="$GPU/compare-site"
  "$PY" -m pip install --quiet --no-index --no-deps --upgrade --target "$site" "$GPU"/compare-wheels/adan_pytorch-*.whl
  # click only where typer does not bring it (mfdan.core.stage imports it); a newer typer vendors its own
  "$PY" -c 'import click' 2>/dev/null || \
    "$PY" -m pip install --quiet --no-index --no-deps --upgrade --target "$site" "$GPU"/compare-wheels/click-*.whl
  export PYTHONPATH="$PWD:$PWD/$site${PYTHONPATH:+:$PYTHONPATH}"
  workers=${WORKERS:-$(( $(nproc) > 4 ? $(nproc) - 2 : 1 ))}
  workers=$(( workers > 14 ? 14 : workers ))
  # exit status 3: the budget ran out with tasks left (resume with the same command after collecting)
  "$PY" -m mfdan.sweep.bundle run "$GPU/compare" --store "$GPU/store" --workers "$workers" --budget "$budget"
  ;;
collect)
  PY=${PY:-.venv/bin/python}
  from=${2:?usage: bash bench/gpu_compare.sh collect STORE}
  "$PY" -m mfdan.sweep.bundle merge "$from" --into sweeps
  [[ "$(realpath "$from")" == "$(realpath -m "$GPU/store")" ]] || "$PY" -m mfdan.sweep.bundle merge "$from" --into "$GPU/store"
  mkdir -p "$GPU/store" && cp "$from/envs.json" "$GPU/store/envs.json"
  for set in $SETS; do
    for budget in $BUDGETS; do
      echo "== $set, budget $budget"
      "$PY" bench/compare.py --set "$set" --budget "$budget" "${ARGS[@]}" --env "$GPU/store/envs.json" --record \
        | tail -2 || echo "   (not complete yet: run again there)"
    done
  done
  ;;
*)
  echo "usage: bash bench/gpu_compare.sh prepare | run [SECONDS] | collect STORE" >&2
  exit 2
  ;;
esac

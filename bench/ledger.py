"""The fold results of a comparison, in and out of git (:mod:`mfdan.sweep.ledger`).

    python bench/ledger.py export --store sweeps            # every stored fold -> bench/results/ledger.jsonl.gz
    python bench/ledger.py load --store sweeps              # ... and back into a (new) store, then resume:
    python bench/compare.py --set realface --seeds 0-4 --store sweeps   # trains only the folds not in it

A long comparison on a machine that may not last (a VM restarted between sessions) is exported as it goes and
committed; on the next machine of the same kind, ``load`` then ``compare.py`` finds every exported fold and
trains the rest. On another kind of machine (another processor, PyTorch capability or code) the keys differ:
the loaded folds stay in the store, unread, and the comparison trains its own.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mfdan.sweep.ledger import LedgerError, export, load  # noqa: E402
from mfdan.sweep.store import Store  # noqa: E402

DEFAULT = REPO / "bench" / "results" / "ledger.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["export", "load"])
    ap.add_argument("ledger", nargs="?", type=Path, default=DEFAULT, help=f"default: {DEFAULT.relative_to(REPO)}")
    ap.add_argument("--store", type=Path, default=REPO / "sweeps")
    ap.add_argument("--curves", action="store_true", help="export: also each fold's curve.csv")
    args = ap.parse_args()
    store = Store(args.store)
    try:
        if args.action == "export":
            n = export(store, args.ledger, curves=args.curves)
            print(f"{n} task(s) of {args.store} -> {args.ledger} ({args.ledger.stat().st_size:,} bytes)")
        else:
            done = load(args.ledger, store)
            print(f"{args.ledger}: {done.added} task(s) added to {args.store}, {done.same} already there "
                  f"(the same predictions); processors: {done.processors}")
    except (LedgerError, FileNotFoundError) as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()

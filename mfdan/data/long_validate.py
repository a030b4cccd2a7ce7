"""``mfdan validate --dataset casme_sq|samm_lv``: read a long-video dataset and count it against its release,
beside :mod:`mfdan.data.validate` (the clip datasets')."""
from __future__ import annotations

from pathlib import Path

from mfdan.data.long_protocols import PUBLISHED
from mfdan.data.long_readers import read_long
from mfdan.data.validate import decode_frames


def validate_long(dataset: str, root: str | Path, *, fps: float | None = None, check_images: bool = True,
                  threads: int | None = None) -> dict:
    """Read a long-video dataset, decode every frame of every recording (as the clip datasets' ``validate``:
    the first that fails, in recording order, is a :class:`DatasetError` naming its file), and count
    recordings, frames and intervals (micro / macro, micro per class) against the published totals."""
    notes: list[str] = []
    videos = read_long(dataset, root, fps=fps, notes=notes)
    if check_images:
        for v in videos:  # one recording at a time: its digests (unused here) never pile up
            decode_frames(list(v.frames), threads=threads)
    micro = [iv for v in videos for iv in v.intervals if iv.kind == "micro"]
    classes: dict[str, int] = {}
    for iv in micro:
        classes[iv.label or "unlabelled"] = classes.get(iv.label or "unlabelled", 0) + 1
    return {"dataset": dataset, "root": str(root), "videos": len(videos), "subjects": len({v.subject for v in videos}),
            "frames": sum(len(v.frames) for v in videos), "micro": len(micro),
            "macro": sum(1 for v in videos for iv in v.intervals if iv.kind == "macro"),
            "micro_classes": dict(sorted(classes.items())), "expected": PUBLISHED[dataset], "notes": notes}


def format_long_report(rep: dict) -> str:
    e = rep["expected"]
    lines = [f"{rep['dataset']} at {rep['root']}: {rep['videos']} recordings of {rep['subjects']} subjects, "
             f"{rep['frames']} frames",
             f"  micro-expressions {rep['micro']} (release: {e['micro']}), macro {rep['macro']} (release: {e['macro']}), "
             f"recordings {rep['videos']} (release: {e['videos']})",
             "  micro by class: " + ", ".join(f"{k} {v}" for k, v in rep["micro_classes"].items())]
    lines += [f"  note: {n}" for n in rep["notes"]]
    return "\n".join(lines)

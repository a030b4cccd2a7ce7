"""``mfdan validate``: read a dataset in its native layout and compare it with the protocol's expectations."""
from __future__ import annotations

import hashlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from mfdan.data.readers import read_dataset
from mfdan.core.errors import DatasetError
from mfdan.data.protocols import PUBLISHED_TOTALS, THREE_CLASS, Protocol, class_counts, get_protocol, has_sample_list
from mfdan.data.records import Sample


def protocol_datasets(proto: Protocol, roots: dict[str, str | Path], *, where: str) -> list[str]:
    """The datasets ``proto`` reads, given the dataset folders the user has (``roots``): every one of its
    datasets, or for ``composite_all`` those present (at least one)."""
    if proto.any_of:
        have = [d for d in proto.datasets if d in roots]
        if not have:
            raise DatasetError(where, f"{proto.name} needs at least one dataset of {list(proto.datasets)}; "
                                      f"none is given")
        return have
    missing = [d for d in proto.datasets if d not in roots]
    if missing:
        raise DatasetError(where, f"protocol {proto.name} needs {', '.join(missing)}, which is not given "
                                  f"(it has {sorted(roots)})")
    return list(proto.datasets)


def read_for_protocol(protocol: str, root: str | Path, roots: dict[str, str | Path] | None = None, *,
                      notes: list[dict] | None = None) -> list[Sample]:
    """Samples of every dataset ``protocol`` uses.

    For a single-dataset protocol ``root`` is that dataset's folder; for ``composite`` it holds
    ``casme2/``, ``samm/`` and ``smic/``, for ``composite_all`` any of the six datasets' folders, named as
    the datasets are (``roots`` may name each one instead).
    """
    proto = get_protocol(protocol)
    root = Path(root)
    if len(proto.datasets) == 1:
        return read_dataset(proto.datasets[0], (roots or {}).get(proto.datasets[0]) or root, notes=notes)
    paths = {d: Path((roots or {}).get(d) or root / d) for d in proto.datasets}
    present = {d: p for d, p in paths.items() if p.is_dir()}
    use = protocol_datasets(proto, present, where=root)
    return [s for d in use for s in read_dataset(d, present[d], notes=notes)]


def validate(protocol: str, root: str | Path, roots: dict[str, str | Path] | None = None, *,
             check_images: bool = True) -> dict:
    """Read the protocol's dataset(s) (see :func:`read_for_protocol`), optionally decode every frame
    (:func:`check_frames`), and :func:`report` on them."""
    notes: list[dict] = []
    samples = read_for_protocol(protocol, root, roots, notes=notes)
    if check_images:
        check_frames(samples)
    return report(protocol, samples, root=str(root), notes=notes)


def _frame_sha256(path: Path) -> str:
    """One frame read once: decoded (at 1/8 scale, which still reads the whole file), then hashed."""
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0 or cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_8) is None:
        raise DatasetError(path, "cannot decode image (file is empty, truncated or not an image)")
    return hashlib.sha256(data).hexdigest()


def check_frames(samples: list[Sample], *, threads: int | None = None) -> list[list[str]]:
    """Decode every frame; the first that fails, in the samples' order, raises a :class:`DatasetError`
    naming it. Returns each sample's frame SHA-256s, from the same bytes (one read per frame).

    Frames are read by ``threads`` threads (default: Python's, min(32, cores + 4); OpenCV's decoder and
    ``hashlib`` release the GIL), results taken in order, so the digests and the error reported do not depend
    on the number."""
    flat = iter(decode_frames([p for s in samples for p in s.frames], threads=threads))
    return [[next(flat) for _ in s.frames] for s in samples]


def decode_frames(paths: list[Path], *, threads: int | None = None) -> list[str]:
    """Decode every file of ``paths`` (the clip and the long-video datasets' rule): the first that fails, in
    order, raises a :class:`DatasetError` naming it. Returns each file's SHA-256, in order, whatever ``threads``."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(_frame_sha256, [Path(p) for p in paths]))


def report(protocol: str, samples: list[Sample], *, root: str, notes: list[dict] | None = None,
           datasets: list[str] | None = None) -> dict:
    """A JSON-ready report: what was read, what the protocol keeps, and how it compares with the reference.

    The reference is per sample where a public per-sample list exists (CASME II, SAMM, SMIC-HS via the CDE
    list, CAS(ME)³ Part A), per class from the published totals otherwise (MMEW, CASME); ``datasets`` are those
    read (default: those the samples come from)."""
    proto = get_protocol(protocol)
    used = datasets if datasets is not None else [d for d in proto.datasets if any(s.dataset == d for s in samples)]
    kept = proto.select(samples)
    expected = proto.expected(used)
    found = {s.key: lab for s, lab in kept}
    listed = {d for d in used if has_sample_list(d) or proto.mapping is None}
    present_subjects = {(s.dataset, s.subject) for s in samples}
    expected_here = {k: v for k, v in expected.items() if (k[0], k[1]) in present_subjects}
    mismatches = []
    for s in samples:  # the sample's own label (regrouped) disagrees with the reference's class for it
        ref = expected.get(s.key)
        own = (proto.mapping or THREE_CLASS)[s.dataset].get(s.emotion)
        if ref is not None and own != ref:
            mismatches.append({"sample": "/".join(s.key), "emotion": s.emotion, "read": own, "reference": ref})
    totals = {}  # datasets without a public per-sample list: every sheet row read against the published total
    for d in sorted(set(used) - listed, key=used.index):
        have = sum(s.dataset == d for s in samples)
        totals[d] = {"published_samples": PUBLISHED_TOTALS[d], "samples_read": have,
                     "complete": have == PUBLISHED_TOTALS[d]}
    fine = Counter(s.emotion for s in samples)
    listed_found = {k for k in found if k[0] in listed}
    return {
        "protocol": proto.name,
        "root": str(root),
        "datasets": used,
        "classes": list(proto.classes),
        "samples_read": len(samples),
        "samples_kept": len(kept),
        "subjects": sorted({f"{d}/{s}" for d, s in present_subjects}),
        "emotions_read": dict(sorted(fine.items())),
        "counts": class_counts(kept, proto.classes),
        "samples": [{"dataset": s.dataset, "subject": s.subject, "sample_id": s.sample_id, "emotion": s.emotion,
                     "label": lab, "frames": len(s.frames), "apex": s.apex} for s, lab in kept],
        "notes": notes or [],
        "reference": {
            "samples": len(expected) if not totals else None,
            "counts": proto.expected_counts(used),
            "per_sample_lists": sorted(listed, key=used.index),
            "missing_in_present_subjects": sorted("/".join(k) for k in set(expected_here) - set(found)),
            "not_in_reference": sorted("/".join(k) for k in listed_found - set(expected)),
            "label_mismatches": mismatches,
            "totals": totals,
            "complete": listed_found == set(expected) and all(t["complete"] for t in totals.values()),
        },
    }


def format_report(rep: dict) -> str:
    """The report as a table: one line per subject, class counts found (expected in brackets)."""
    classes = rep["classes"]
    lines = [f"protocol {rep['protocol']}: {rep['samples_read']} samples read, {rep['samples_kept']} kept, "
             f"{len(rep['subjects'])} subjects, root {rep['root']}"]
    width = max([len(s) for s in rep["counts"]["per_subject"]] + [7])
    lines.append("subject".ljust(width) + "".join(c.rjust(12) for c in classes) + "total".rjust(8))
    for subj, counts in rep["counts"]["per_subject"].items():
        lines.append(subj.ljust(width) + "".join(str(counts[c]).rjust(12) for c in classes)
                     + str(sum(counts.values())).rjust(8))
    tot = rep["counts"]["total"]
    ref = rep["reference"]
    lines.append("total".ljust(width) + "".join(str(tot[c]).rjust(12) for c in classes) + str(sum(tot.values())).rjust(8))
    def shown(n: int | None) -> str:
        return "?" if n is None else str(n)

    lines.append("reference".ljust(width) + "".join(shown(ref["counts"].get(c, 0)).rjust(12) for c in classes)
                 + shown(ref["samples"]).rjust(8))
    for d, tot_d in ref["totals"].items():
        lines.append(f"{d}: no public per-sample list; {tot_d['samples_read']} samples read, the release's paper "
                     f"reports {tot_d['published_samples']}")
    skipped = [n for n in rep["notes"] if n["action"] == "skipped"]
    if rep["notes"]:
        lines.append(f"sheet anomalies: {len(skipped)} rows skipped, {len(rep['notes']) - len(skipped)} changed "
                     f"(--json lists them)")
    lines.append(f"complete: {ref['complete']}; missing in the subjects present: "
                 f"{len(ref['missing_in_present_subjects'])}; not in the reference: {len(ref['not_in_reference'])}; "
                 f"label mismatches: {len(ref['label_mismatches'])}")
    return "\n".join(lines)

"""``mfdan validate``: read a dataset in its native layout and compare it with the protocol's expectations."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from mfdan.data.readers import DATASETS, read_dataset
from mfdan.core.errors import DatasetError
from mfdan.data.protocols import GROUP_3, class_counts, get_protocol
from mfdan.data.records import Sample


def read_for_protocol(protocol: str, root: str | Path, roots: dict[str, str | Path] | None = None) -> list[Sample]:
    """Samples of every dataset ``protocol`` uses.

    For a single-dataset protocol ``root`` is that dataset's folder; for ``composite`` it holds
    ``casme2/``, ``samm/`` and ``smic/`` (``roots`` may name each one instead).
    """
    proto = get_protocol(protocol)
    root = Path(root)
    if len(proto.datasets) == 1:
        return read_dataset(proto.datasets[0], (roots or {}).get(proto.datasets[0]) or root)
    paths = {d: Path((roots or {}).get(d) or root / d) for d in proto.datasets}
    missing = [str(p) for p in paths.values() if not p.is_dir()]
    if missing:
        raise DatasetError(root, f"composite needs one folder per dataset; not found: {', '.join(missing)}")
    return [s for d in DATASETS if d in paths for s in read_dataset(d, paths[d])]


def validate(protocol: str, root: str | Path, roots: dict[str, str | Path] | None = None, *,
             check_images: bool = True) -> dict:
    """Read the protocol's dataset(s) (see :func:`read_for_protocol`), optionally decode every frame
    (:func:`check_frames`), and :func:`report` on them."""
    samples = read_for_protocol(protocol, root, roots)
    if check_images:
        check_frames(samples)
    return report(protocol, samples, root=str(root))


def check_frames(samples: list[Sample]) -> None:
    """Decode every frame (at 1/8 scale, which still reads the whole file); the first that fails raises a
    :class:`DatasetError` naming it."""
    for s in samples:
        for path in s.frames:
            data = np.fromfile(path, dtype=np.uint8)
            if data.size == 0 or cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_8) is None:
                raise DatasetError(path, "cannot decode image (file is empty, truncated or not an image)")


def report(protocol: str, samples: list[Sample], *, root: str) -> dict:
    """A JSON-ready report: what was read, what the protocol keeps, and how it compares with the reference."""
    proto = get_protocol(protocol)
    kept = proto.select(samples)
    expected = proto.expected()
    found = {s.key: lab for s, lab in kept}
    present_subjects = {(s.dataset, s.subject) for s in samples}
    expected_here = {k: v for k, v in expected.items() if (k[0], k[1]) in present_subjects}
    mismatches = []
    for s in samples:  # the sample's own label (regrouped) disagrees with the reference's class for it
        ref = expected.get(s.key)
        own = (proto.mapping or GROUP_3).get(s.emotion)
        if ref is not None and own != ref:
            mismatches.append({"sample": "/".join(s.key), "emotion": s.emotion, "read": own, "reference": ref})
    fine = Counter(s.emotion for s in samples)
    return {
        "protocol": proto.name,
        "root": str(root),
        "classes": list(proto.classes),
        "samples_read": len(samples),
        "samples_kept": len(kept),
        "subjects": sorted({f"{d}/{s}" for d, s in present_subjects}),
        "emotions_read": dict(sorted(fine.items())),
        "counts": class_counts(kept, proto.classes),
        "samples": [{"dataset": s.dataset, "subject": s.subject, "sample_id": s.sample_id, "emotion": s.emotion,
                     "label": lab, "frames": len(s.frames), "apex": s.apex} for s, lab in kept],
        "reference": {
            "samples": len(expected),
            "counts": dict(Counter(expected.values())),
            "missing_in_present_subjects": sorted("/".join(k) for k in set(expected_here) - set(found)),
            "not_in_reference": sorted("/".join(k) for k in set(found) - set(expected)),
            "label_mismatches": mismatches,
            "complete": set(found) == set(expected),
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
    lines.append("reference".ljust(width) + "".join(str(ref["counts"].get(c, 0)).rjust(12) for c in classes)
                 + str(ref["samples"]).rjust(8))
    lines.append(f"complete: {ref['complete']}; missing in the subjects present: "
                 f"{len(ref['missing_in_present_subjects'])}; not in the reference: {len(ref['not_in_reference'])}; "
                 f"label mismatches: {len(ref['label_mismatches'])}")
    return "\n".join(lines)

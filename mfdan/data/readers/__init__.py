"""Native readers for CASME II, SAMM, SMIC-HS, CAS(ME)³ Part A, MMEW and CASME, all returning
:class:`mfdan.data.records.Sample`."""
from __future__ import annotations

from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.data.readers import casme, casme2, casme3, mmew, samm, smic
from mfdan.data.readers.common import check_frame_files
from mfdan.data.protocols import DATASETS
from mfdan.data.records import Sample

READERS = {"casme2": casme2.read, "samm": samm.read, "smic": smic.read, "casme3": casme3.read, "mmew": mmew.read,
           "casme": casme.read}
assert tuple(READERS) == DATASETS, "one reader per dataset, in DATASETS order"
#: readers that report rows they skip or change under the release's documented anomalies
NOTING = ("casme3",)


def read_dataset(name: str, root: str | Path, *, notes: list[dict] | None = None, **options) -> list[Sample]:
    """Read dataset ``name`` (one of :data:`DATASETS`) from its native layout at ``root``; ``notes``, if given,
    receives the rows a reader skipped or changed (documented sheet anomalies, CAS(ME)³)."""
    if name not in READERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, f"{name} dataset folder not found")
    if name in NOTING:
        options["notes"] = notes
    samples = READERS[name](root, **options)
    check_inside(samples, root)
    return samples


def check_inside(samples: list[Sample], root: Path) -> None:
    """Every frame must be a regular file resolving inside the dataset folder (no ``..`` or absolute escapes
    from a sheet, no symlink out): :func:`mfdan.data.readers.common.check_frame_files`, the long readers' rule too."""
    check_frame_files(((s.sample_id, s.frames) for s in samples), root)

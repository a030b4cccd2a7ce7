"""Native readers for CASME II, SAMM and SMIC-HS, all returning :class:`mfdan.data.records.Sample`."""
from __future__ import annotations

from pathlib import Path

from mfdan.data.readers import casme2, samm, smic
from mfdan.data.protocols import DATASETS
from mfdan.data.records import Sample

READERS = {"casme2": casme2.read, "samm": samm.read, "smic": smic.read}
assert tuple(READERS) == DATASETS, "one reader per dataset, in DATASETS order"


def read_dataset(name: str, root: str | Path, **options) -> list[Sample]:
    """Read dataset ``name`` (``casme2``, ``samm`` or ``smic``) from its native layout at ``root``."""
    if name not in READERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
    return READERS[name](root, **options)

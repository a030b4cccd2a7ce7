"""Shared fixtures: tiny generated datasets in the six native layouts (built once per session)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mfdan.data.protocols import DATASETS
from mfdan.synth.config import SynthConfig
from mfdan.synth.generator import synthesize

TINY = SynthConfig(seed=7, subjects=2, samples_per_subject=3, others_per_subject=1, max_frames=5, geometry="compact",
                   frame_size=192, layouts=DATASETS)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """``ROOT/{casme2,samm,smic,casme3,mmew,casme}`` written by the generator, with its plans in ``ROOT/plans``."""
    root = tmp_path_factory.mktemp("synth") / "all"
    plans = synthesize("all", root, TINY)
    (root.parent / "plans.txt").write_text("\n".join(f"{p.layout} {p.subject} {p.sample}" for p in plans))
    return root


@pytest.fixture
def dataset_copy(synth_root, tmp_path):
    """A private, writable copy of one generated layout (for tests that damage it)."""

    def copy(layout: str) -> Path:
        dst = tmp_path / layout
        shutil.copytree(synth_root / layout, dst)
        return dst

    return copy


def edit_casme2_sheet(root: Path, edit) -> Path:
    """Apply ``edit(worksheet)`` to the CASME II coding sheet under ``root`` and save it; returns its path."""
    import openpyxl

    sheet = next(root.glob("CASME2-coding-*.xlsx"))
    book = openpyxl.load_workbook(sheet)
    edit(book.active)
    book.save(sheet)
    return sheet

"""The long-video readers hold to the clip readers' rules (issue 49, item 2), through the one shared helper set of
:mod:`mfdan.data.readers.common`: frames are regular files inside the root (no symlink out), no sheet row
repeats a recording's interval, every recording folder is named by the sheet, and ``validate`` decodes every
frame. Each case is one :class:`DatasetError` naming the file (and the rows). Data generated, nothing committed."""
from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from mfdan.cli import app
from mfdan.core.errors import DatasetError
from mfdan.data.long_readers import read_long
from mfdan.data.long_validate import validate_long
from mfdan.synth.long_plan import LongSynthConfig
from mfdan.synth.long_videos import synthesize_long

SYN = LongSynthConfig(subjects=2, seconds=8, fps=30, geometry="compact", frame_size=160, micro=1, macro=1, blinks=0,
                      head_turns=0, gap=0.8)
SHEETS = {"casme_sq": "CAS(ME)^2code_final.xlsx", "samm_lv": "SAMM_LongVideos_V3_Release.xlsx"}
LAYOUTS = ("casme_sq", "samm_lv")


@pytest.fixture(scope="module")
def long_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("long_readers") / "raw"
    synthesize_long(root, SYN)
    return root


@pytest.fixture
def copy(long_root, tmp_path):
    def make(layout: str) -> Path:
        root = tmp_path / "data" / layout
        shutil.copytree(long_root / layout, root)
        return root
    return make


def first_recording(root: Path, layout: str):
    return read_long(layout, root, fps=30)[0]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_generated_data_reads_and_validates(long_root, layout):
    rep = validate_long(layout, long_root / layout, fps=30)
    assert rep["videos"] >= SYN.subjects and rep["frames"] > 0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_frame_symlinked_outside_the_root_is_refused(copy, tmp_path, layout):
    root = copy(layout)
    frame = first_recording(root, layout).frames[5]
    outside = tmp_path / "elsewhere.jpg"
    shutil.copy(frame, outside)
    frame.unlink()
    frame.symlink_to(outside)
    with pytest.raises(DatasetError, match="outside the dataset folder") as err:
        read_long(layout, root, fps=30)
    assert err.value.path == frame
    res = CliRunner().invoke(app, ["validate", "--dataset", layout, "--root", str(root)])
    assert res.exit_code != 0 and frame.name in res.output and "Traceback" not in res.output, res.output


@pytest.mark.parametrize("layout", LAYOUTS)
def test_recording_folder_symlinked_outside_the_root_is_refused(copy, tmp_path, layout):
    root = copy(layout)
    folder = first_recording(root, layout).frames[0].parent
    outside = tmp_path / "elsewhere_recording"
    shutil.copytree(folder, outside)
    shutil.rmtree(folder)
    folder.symlink_to(outside)
    with pytest.raises(DatasetError, match="outside the dataset folder") as err:
        read_long(layout, root, fps=30)
    assert err.value.path.parent == folder


@pytest.mark.parametrize("layout", LAYOUTS)
def test_symlink_inside_the_root_is_still_a_frame(copy, layout):
    """As on the clip side: a link is refused for where it leads, not for being a link."""
    root = copy(layout)
    frames = first_recording(root, layout).frames
    frames[5].unlink()
    frames[5].symlink_to(frames[4])
    assert len(first_recording(root, layout).frames) == len(frames)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_folder_in_a_frames_place_is_refused(copy, layout):
    root = copy(layout)
    frame = first_recording(root, layout).frames[5]
    frame.unlink()
    frame.mkdir()
    with pytest.raises(DatasetError, match="not a regular file") as err:
        read_long(layout, root, fps=30)
    assert err.value.path == frame


@pytest.mark.parametrize("layout", LAYOUTS)
def test_duplicated_sheet_row_names_both_rows(copy, layout):
    root = copy(layout)
    sheet = root / SHEETS[layout]
    book = openpyxl.load_workbook(sheet)
    ws = book.worksheets[0]
    source = next(r for r in range(1, ws.max_row + 1)
                  if str(ws.cell(row=r, column=8).value or "").lower().startswith("micro"))
    ws.append([c.value for c in ws[source]])
    last = ws.max_row
    book.save(sheet)
    with pytest.raises(DatasetError, match=rf"rows {source} and {last} both describe interval") as err:
        read_long(layout, root, fps=30)
    assert err.value.path == sheet and err.value.row == last
    assert sheet.name in str(err.value)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_undecodable_frame_mid_recording_is_named_by_validate(copy, layout):
    root = copy(layout)
    frames = first_recording(root, layout).frames
    bad = frames[len(frames) // 2]
    bad.write_bytes(b"not a jpeg at all")
    read_long(layout, root, fps=30)  # reading does not decode
    with pytest.raises(DatasetError, match="cannot decode") as err:
        validate_long(layout, root, fps=30)
    assert err.value.path == bad
    res = CliRunner().invoke(app, ["validate", "--dataset", layout, "--root", str(root)])
    assert res.exit_code != 0 and bad.name in res.output and "Traceback" not in res.output, res.output


def test_samm_lv_recording_folder_without_a_row_is_refused(copy):
    root = copy("samm_lv")
    folder = first_recording(root, "samm_lv").frames[0].parent
    stray = folder.parent / "099_1"
    shutil.copytree(folder, stray)
    with pytest.raises(DatasetError, match="recording folder has no row in the annotation sheet "
                                           "SAMM_LongVideos_V3_Release.xlsx") as err:
        read_long("samm_lv", root, fps=30)
    assert err.value.path == stray


@pytest.mark.parametrize("where,what", [("recording", "recording folder"), ("subject", "subject folder")])
def test_casme_sq_folder_without_a_row_is_refused(copy, where, what):
    root = copy("casme_sq")
    folder = first_recording(root, "casme_sq").frames[0].parent
    stray = (folder.parent / f"{folder.parent.name[1:]}_0999neverfilmed" if where == "recording"
             else folder.parent.parent / "s99")
    shutil.copytree(folder, stray / folder.name if where == "subject" else stray)
    with pytest.raises(DatasetError, match=f"{what} has no row in the annotation sheet") as err:
        read_long("casme_sq", root, fps=30)
    assert err.value.path == stray


@pytest.mark.parametrize("layout", ("casme2", "samm", "casme3"))
def test_clip_readers_share_the_frame_rule(dataset_copy, tmp_path, layout):
    """The same helper on the clip side: a single frame linked out of the root, or a folder in a frame's place."""
    from mfdan.data.readers import read_dataset

    root = dataset_copy(layout)
    frame = read_dataset(layout, root)[0].frames[1]
    outside = tmp_path / "elsewhere.jpg"
    shutil.copy(frame, outside)
    frame.unlink()
    frame.symlink_to(outside)
    with pytest.raises(DatasetError, match="outside the dataset folder") as err:
        read_dataset(layout, root)
    assert err.value.path == frame
    frame.unlink()
    frame.mkdir()
    with pytest.raises(DatasetError, match="not a regular file") as err:
        read_dataset(layout, root)
    assert err.value.path == frame

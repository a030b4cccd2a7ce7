"""Every bad-input case gives one DatasetError naming the file (and row), and the CLI prints it as one line."""
import shutil

import openpyxl
import pytest
from typer.testing import CliRunner

from mfdan.cli import app
from mfdan.data.readers import read_dataset
from mfdan.core.errors import DatasetError
from mfdan.data.validate import validate
from tests.conftest import edit_casme2_sheet


def _first_clip(root, layout):
    s = read_dataset(layout, root)[0]
    return s


@pytest.mark.parametrize("layout", ["casme2", "samm", "smic", "casme3", "mmew", "casme"])
def test_missing_frame_names_the_file(dataset_copy, layout):
    root = dataset_copy(layout)
    s = _first_clip(root, layout)
    victim = s.frames[2]
    victim.unlink()
    with pytest.raises(DatasetError) as err:
        read_dataset(layout, root)
    assert err.value.path.name == victim.name or victim.name.split(".")[0] in str(err.value)
    assert "missing frame" in str(err.value)


@pytest.mark.parametrize("layout", ["casme2", "smic"])
def test_unreadable_image_names_the_file(dataset_copy, layout):
    root = dataset_copy(layout)
    victim = _first_clip(root, layout).frames[1]
    victim.write_bytes(b"this is not an image")
    with pytest.raises(DatasetError) as err:
        validate(layout, root)
    assert err.value.path == victim and "cannot decode" in str(err.value)


@pytest.mark.parametrize("threads", [1, 4])
def test_first_unreadable_frame_in_order_is_named_whatever_the_threads(dataset_copy, threads):
    from mfdan.data.validate import check_frames

    root = dataset_copy("casme2")
    samples = read_dataset("casme2", root)
    reference = check_frames(samples, threads=1)
    assert check_frames(samples, threads=threads) == reference
    assert [len(d) for d in reference] == [len(s.frames) for s in samples]
    first, later = samples[1].frames[3], samples[-1].frames[0]  # two bad frames: the earlier one is reported
    later.write_bytes(b"")
    first.write_bytes(b"this is not an image")
    with pytest.raises(DatasetError) as err:
        check_frames(samples, threads=threads)
    assert err.value.path == first and "cannot decode" in str(err.value)


def test_sheet_without_expected_columns(dataset_copy):
    root = dataset_copy("casme2")
    sheet = edit_casme2_sheet(root, lambda ws: ws.cell(row=1, column=4, value="Start"))  # OnsetFrame renamed
    with pytest.raises(DatasetError) as err:
        read_dataset("casme2", root)
    assert err.value.path == sheet and "onset" in str(err.value) and "header" in str(err.value)


def test_unknown_emotion_label_names_the_row(dataset_copy):
    root = dataset_copy("casme2")
    sheet = edit_casme2_sheet(root, lambda ws: ws.cell(row=3, column=9, value="happy-ish"))
    with pytest.raises(DatasetError) as err:
        read_dataset("casme2", root)
    assert err.value.path == sheet and err.value.row == 3 and "happy-ish" in str(err.value)


def test_frame_number_that_is_not_a_number(dataset_copy):
    root = dataset_copy("samm")
    sheet = next(root.glob("SAMM_*.xlsx"))
    book = openpyxl.load_workbook(sheet)
    ws = book.active
    header = next(r for r in range(1, 20) if ws.cell(row=r, column=1).value == "Subject")
    ws.cell(row=header + 1, column=4, value="n/a")
    book.save(sheet)
    with pytest.raises(DatasetError) as err:
        read_dataset("samm", root)
    assert err.value.row == header + 1 and "frame number" in str(err.value)


@pytest.mark.parametrize("layout,folder", [("casme2", "sub99"), ("samm", "099")])
def test_subject_folder_not_in_sheet(dataset_copy, layout, folder):
    root = dataset_copy(layout)
    first = next(p for p in sorted(root.iterdir()) if p.is_dir())
    shutil.copytree(first, root / folder)
    with pytest.raises(DatasetError) as err:
        read_dataset(layout, root)
    assert err.value.path == root / folder and "no row in the annotation sheet" in str(err.value)
    assert read_dataset(layout, root, strict_folders=False)  # the documented escape hatch


def test_smic_unknown_class_folder(dataset_copy):
    root = dataset_copy("smic")
    clip = _first_clip(root, "smic").frames[0].parent
    bad = clip.parent.parent / "happy"
    bad.mkdir()
    with pytest.raises(DatasetError) as err:
        read_dataset("smic", root)
    assert err.value.path == bad


def test_missing_sheet(dataset_copy):
    root = dataset_copy("samm")
    next(root.glob("SAMM_*.xlsx")).unlink()
    with pytest.raises(DatasetError, match="no annotation sheet"):
        read_dataset("samm", root)


def test_cli_prints_one_clear_line(dataset_copy):
    root = dataset_copy("casme2")
    victim = _first_clip(root, "casme2").frames[3]
    victim.unlink()
    result = CliRunner().invoke(app, ["validate", "--dataset", "casme2", "--root", str(root)])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and victim.name in lines[0]

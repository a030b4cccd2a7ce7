"""CAS(ME)³ Part A, MMEW and CASME: protocols, `mfdan validate`, the sheet anomalies each release documents, and a
damaged copy of each (bad sheet row, duplicate row, a path leaving the root) getting one error naming the file."""
import json
import shutil
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
import xlwt
from typer.testing import CliRunner

from mfdan.cli import app
from mfdan.core.errors import DatasetError
from mfdan.data.protocols import PROTOCOLS, THREE_CLASS, get_protocol, reference_counts, reference_rows
from mfdan.data.readers import casme3, read_dataset
from mfdan.data.sheets import _raw_rows
from mfdan.data.validate import validate

NEW = ("casme3", "mmew", "casme")
SHEET = {"casme3": "cas(me)3_part_A_ME_label*.xlsx", "mmew": "MMEW_Micro_Exp.xlsx", "casme": "Section A.xls"}


def sheet_of(root: Path, layout: str) -> Path:
    return next(root.glob(SHEET[layout]))


def edit_rows(sheet: Path, edit) -> None:
    """Rewrite ``sheet`` (.xlsx or .xls) with ``edit(rows)`` applied to its rows (lists of cells, header first)."""
    rows = [list(r) for r in _raw_rows(sheet)]
    edit(rows)
    if sheet.suffix == ".xls":
        book = xlwt.Workbook()
        ws = book.add_sheet("Sheet1")
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                ws.write(i, j, v)
        book.save(str(sheet))
    else:
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(sheet)


def column(rows, name: str) -> int:
    return [str(c) for c in rows[0]].index(name)


ONSET = {"casme3": "Onset", "mmew": "OnsetFrame", "casme": "OnsetF"}
FILENAME = {"casme3": "Filename", "mmew": "Filename", "casme": "Filename"}


def test_casme3_reference_list_is_the_public_v2_sheet():
    rows = reference_rows("casme3")
    assert len(rows) == 860 and len({r["subject"] for r in rows}) == 94
    assert Counter(r["emotion"] for r in rows) == {"disgust": 250, "surprise": 187, "others": 161, "fear": 86,
                                                    "anger": 64, "sad": 57, "happy": 55}
    assert len({r["sample"] for r in rows}) == 860  # subject_video_onset names every row apart
    counts = reference_counts()
    assert counts["casme3_7"] == {"happy": 55, "disgust": 250, "fear": 86, "anger": 64, "sad": 57, "surprise": 187,
                                  "others": 161}
    assert counts["casme3_4"] == {"negative": 457, "positive": 55, "surprise": 187, "others": 161}
    assert counts["casme3_3"] == {"negative": 457, "positive": 55, "surprise": 187}
    assert counts["mmew_7"] == dict.fromkeys(PROTOCOLS["mmew_7"].classes)  # no public per-sample list


@pytest.mark.parametrize("dataset", ["casme3", "mmew", "casme"])
def test_three_class_mapping_is_complete_and_written_once(dataset):
    """Every label the reader accepts has a 3-class group (or is dropped), and the 3-class protocols of the
    dataset and composite_all use that one table."""
    groups = set(THREE_CLASS[dataset].values())
    assert groups <= {"negative", "positive", "surprise", None} and None in groups
    mine = [p for p in PROTOCOLS.values() if dataset in p.datasets and p.classes == ("negative", "positive", "surprise")
            and p.mapping is not None]
    assert {p.name for p in mine} >= {"composite_all"} and all(p.mapping[dataset] is THREE_CLASS[dataset] for p in mine)


@pytest.mark.parametrize("layout,protocol", [("casme3", "casme3_7"), ("mmew", "mmew_7"), ("casme", "casme_8")])
def test_validate_round_trips_the_generated_layout(synth_root, layout, protocol):
    rep = validate(protocol, synth_root / layout)
    written = json.loads((synth_root / layout / "synth_manifest.json").read_text())["samples"]
    assert rep["samples_read"] == len(written) == rep["samples_kept"]
    assert rep["reference"]["label_mismatches"] == [] and rep["reference"]["not_in_reference"] == []
    if layout == "casme3":  # a per-sample list: the demo's rows are rows of the v2 sheet
        assert rep["reference"]["per_sample_lists"] == ["casme3"] and rep["reference"]["totals"] == {}
    else:  # only the published total
        assert rep["reference"]["totals"][layout] == {"published_samples": {"mmew": 300, "casme": 195}[layout],
                                                      "samples_read": len(written), "complete": False}
    result = CliRunner().invoke(app, ["validate", "--dataset", protocol, "--root", str(synth_root / layout)])
    assert result.exit_code == 0 and f"protocol {protocol}" in result.output


def test_composite_all_takes_the_datasets_present(synth_root, tmp_path):
    """composite_all reads whichever dataset folders exist (here three of six) and regroups each by its table."""
    root = tmp_path / "some"
    root.mkdir()
    for d in ("samm", "casme3", "casme"):
        (root / d).symlink_to(synth_root / d)
    rep = validate("composite_all", root)
    assert rep["datasets"] == ["samm", "casme3", "casme"]
    assert {s["dataset"] for s in rep["samples"]} == {"samm", "casme3", "casme"}
    for s in rep["samples"]:
        assert s["label"] == THREE_CLASS[s["dataset"]][s["emotion"]]
    with pytest.raises(DatasetError, match="needs at least one dataset"):
        validate("composite_all", tmp_path / "none")
    with pytest.raises(DatasetError, match="needs casme2"):  # composite still needs its three
        validate("composite", root)


@pytest.mark.parametrize("layout", NEW)
def test_bad_sheet_row_names_the_row(dataset_copy, layout):
    root = dataset_copy(layout)
    sheet = sheet_of(root, layout)
    edit_rows(sheet, lambda rows: rows[1].__setitem__(column(rows, ONSET[layout]), "n/a"))
    with pytest.raises(DatasetError) as err:
        read_dataset(layout, root)
    assert err.value.path == sheet and err.value.row == 2 and "frame number" in str(err.value)


@pytest.mark.parametrize("layout", NEW)
def test_duplicate_row_names_both_rows(dataset_copy, layout):
    root = dataset_copy(layout)
    sheet = sheet_of(root, layout)
    edit_rows(sheet, lambda rows: rows.append(list(rows[1])))
    with pytest.raises(DatasetError) as err:
        read_dataset(layout, root)
    assert err.value.path == sheet and "both describe" in str(err.value) and "row" in str(err.value)


@pytest.mark.parametrize("layout", NEW)
def test_path_outside_the_root_is_refused(dataset_copy, tmp_path, layout):
    root = dataset_copy(layout)
    sheet = sheet_of(root, layout)
    edit_rows(sheet, lambda rows: rows[1].__setitem__(column(rows, FILENAME[layout]), "../../outside"))
    with pytest.raises(DatasetError) as err:
        read_dataset(layout, root)
    assert err.value.path == sheet and err.value.row == 2 and "not a folder name" in str(err.value)


@pytest.mark.parametrize("layout", NEW)
def test_symlinked_clip_leaving_the_root_is_refused(dataset_copy, tmp_path, layout):
    """A clip folder that is a link to frames outside the dataset folder: named, refused."""
    root = dataset_copy(layout)
    clip = read_dataset(layout, root)[0].frames[0].parent
    outside = tmp_path / "outside_clip"
    shutil.copytree(clip, outside)
    shutil.rmtree(clip)
    clip.symlink_to(outside)
    with pytest.raises(DatasetError, match="outside the dataset folder"):
        read_dataset(layout, root)


@pytest.mark.parametrize("layout", NEW)
def test_cli_validate_prints_one_line_for_a_damaged_copy(dataset_copy, layout):
    root = dataset_copy(layout)
    victim = read_dataset(layout, root)[0].frames[1]
    victim.write_bytes(b"not a jpeg")
    protocol = {"casme3": "casme3_7", "mmew": "mmew_7", "casme": "casme_8"}[layout]
    result = CliRunner().invoke(app, ["validate", "--dataset", protocol, "--root", str(root)])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and str(victim) in lines[0] and "cannot decode" in lines[0]


def _casme3_video(root: Path, subject: str, video: str, frames: range) -> None:
    """Frames ``frames`` of ``subject``/``video``, copies of one generated frame."""
    src = next(root.rglob("color/*.jpg"))
    color = root / subject / video / "color"
    color.mkdir(parents=True)
    for n in frames:
        shutil.copy(src, color / f"{n}.jpg")


def test_casme3_sheet_anomalies_are_corrected_or_reported(dataset_copy):
    """The v2 sheet's known errors (meb's corrections) are applied and noted; an uncoded offset (0) skips the row
    and an apex outside onset..offset drops the apex (data.apex_fallback applies), each noted."""
    root = dataset_copy("casme3")
    before = len(read_dataset("casme3", root))
    _casme3_video(root, "spNO.216", "e", range(1, 26))     # errata row: onset 0, apex 0 -> 1, 1
    _casme3_video(root, "spNO.999", "a", range(10, 21))
    extra = [["spNO.216", "e", "0", "0", "25", "14", "VII", "others"],
             ["spNO.999", "a", "10", "12", "0", "4", "III", "disgust"],     # offset not coded
             ["spNO.999", "a", "12", "30", "20", "4", "III", "Others"]]     # apex past the offset
    edit_rows(sheet_of(root, "casme3"), lambda rows: rows.extend(extra))
    notes = []
    samples = read_dataset("casme3", root, notes=notes)
    assert len(samples) == before + 2
    fixed = next(s for s in samples if s.sample_id == "spNO.216_e_0")
    assert fixed.frame_numbers == tuple(range(1, 26)) and fixed.apex == 0
    late = next(s for s in samples if s.sample_id == "spNO.999_a_12")
    assert late.apex is None and late.emotion == "others" and late.frame_numbers == tuple(range(12, 21))
    assert [(n["sample"], n["action"]) for n in notes] == [
        ("spNO.216_e_0", "corrected"), ("spNO.999_a_10", "skipped"), ("spNO.999_a_12", "apex dropped")]
    assert all(n["row"] > 1 and n["sheet"].endswith(".xlsx") for n in notes)
    assert set(casme3.ERRATA) <= {(r["subject"], r["video"], int(r["onset"]), int(r["apex"]), int(r["offset"]))
                                  for r in reference_rows("casme3")}  # each correction is of a real v2 row


def test_casme3_clip_release_layout(dataset_copy):
    """The micro-expression clip release (Part_A_ME_clip/frame/<subject>_<video>_<onset>/) reads the same."""
    root = dataset_copy("casme3")
    full = read_dataset("casme3", root)
    clips = root / "Part_A_ME_clip" / "frame"
    clips.mkdir(parents=True)
    for s in full:
        (clips / s.sample_id).mkdir()
        for p in s.frames:
            shutil.copy(p, clips / s.sample_id / p.name)
    for p in [p for p in root.iterdir() if p.name.startswith("spNO.")]:
        shutil.rmtree(p)
    got = read_dataset("casme3", root)
    assert [(s.sample_id, s.frame_numbers, s.apex) for s in got] == [(s.sample_id, s.frame_numbers, s.apex) for s in full]


def test_casme_combined_sheet_and_cropped_frames(dataset_copy):
    """CASME's combined coding sheet (CASME-coded-*.xls, both sections) replaces the two section sheets, and the
    cropped frames (reg_<clip>-<n>.jpg) read as the cropped variant."""
    root = dataset_copy("casme")
    want = read_dataset("casme", root)
    rows = [list(r) for r in _raw_rows(root / "Section A.xls")] + [list(r) for r in _raw_rows(root / "Section B.xls")][1:]
    (root / "Section A.xls").unlink()
    (root / "Section B.xls").unlink()
    edit_rows_target = root / "CASME-coded-20190721.xls"
    book = xlwt.Workbook()
    ws = book.add_sheet("Sheet1")
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            ws.write(i, j, v)
    book.save(str(edit_rows_target))
    assert [(s.subject, s.sample_id, s.frame_numbers) for s in read_dataset("casme", root)] == \
        [(s.subject, s.sample_id, s.frame_numbers) for s in want]
    for s in want:
        for p in s.frames:
            p.rename(p.with_name("reg_" + p.name))
    cropped = read_dataset("casme", root, variant="cropped")
    assert all(p.name.startswith("reg_") for s in cropped for p in s.frames) and len(cropped) == len(want)


def test_casme_missing_section_sheet(dataset_copy):
    root = dataset_copy("casme")
    (root / "Section B.xls").unlink()
    with pytest.raises(DatasetError, match="no CASME coding sheet"):
        read_dataset("casme", root)


def test_mmew_others_live_in_repression_and_unknown_labels_are_named(dataset_copy):
    root = dataset_copy("mmew")
    others = [s for s in read_dataset("mmew", root) if s.emotion == "others"]
    assert others and all(s.frames[0].parts[-3] == "repression" for s in others)
    sheet = sheet_of(root, "mmew")
    edit_rows(sheet, lambda rows: rows[1].__setitem__(column(rows, "Estimated Emotion"), "happy"))
    with pytest.raises(DatasetError) as err:  # MMEW's sheet says happiness; CAS(ME)³'s 'happy' is not MMEW's label
        read_dataset("mmew", root)
    assert err.value.row == 2 and "'happy'" in str(err.value)


def test_protocols_json_lists_the_new_protocols():
    result = CliRunner().invoke(app, ["protocols", "--json"])
    counts = json.loads(result.output)
    for name in ("casme3_3", "casme3_4", "casme3_7", "mmew_all", "mmew_7", "casme_all", "casme_8", "composite_all"):
        assert list(counts[name]) == list(get_protocol(name).classes)
    text = CliRunner().invoke(app, ["protocols"]).output
    assert "mmew 300 published" in text and "casme3_7       860" in text


def test_unknown_dataset_in_roots_is_an_error():
    from mfdan.data.config import DataConfig

    with pytest.raises(ValueError, match="unknown datasets"):
        DataConfig(roots={"casme4": "x"})
    assert DataConfig(roots={"casme3": "x"}).roots == {"casme3": "x"}  # one dataset is enough

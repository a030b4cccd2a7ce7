"""Each native reader on generated trees in the real layouts, checked against what the generator wrote."""
import csv
import json
import shutil

import pytest

from mfdan.data.readers import casme2, read_dataset, samm, smic
from mfdan.data.images import read_image
from mfdan.data.protocols import GROUP_3

LAYOUTS = ("casme2", "samm", "smic", "casme3", "mmew", "casme")


def manifest(root):
    return json.loads((root / "synth_manifest.json").read_text())["samples"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_reader_returns_what_the_generator_wrote(synth_root, layout):
    root = synth_root / layout
    samples = read_dataset(layout, root)
    written = manifest(root)
    got = [(s.subject, s.sample_id) for s in samples]
    want = [(w["subject"], w["sample"]) for w in written]
    if layout == "smic":  # no sheet: folder order (subject, class, clip)
        assert got == sorted(want, key=lambda k: (int(k[0][1:]), k[1]))
    else:  # sheet order
        assert got == want
    by_id = {w["sample"]: w for w in written}
    for s in samples:
        w = by_id[s.sample_id]
        assert s.dataset == layout
        assert s.emotion == w["emotion"]
        assert s.frame_numbers == tuple(range(w["onset"], w["offset"] + 1))
        assert (s.onset, s.offset) == (0, len(s.frames) - 1)
        assert all(p.is_file() for p in s.frames)
        if layout == "smic":
            assert s.apex is None and s.action_units == ""
        else:
            assert s.apex == w["apex"] - w["onset"]
            assert s.action_units == w["aus"]
    img = read_image(samples[0].frames[0])
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype.name == "uint8"


def test_casme2_cropped_release_and_csv_sheet(dataset_copy):
    root = dataset_copy("casme2")
    for p in list(root.rglob("img*.jpg")):  # the 'Cropped' release: reg_img*.jpg in Cropped/
        p.rename(p.with_name("reg_" + p.name))
    (root / "Cropped").mkdir()
    for sub in [p for p in root.iterdir() if p.name.startswith("sub")]:
        shutil.move(str(sub), root / "Cropped" / sub.name)
    # sheet as CSV with the reference release's column names (Onset/Apex/Offset/Label)
    raw = read_dataset("casme2", root, variant="cropped")
    sheet = next(root.glob("CASME2-coding-*.xlsx"))
    sheet.unlink()
    with (root / "CASME2-coding-20140508.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Subject", "Filename", "Onset", "Apex", "Offset", "Action Units", "Label"])
        for s in raw:
            n = s.frame_numbers
            w.writerow([s.subject[3:], s.sample_id, n[0], n[s.apex], n[-1], s.action_units, s.emotion])
    again = casme2.read(root)
    assert [(s.sample_id, s.frame_numbers, s.apex) for s in again] == [(s.sample_id, s.frame_numbers, s.apex) for s in raw]
    assert all(p.name.startswith("reg_img") for s in again for p in s.frames)


def test_casme2_missing_apex_marked_with_slash(dataset_copy, tmp_path):
    root = dataset_copy("casme2")
    samples = casme2.read(root)
    sheet = tmp_path / "CASME2-coding-x.csv"
    with sheet.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"])
        s = samples[0]
        w.writerow([s.subject, s.sample_id, s.frame_numbers[0], "/", s.frame_numbers[-1], s.action_units, s.emotion])
    (got,) = casme2.read(root, sheet=sheet, strict_folders=False)
    assert got.apex is None


def test_samm_sheet_preamble_and_integer_subjects(synth_root):
    import openpyxl

    sheet = next((synth_root / "samm").glob("SAMM_Micro_FACS_Codes*.xlsx"))
    rows = list(openpyxl.load_workbook(sheet, read_only=True).worksheets[0].iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r and r[0] == "Subject")
    assert header_at >= 3 and isinstance(rows[header_at + 1][0], int)  # preamble; subject 6, not '006'
    samples = samm.read(synth_root / "samm")
    assert all(len(s.subject) == 3 for s in samples)
    assert all(p.name.startswith(s.subject + "_") for s in samples for p in s.frames)


def test_smic_accepts_the_hs_folder_itself(synth_root):
    a = smic.read(synth_root / "smic")
    b = smic.read(synth_root / "smic" / "HS")
    assert [s.sample_id for s in a] == [s.sample_id for s in b]
    assert {GROUP_3[s.emotion] for s in a} <= {"negative", "positive", "surprise"}
    assert all(s.subject.startswith("s0") or s.subject.startswith("s1") or s.subject.startswith("s2") for s in a)

"""What the demo generator writes to disk, in each release's native layout: frame files where the release keeps
them (:func:`frame_relpath`, :func:`write_image`), the coding sheet with the release's columns and quirks
(:func:`write_sheet`), and ``synth_manifest.json`` (:func:`write_manifest`, which readers ignore).

Same content, same bytes: spreadsheets are saved with fixed zip and document timestamps (:func:`save_xlsx`,
used by the long-video generator too), xlwt writes the same bytes for the same cells.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from mfdan.data.readers import smic
from mfdan.synth.config import SynthConfig
from mfdan.synth.geometry import CASME_SECTION_A, geometry
from mfdan.synth.plan import ClipPlan
from mfdan.synth.render import clip_nuisance

FIXED_TIME = dt.datetime(2000, 1, 1)


def frame_relpath(plan: ClipPlan, n: int) -> Path:
    """Where frame number ``n`` of ``plan`` lives in the native layout."""
    if plan.layout == "casme2":
        return Path(plan.subject) / plan.sample / f"img{n}.jpg"
    if plan.layout == "samm":
        return Path(plan.subject) / plan.sample / f"{plan.subject}_{n:05d}.jpg"
    if plan.layout == "casme3":
        return Path(plan.subject) / plan.video / "color" / f"{n}.jpg"
    if plan.layout == "mmew":
        folder = "repression" if plan.emotion == "others" else plan.emotion
        return Path("Micro_Expression") / folder / plan.sample / f"{n}.jpg"
    if plan.layout == "casme":
        section = "CASME_A/Section A" if plan.subject in CASME_SECTION_A else "CASME_B/Section B"
        return Path(section) / plan.subject / plan.sample / f"{plan.sample}-{n}.jpg"
    folder = {"negative": "negative", "positive": "positive", "surprise": "surprise"}[plan.emotion]
    return (Path("HS") / smic.native_subject(plan.subject) / "micro" / folder / smic.native_sample(plan.sample)
            / f"image{n:07d}.bmp")


def write_image(path: Path, rgb: np.ndarray, layout: str) -> None:
    """One frame in the layout's file format (H×W×3 RGB, or H×W grey)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if rgb.ndim == 2:  # greyscale (SAMM)
        ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 95])
    elif layout in ("casme2", "casme3", "mmew", "casme"):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    else:
        ok, buf = cv2.imencode(".bmp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"{path}: image encoding failed")
    path.write_bytes(buf.tobytes())


def save_xlsx(book, path: Path) -> None:
    """Save an openpyxl workbook with fixed timestamps, so identical content gives identical bytes."""
    buf = io.BytesIO()
    book.save(buf)
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", lambda m: m.group(1) + stamp, data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), data,
                         compress_type=zipfile.ZIP_DEFLATED)


def write_sheet(layout: str, plans: list[ClipPlan], root: Path) -> Path | None:
    """The layout's coding sheet, with the column set and quirks of the public release."""
    import openpyxl

    if layout == "smic":
        return None
    book = openpyxl.Workbook()
    ws = book.active
    if layout == "casme2":
        path = root / "CASME2-coding-synthetic.xlsx"
        ws.append(["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
                   "Action Units", "Estimated Emotion"])
        for p in plans:
            ws.append([p.subject.removeprefix("sub"), p.sample, None, p.onset, p.apex, p.offset, None,
                       p.aus, p.emotion])
    elif layout == "casme3":  # the v2 label sheet: one sheet 'label', every cell text
        path = root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
        ws.title = "label"
        ws.append(["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"])
        for p in plans:
            ws.append([p.subject, p.video, str(p.onset), str(p.apex), str(p.offset), p.aus, "VII", p.emotion])
    elif layout == "mmew":
        path = root / "MMEW_Micro_Exp.xlsx"
        ws.append(["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
                   "Estimated Emotion", "remarks"])
        for p in plans:
            ws.append([p.subject, p.sample, p.onset, p.apex, p.offset, p.aus, p.emotion, None])
    elif layout == "casme":  # Excel 97-2003, one sheet per section, as released
        return _write_casme_sheets(plans, root)
    else:
        path = root / "SAMM_Micro_FACS_Codes_v2.xlsx"
        ws.append(["SAMM micro-movement FACS codes (synthetic, written by mfdan synth)"])
        ws.append([])
        ws.append(["Frame numbers are the image numbers in each clip folder."])
        ws.append([])
        ws.append(["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
                   "Duration", "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"])
        for p in plans:
            ws.append([int(p.subject), p.sample, 1, p.onset, p.apex, p.offset, p.offset - p.onset + 1,
                       "Micro - 1/2", p.aus, p.emotion.capitalize(), None, None])
    save_xlsx(book, path)
    return path


def _write_casme_sheets(plans: list[ClipPlan], root: Path) -> Path:
    """``Section A.xls`` and ``Section B.xls`` (sheet ``Sheet1``): Subject, Filename, a blank column, OnsetF,
    ApexF1, ApexF2 (``\\`` where there is no second apex), OffsetF, a blank, Onset (s), Total (frames), AU,
    Emotion. xlwt writes the same bytes for the same cells."""
    import xlwt

    header = ["Subject", "Filename", "", "OnsetF", "ApexF1", "ApexF2", "OffsetF", "", "Onset", "Total", "AU", "Emotion"]
    for section, subjects in (("Section A", CASME_SECTION_A), ("Section B", None)):
        rows = [p for p in plans if (p.subject in CASME_SECTION_A) == (subjects is not None)]
        book = xlwt.Workbook()
        ws = book.add_sheet("Sheet1")
        for j, name in enumerate(header):
            ws.write(0, j, name)
        for i, p in enumerate(rows, start=1):
            cells = [int(p.subject[3:]), p.sample, "", p.onset, p.apex, "\\", p.offset, "", round(p.onset / 60, 3),
                     p.offset - p.onset + 1, p.aus, p.emotion]
            for j, v in enumerate(cells):
                ws.write(i, j, v)
        book.save(str(root / f"{section}.xls"))
    return root / "Section A.xls"


def write_manifest(layout: str, plans: list[ClipPlan], cfg: SynthConfig, root: Path) -> Path:
    """``root/synth_manifest.json``: the config (less ``workers`` and ``layouts``, which do not describe this
    layout's data, and ``rows`` at its default, so the manifests written before it existed keep their bytes) and
    every clip's plan, with its confounders where it has any."""
    config = {k: v for k, v in asdict(cfg).items() if k not in ("workers", "layouts")
              and not (k == "rows" and v == SynthConfig.rows)}
    manifest = {"layout": layout, "config": config,
                "samples": [{k: v for k, v in asdict(p).items() if k != "motion"} | {"motion": list(p.motion)}
                            | _confounders(p, cfg) for p in plans]}
    path = root / "synth_manifest.json"
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def _confounders(plan: ClipPlan, cfg: SynthConfig) -> dict:
    """The manifest's record of a clip's confounders (none: an empty dict, so the demo's manifest is unchanged):
    the blink's weight per frame, the head's shift (px) and roll (degrees) at the offset."""
    n = plan.offset - plan.onset + 1
    nz = clip_nuisance(plan, cfg, n, geometry(plan.layout, cfg, plan.subject).face)
    if nz is None:
        return {}
    return {"confounders": {"blink": [round(float(b), 4) for b in nz.blink],
                            "blink_amplitude_px": round(nz.blink_amplitude, 4) if nz.blink.any() else 0.0,
                            "head_shift_px": [round(v, 4) for v in nz.shift], "head_roll_deg": round(nz.angle, 4)}}

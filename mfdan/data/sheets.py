"""Annotation sheets (``.xlsx`` or ``.xls`` as released, or ``.csv``) read into rows of named cells.

Released coding sheets differ between versions: unnamed spacer columns, a preamble of rows before the
header (SAMM), and small spelling changes (``OnsetFrame`` / ``Onset Frame`` / ``Onset``). We find the
header row by looking for every required column under any of its aliases, compare names with case,
spaces and punctuation removed, and ignore the columns we do not use.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from mfdan.core.errors import DatasetError

MAX_PREAMBLE_ROWS = 40


def normalise_header(name: object) -> str:
    """``'Estimated  Emotion '`` -> ``'estimatedemotion'``."""
    return re.sub(r"[^0-9a-z]", "", str(name or "").lower())


def cell_text(value: object) -> str:
    """A cell as text: ``6.0`` -> ``'6'``, ``None`` -> ``''``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _raw_rows(path: Path, index: int = 0) -> Iterator[list[object]]:
    """The cells of worksheet ``index`` of ``path``, row by row (a .csv has one)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            yield from csv.reader(fh)
    elif suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises several types for a damaged file
            raise DatasetError(path, f"cannot open the spreadsheet ({exc.__class__.__name__}: {exc})") from exc
        try:
            if index >= len(book.worksheets):
                raise DatasetError(path, f"has {len(book.worksheets)} worksheet(s); worksheet {index + 1} is needed")
            sheet = book.worksheets[index]
            for row in sheet.iter_rows(values_only=True):
                yield list(row)
        finally:
            book.close()
    elif suffix == ".xls":  # CASME's sheets are Excel 97-2003 workbooks
        import xlrd

        try:
            book = xlrd.open_workbook(path, on_demand=True)
        except Exception as exc:  # xlrd raises XLRDError, CompDocError, struct errors... for a damaged file
            raise DatasetError(path, f"cannot open the spreadsheet ({exc.__class__.__name__}: {exc})") from exc
        try:
            if index >= book.nsheets:
                raise DatasetError(path, f"has {book.nsheets} worksheet(s); worksheet {index + 1} is needed")
            sheet = book.sheet_by_index(index)
            for i in range(sheet.nrows):
                yield list(sheet.row_values(i))
        finally:
            book.release_resources()
    else:
        raise DatasetError(path, f"unsupported annotation sheet type {suffix!r} (expected .xlsx, .xls or .csv)")


def sheet_cells(path: str | Path, index: int = 0) -> list[tuple[int, list[str]]]:
    """Worksheet ``index`` of ``path`` with no header row: ``(1-based row number, cell texts)`` of its non-blank
    rows (CAS(ME)²'s coding sheet and naming rules have no header)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "annotation sheet not found")
    out = []
    for number, row in enumerate(_raw_rows(path, index), start=1):
        cells = [cell_text(c) for c in row]
        if any(cells):
            out.append((number, cells))
    return out


def read_sheet(
    path: str | Path, columns: Mapping[str, Sequence[str]]
) -> list[tuple[int, dict[str, str]]]:
    """Rows of ``path`` as ``(row_number, {field: text})`` for the fields in ``columns``.

    ``columns`` maps our field name to the header aliases that may name it. ``row_number`` is the
    1-based row in the sheet, so errors can point at it. Blank rows are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "annotation sheet not found")
    wanted = {field: {normalise_header(a) for a in aliases} for field, aliases in columns.items()}
    rows = _raw_rows(path)
    header_at: dict[str, int] | None = None
    seen_headers: list[str] = []
    out: list[tuple[int, dict[str, str]]] = []
    for number, row in enumerate(rows, start=1):
        if header_at is None:
            names = [normalise_header(c) for c in row]
            found = {}
            for field, aliases in wanted.items():
                idx = next((i for i, n in enumerate(names) if n in aliases), None)
                if idx is not None:
                    found[field] = idx
            if len(found) == len(wanted):
                header_at = found
            elif number >= MAX_PREAMBLE_ROWS:
                break
            elif any(names):
                seen_headers = [cell_text(c) for c in row if cell_text(c)]
            continue
        cells = [cell_text(c) for c in row]
        if not any(cells):
            continue
        out.append((number, {f: (cells[i] if i < len(cells) else "") for f, i in header_at.items()}))
    if header_at is None:
        need = ", ".join(f"{f} (one of {sorted(a)})" for f, a in columns.items())
        raise DatasetError(
            path,
            f"no header row with the expected columns in the first {MAX_PREAMBLE_ROWS} rows; "
            f"need {need}; last row seen: {seen_headers}",
        )
    return out


def parse_frame(path: Path, row: int, field: str, text: str, *, optional: bool = False) -> int | None:
    """A frame number cell; ``'/'`` or blank is ``None`` when ``optional`` (CASME II marks missing apexes so)."""
    t = text.strip()
    if optional and t in ("", "/", "\\", "-", "nan"):
        return None
    try:
        value = float(t)
    except ValueError:
        raise DatasetError(path, f"column {field!r} holds {text!r}, not a frame number", row=row) from None
    if not value.is_integer() or value < 0:
        raise DatasetError(path, f"column {field!r} holds {text!r}, not a whole frame number", row=row)
    return int(value)

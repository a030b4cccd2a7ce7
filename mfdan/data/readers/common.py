"""Helpers shared by the native dataset readers: sheets and frame folders to samples, frame discovery."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mfdan.core.errors import DatasetError
from mfdan.data.protocols import KNOWN_LABELS
from mfdan.data.records import Sample
from mfdan.data.sheets import parse_frame, read_sheet

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def frame_index(clip_dir: Path, pattern: re.Pattern[str], prefer: str | None = None) -> dict[int, Path]:
    """Map frame number -> path for the files of ``clip_dir`` whose name matches ``pattern``.

    ``pattern`` has one group, the frame number. When a folder holds two variants of a frame
    (``img46.jpg`` and ``reg_img46.jpg``), the name starting with ``prefer`` wins if given, else the
    shorter name.
    """
    if not clip_dir.is_dir():
        raise DatasetError(clip_dir, "clip folder not found")
    found: dict[int, Path] = {}
    for p in clip_dir.iterdir():
        m = pattern.match(p.name)
        if not m or p.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        n = int(m.group(1))
        old = found.get(n)
        if old is None:
            found[n] = p
        else:
            def rank(q: Path) -> tuple[int, int]:
                return (0 if prefer and q.name.startswith(prefer) else 1, len(q.name))

            found[n] = min(old, p, key=rank)
    return found


def frame_span(
    clip_dir: Path, frames: dict[int, Path], first: int, last: int, *, template: str, row_ref: tuple[Path, int] | None
) -> tuple[tuple[Path, ...], tuple[int, ...]]:
    """The consecutive frames ``first..last`` of a clip, or a clear error naming the first missing file."""
    if last < first:
        where = row_ref or (clip_dir, None)
        raise DatasetError(where[0], f"offset frame {last} comes before onset frame {first}", row=where[1])
    paths, numbers = [], []
    for n in range(first, last + 1):
        p = frames.get(n)
        if p is None:
            raise DatasetError(
                clip_dir / template.format(n=n, subject=clip_dir.parent.name),
                f"missing frame {n} (the clip needs every frame from {first} to {last})",
            )
        paths.append(p)
        numbers.append(n)
    return tuple(paths), tuple(numbers)


def find_sheet(root: Path, globs: tuple[str, ...]) -> Path:
    """The first annotation sheet in ``root`` matching one of ``globs``."""
    for g in globs:
        hits = sorted(root.glob(g))
        if hits:
            return hits[0]
    raise DatasetError(root, f"no annotation sheet found (looked for {', '.join(globs)})")


def find_frame_root(root: Path, subdirs: tuple[str, ...], subject_re: re.Pattern[str]) -> Path:
    """The first of ``root/subdir`` that holds subject folders."""
    for sub in subdirs:
        cand = root / sub
        if cand.is_dir() and any(subject_re.match(p.name) for p in cand.iterdir() if p.is_dir()):
            return cand
    raise DatasetError(root, f"no subject folders found (looked in {[str(root / s) for s in subdirs]})")


def check_subject_folders(frame_root: Path, subject_re: re.Pattern[str], known: set[str], sheet: Path) -> None:
    """A subject folder without a single row in the sheet means sheet and frames do not belong together."""
    for p in sorted(frame_root.iterdir()):
        if p.is_dir() and subject_re.match(p.name) and p.name not in known:
            raise DatasetError(p, f"subject folder has no row in the annotation sheet {sheet.name}")


def apex_index(sheet: Path, row: int, onset: int, apex: int | None, offset: int) -> int | None:
    """The apex as an index into the clip's frames, checked to lie within onset..offset."""
    if apex is None:
        return None
    if not onset <= apex <= offset:
        raise DatasetError(sheet, f"apex frame {apex} is outside onset..offset ({onset}..{offset})", row=row)
    return apex - onset


def coded_span(sheet: Path, row: int, cells: Mapping[str, str]) -> tuple[int, int | None, int]:
    """The row's onset, apex (``None`` where the sheet marks it missing) and offset frame numbers."""
    return (parse_frame(sheet, row, "onset", cells["onset"]),
            parse_frame(sheet, row, "apex", cells["apex"], optional=True),
            parse_frame(sheet, row, "offset", cells["offset"]))


def check_emotion(dataset: str, sheet: Path, row: int | None, cell: str) -> str:
    """The sheet's emotion cell, lower-cased, if it is one of ``dataset``'s labels (protocols.KNOWN_LABELS)."""
    emotion = cell.strip().lower()
    if emotion not in KNOWN_LABELS[dataset]:
        raise DatasetError(sheet, f"unknown emotion label {cell!r} (known: {sorted(KNOWN_LABELS[dataset])})", row=row)
    return emotion


def clip_folder_name(sheet: Path, row: int, cell: str, column: str = "Filename") -> str:
    """A sheet cell naming one folder, refused if empty or if it is a path (``..``, ``a/b``, absolute)."""
    if not cell:
        raise DatasetError(sheet, f"empty {column} cell", row=row)
    if Path(cell).is_absolute() or len(Path(cell).parts) != 1 or cell in (".", ".."):
        raise DatasetError(sheet, f"{column} {cell!r} is not a folder name (a path must not leave its folder)", row=row)
    return cell


def read_coded(
    *, name: str, sheet: Path, columns: Mapping[str, Sequence[str]], frame_root: Path,
    subject_re: re.Pattern[str], subject_folder: Callable[[str], str], frame_re: re.Pattern[str],
    prefer: str | None, only_preferred: bool, template: str, strict_folders: bool,
) -> list[Sample]:
    """Samples of a dataset released as a coding sheet plus ``SUBJECT/CLIP/frames`` (CASME II, SAMM).

    ``columns`` must name ``subject, filename, onset, apex, offset, aus, emotion``;
    ``subject_folder`` turns a sheet's subject cell into the folder name (raises ``ValueError``).
    """
    samples: list[Sample] = []
    folders_in_sheet: set[str] = set()
    first_row: dict[tuple[str, str], int] = {}
    for row, cells in read_sheet(sheet, columns):
        try:
            folder = subject_folder(cells["subject"])
        except ValueError as exc:
            raise DatasetError(sheet, str(exc), row=row) from None
        folders_in_sheet.add(folder)
        onset, apex, offset = coded_span(sheet, row, cells)
        name_cell = clip_folder_name(sheet, row, cells["filename"])
        key = (folder, name_cell)
        if key in first_row:
            raise DatasetError(sheet, f"rows {first_row[key]} and {row} both describe clip {folder}/{name_cell}",
                               row=row)
        first_row[key] = row
        clip_dir = frame_root / folder / name_cell
        if not clip_dir.is_dir():
            raise DatasetError(clip_dir, f"clip folder of row {row} of {sheet.name} not found")
        index = frame_index(clip_dir, frame_re, prefer=prefer)
        if only_preferred and prefer:
            index = {n: p for n, p in index.items() if p.name.startswith(prefer)}
        paths, numbers = frame_span(clip_dir, index, onset, offset, template=template, row_ref=(sheet, row))
        emotion = check_emotion(name, sheet, row, cells["emotion"])
        samples.append(Sample(
            dataset=name, subject=folder, sample_id=cells["filename"], frames=paths, frame_numbers=numbers,
            onset=0, apex=apex_index(sheet, row, onset, apex, offset), offset=len(paths) - 1,
            emotion=emotion, action_units=cells["aus"],
        ))
    if strict_folders:
        check_subject_folders(frame_root, subject_re, folders_in_sheet, sheet)
    return samples

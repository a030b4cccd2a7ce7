"""Helpers shared by the native dataset readers: sheets and frame folders to samples, frame discovery."""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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


def check_folders(parent: Path, name_re: re.Pattern[str], known: set[str], sheet: Path,
                  what: str = "subject folder") -> None:
    """Every folder of ``parent`` whose name matches ``name_re`` must be in ``known`` (the folders the sheet
    names): one without a single row in the sheet means sheet and frames do not belong together. The rule of
    every reader, clip and long-video alike; ``what`` names the folder in the error."""
    for p in sorted(parent.iterdir()):
        if p.is_dir() and name_re.match(p.name) and p.name not in known:
            raise DatasetError(p, f"{what} has no row in the annotation sheet {sheet.name}")


def check_subject_folders(frame_root: Path, subject_re: re.Pattern[str], known: set[str], sheet: Path) -> None:
    """A subject folder without a single row in the sheet means sheet and frames do not belong together."""
    check_folders(frame_root, subject_re, known, sheet, "subject folder")


def check_frame_files(items: Iterable[tuple[str, Sequence[Path]]], root: Path) -> None:
    """Every frame of every ``(owner, frames)`` item must be a regular file resolving inside the dataset folder
    ``root``: no ``..`` or absolute escape from a sheet, no symlink (of the file or a folder above it) pointing
    out, no folder or device in a frame's place. The rule of every reader, clip and long-video alike
    (:func:`mfdan.data.readers.read_dataset`, :func:`mfdan.data.long_readers.read_long`); ``owner`` (a sample
    or recording) is named in the error. Each frame's folder is resolved once, each file is ``lstat``-ed: a
    plain file in a folder inside ``root`` is inside it; only a symlinked frame is resolved itself."""
    base = root.resolve()
    inside: dict[Path, bool] = {}
    for owner, frames in items:
        for p in frames:
            p = Path(p)
            parent = p.parent
            ok = inside.get(parent)
            if ok is None:
                ok = inside[parent] = parent.resolve().is_relative_to(base)
            try:
                mode = os.lstat(p).st_mode
            except OSError:
                raise DatasetError(p, f"frame of {owner} not found") from None
            if stat.S_ISLNK(mode):
                target = p.resolve()
                ok = ok and target.is_relative_to(base)
                if ok and not target.is_file():
                    raise DatasetError(p, f"frame of {owner} is a symlink to {target}, which is not a regular file")
            if not ok:
                raise DatasetError(p, f"frame of {owner} resolves outside the dataset folder {root}")
            if not stat.S_ISLNK(mode) and not stat.S_ISREG(mode):
                raise DatasetError(p, f"frame of {owner} is not a regular file")


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


@dataclass(frozen=True)
class CodedRow:
    """One row of a coding sheet, read and checked the same way for every dataset: its subject (by the
    dataset's rule), the clip folder it names, onset / apex / offset frame numbers and the emotion."""

    sheet: Path
    row: int
    subject: str
    clip: str
    onset: int
    apex: int | None
    offset: int
    emotion: str
    cells: Mapping[str, str]


def coded_rows(dataset: str, sheet: Path, columns: Mapping[str, Sequence[str]],
               subject: Callable[[Path, int, str], str]) -> Iterator[CodedRow]:
    """The rows of ``sheet`` (``columns`` naming ``subject, filename, onset, apex, offset, aus, emotion``);
    ``subject(sheet, row, cell)`` is the dataset's subject rule (a :class:`DatasetError` naming the row)."""
    for row, cells in read_sheet(sheet, columns):
        who = subject(sheet, row, cells["subject"])
        clip = clip_folder_name(sheet, row, cells["filename"].strip())
        onset, apex, offset = coded_span(sheet, row, cells)
        yield CodedRow(sheet=sheet, row=row, subject=who, clip=clip, onset=onset, apex=apex, offset=offset,
                       emotion=check_emotion(dataset, sheet, row, cells["emotion"]), cells=cells)


class FirstRows:
    """Which sheet row first coded each clip: a second row for the same clip is an error naming both."""

    def __init__(self) -> None:
        self._first: dict[Hashable, tuple[Path, int]] = {}

    def check(self, r: CodedRow, key: Hashable, what: str) -> None:
        self.check_row(r.sheet, r.row, key, what)

    def check_row(self, sheet: Path, row: int, key: Hashable, what: str) -> None:
        """Row ``row`` of ``sheet`` codes ``key`` (``what`` describes it): an error naming both rows if an
        earlier row did. The rule of every reader, clip (a clip) and long-video (a recording's interval)."""
        if key in self._first:
            first_sheet, first_row = self._first[key]
            first = (f"rows {first_row} and" if first_sheet == sheet
                     else f"row {first_row} of {first_sheet.name} and row")
            raise DatasetError(sheet, f"{first} {row} both describe {what}", row=row)
        self._first[key] = (sheet, row)


def coded_sample(dataset: str, r: CodedRow, sample_id: str, clip_dir: Path, index: dict[int, Path], *,
                 template: str) -> Sample:
    """The :class:`Sample` of row ``r``: its frames ``onset..offset`` of ``index`` (a missing one is an error
    naming its file, after ``template``), the apex checked to lie within the clip."""
    paths, numbers = frame_span(clip_dir, index, r.onset, r.offset, template=template, row_ref=(r.sheet, r.row))
    return Sample(dataset=dataset, subject=r.subject, sample_id=sample_id, frames=paths, frame_numbers=numbers,
                  onset=0, apex=apex_index(r.sheet, r.row, r.onset, r.apex, r.offset), offset=len(paths) - 1,
                  emotion=r.emotion, action_units=r.cells["aus"])


def read_coded(
    *, name: str, sheet: Path, columns: Mapping[str, Sequence[str]], frame_root: Path,
    subject_re: re.Pattern[str], subject_folder: Callable[[str], str], frame_re: re.Pattern[str],
    prefer: str | None, only_preferred: bool, template: str, strict_folders: bool,
) -> list[Sample]:
    """Samples of a dataset released as a coding sheet plus ``SUBJECT/CLIP/frames`` (CASME II, SAMM).

    ``columns`` must name ``subject, filename, onset, apex, offset, aus, emotion``;
    ``subject_folder`` turns a sheet's subject cell into the folder name (raises ``ValueError``).
    """
    def subject(sheet: Path, row: int, cell: str) -> str:
        try:
            return subject_folder(cell)
        except ValueError as exc:
            raise DatasetError(sheet, str(exc), row=row) from None

    samples: list[Sample] = []
    folders_in_sheet: set[str] = set()
    seen = FirstRows()
    for r in coded_rows(name, sheet, columns, subject):
        folders_in_sheet.add(r.subject)
        seen.check(r, (r.subject, r.clip), f"clip {r.subject}/{r.clip}")
        clip_dir = frame_root / r.subject / r.clip
        if not clip_dir.is_dir():
            raise DatasetError(clip_dir, f"clip folder of row {r.row} of {sheet.name} not found")
        index = frame_index(clip_dir, frame_re, prefer=prefer)
        if only_preferred and prefer:
            index = {n: p for n, p in index.items() if p.name.startswith(prefer)}
        samples.append(coded_sample(name, r, r.clip, clip_dir, index, template=template))
    if strict_folders:
        check_subject_folders(frame_root, subject_re, folders_in_sheet, sheet)
    return samples

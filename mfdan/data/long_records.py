"""The long-video record type, beside :class:`mfdan.data.records.Sample` (one labelled clip): a whole
recording, its frame files in order, its frame rate, and every coded interval in it, micro and macro.

Datasets: ``casme_sq`` (CAS(ME)², Qu et al., IEEE TAC 2018: 98 long videos at 30 fps) and ``samm_lv`` (the
SAMM long videos, Yap et al., FG 2020: 147 at 200 fps), the names the spotting community uses. Readers:
:mod:`mfdan.data.long_readers.casme_sq`, :mod:`mfdan.data.long_readers.samm_lv`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from mfdan.data.protocols import GROUP_3

LONG_DATASETS = ("casme_sq", "samm_lv")
#: frames per second of the releases
RELEASE_FPS = {"casme_sq": 30.0, "samm_lv": 200.0}
#: the sheets' emotion → the three classes of MEGC's spot-then-recognise task (negative / positive /
#: surprise; others have no class and are left out of its analysis part). CAS(ME)² codes those names itself;
#: SAMM's emotions come from its micro-expression sheet and regroup as the composite's.
THREE_CLASS_LONG: dict[str, dict[str, str | None]] = {
    "casme_sq": {"negative": "negative", "positive": "positive", "surprise": "surprise", "others": None},
    "samm_lv": GROUP_3,
}


@dataclass(frozen=True)
class Interval:
    """A spotted (or true) expression: inclusive frame numbers, 0-based in the recording."""

    onset: int
    apex: int
    offset: int
    kind: str = "micro"            #: micro | macro
    score: float = float("nan")
    label: str | None = None       #: the recognised (or true) class, when known

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LongVideo:
    """One recording: ``intervals`` index ``frames`` (0 = the first file), inclusive, with ``kind`` micro or
    macro and ``label`` the three-class group where the dataset gives an emotion (else None)."""

    dataset: str
    subject: str
    video: str
    frames: tuple[Path, ...]
    fps: float
    intervals: tuple[Interval, ...]
    emotions: tuple[str, ...] = ()  #: the sheet's emotion per interval ('' where none)

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.video}"

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "subject": self.subject, "video": self.video,
                "frames": [str(p) for p in self.frames], "fps": self.fps,
                "intervals": [iv.to_json() for iv in self.intervals], "emotions": list(self.emotions)}

    @classmethod
    def from_json(cls, d: dict) -> "LongVideo":
        return cls(dataset=d["dataset"], subject=d["subject"], video=d["video"],
                   frames=tuple(Path(p) for p in d["frames"]), fps=float(d["fps"]),
                   intervals=tuple(Interval(**iv) for iv in d["intervals"]), emotions=tuple(d["emotions"]))


@dataclass(frozen=True)
class LongDataConfig:
    """Mirrors the ``long_data`` section of long/params.yaml: the long-video datasets to read, and their frame
    rates where they are not the releases' (generated recordings at a compact rate)."""

    roots: dict[str, str] = field(default_factory=lambda: {"casme_sq": "data/raw/casme_sq", "samm_lv": "data/raw/samm_lv"})
    fps: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = sorted((set(self.roots) | set(self.fps)) - set(LONG_DATASETS))
        if bad:
            raise ValueError(f"long_data: unknown dataset(s) {bad}; known: {list(LONG_DATASETS)}")
        if any(v <= 0 for v in self.fps.values()):
            raise ValueError("long_data.fps values must be positive")


def read_long(dataset: str, root: str | Path, *, fps: float | None = None,
              notes: list[str] | None = None) -> list[LongVideo]:
    """The recordings of long-video ``dataset`` under ``root`` (its native layout)."""
    if dataset == "casme_sq":
        from mfdan.data.long_readers import casme_sq as reader
    elif dataset == "samm_lv":
        from mfdan.data.long_readers import samm_lv as reader
    else:
        raise ValueError(f"unknown long-video dataset {dataset!r}; known: {list(LONG_DATASETS)}")
    return reader.read(root, notes=notes, fps=fps)


#: what the releases hold (intervals coded), to compare a copy against: CAS(ME)² 300 macro + 57 micro in 98
#: videos (Qu et al. 2018); SAMM long videos 343 macro + 159 micro in 147 (Yap et al. 2020)
PUBLISHED = {"casme_sq": {"videos": 98, "micro": 57, "macro": 300},
             "samm_lv": {"videos": 147, "micro": 159, "macro": 343}}


def validate_long(dataset: str, root: str | Path, *, fps: float | None = None) -> dict:
    """Read a long-video dataset, decode each recording's first and last frame, and count recordings, frames
    and intervals (micro / macro, micro per class) against the published totals."""
    from mfdan.data.images import read_image

    notes: list[str] = []
    videos = read_long(dataset, root, fps=fps, notes=notes)
    for v in videos:
        read_image(v.frames[0])
        read_image(v.frames[-1])
    micro = [iv for v in videos for iv in v.intervals if iv.kind == "micro"]
    classes: dict[str, int] = {}
    for iv in micro:
        classes[iv.label or "unlabelled"] = classes.get(iv.label or "unlabelled", 0) + 1
    return {"dataset": dataset, "root": str(root), "videos": len(videos), "subjects": len({v.subject for v in videos}),
            "frames": sum(len(v.frames) for v in videos), "micro": len(micro),
            "macro": sum(1 for v in videos for iv in v.intervals if iv.kind == "macro"),
            "micro_classes": dict(sorted(classes.items())), "expected": PUBLISHED[dataset], "notes": notes}


def format_long_report(rep: dict) -> str:
    e = rep["expected"]
    lines = [f"{rep['dataset']} at {rep['root']}: {rep['videos']} recordings of {rep['subjects']} subjects, "
             f"{rep['frames']} frames",
             f"  micro-expressions {rep['micro']} (release: {e['micro']}), macro {rep['macro']} (release: {e['macro']}), "
             f"recordings {rep['videos']} (release: {e['videos']})",
             "  micro by class: " + ", ".join(f"{k} {v}" for k, v in rep["micro_classes"].items())]
    lines += [f"  note: {n}" for n in rep["notes"]]
    return "\n".join(lines)

"""The long-video record type, beside :class:`mfdan.data.records.Sample` (one labelled clip): a whole
recording, its frame files in order, its frame rate, and every coded interval in it, micro and macro
(:class:`Interval`, also what the spotters find). The datasets: :mod:`mfdan.data.long_protocols`; their readers:
:mod:`mfdan.data.long_readers`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


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

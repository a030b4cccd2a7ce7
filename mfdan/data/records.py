"""The one sample record every dataset reader returns."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

#: apex policies (params.yaml ``data.apex``): the sheet's apex, the middle frame, or spotted by optical flow
APEX_POLICIES = ("annotated", "middle", "flow_peak")
#: for ``annotated`` clips without an apex label (SMIC-HS)
APEX_FALLBACKS = ("middle", "flow_peak")


@dataclass(frozen=True)
class Sample:
    """One micro-expression clip.

    ``subject`` and ``sample_id`` use the MEGC2019 spelling (``sub01`` / ``006`` / ``s01``;
    ``s01_ne_01``) so that records from all three datasets can be matched against the composite list;
    ``frames`` keeps the native file paths, ordered in time from onset to offset.
    ``onset``/``apex``/``offset`` are indices into ``frames`` (``apex`` is ``None`` when the dataset
    has no apex annotation, e.g. SMIC-HS); ``frame_numbers`` are the native frame numbers.
    ``emotion`` is the dataset's own label, lower-cased (``disgust``, ``anger``, ``negative``...).
    """

    dataset: str
    subject: str
    sample_id: str
    frames: tuple[Path, ...]
    frame_numbers: tuple[int, ...]
    onset: int
    apex: int | None
    offset: int
    emotion: str
    action_units: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dataset, self.subject, self.sample_id)

    def to_json(self) -> dict:
        d = asdict(self)
        d["frames"] = [str(p) for p in self.frames]
        d["frame_numbers"] = list(self.frame_numbers)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Sample":
        d = dict(d)
        d["frames"] = tuple(Path(p) for p in d["frames"])
        d["frame_numbers"] = tuple(d["frame_numbers"])
        return cls(**d)


def resolve_apex(sample: Sample, policy: str, fallback: str = "middle") -> tuple[int | None, str]:
    """The apex index to use for ``sample`` and its source: ``annotated``, ``middle`` or ``flow_peak``.

    ``annotated`` takes the sheet's apex; clips without one (SMIC-HS) follow ``fallback`` (``middle`` or
    ``flow_peak``). ``middle`` is the middle frame between onset and offset. ``flow_peak`` returns
    ``(None, "flow_peak")``: the index is found later, on aligned frames (:mod:`mfdan.preprocess.apex_spotting`).
    """
    if policy == "annotated":
        if sample.apex is not None:
            return sample.apex, "annotated"
        policy = fallback
    if policy == "middle":
        return (sample.onset + sample.offset) // 2, "middle"
    if policy == "flow_peak":
        return None, "flow_peak"
    raise ValueError(f"unknown apex policy {policy!r}; expected one of {APEX_POLICIES}")

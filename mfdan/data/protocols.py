"""Evaluation protocols: which samples count, under which class, and what a complete dataset holds.

* ``composite``: the MEGC2019 composite database evaluation (CDE), defined by its published list of
  442 samples from 68 subjects (``resources/megc2019_cde.csv``); its labels win where a dataset's own
  sheet maps differently (MEGC2019 re-annotated a few CASME II clips).
* ``casme2``, ``samm``, ``smic``: the sample sets of MFDAN's Table II — each dataset's part of the CDE list,
  membership *and* labels from the list (CASME II 145 = 88/32/25 negative/positive/surprise, SAMM 133 =
  92/26/15, SMIC-HS 164 = 70/51/43).
* ``casme2_all``, ``samm_all``: every row of whatever coding sheet the folder holds (other releases, a lab's
  own recordings in the layout), regrouped into 3 classes: negative = repression, anger, contempt, disgust,
  fear, sadness; positive = happiness; surprise = surprise; ``others``/``other`` are dropped. Nothing is
  filtered by the reference lists.
* ``casme2_5``, ``samm_5``: the common 5-class protocols (CASME II: happiness, disgust, repression,
  surprise, others; SAMM: anger, contempt, happiness, surprise, other).

Expectations (what a complete copy of the licensed dataset yields) come from the shipped public
coding sheets (CASME II, SAMM) and from the CDE list (SMIC-HS, composite).
"""
from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from mfdan.data.records import Sample

#: the datasets (and native layouts) the project reads, in the order composite samples are listed
DATASETS = ("casme2", "samm", "smic")
CLASSES_3 = ("negative", "positive", "surprise")
GROUP_3 = {
    "repression": "negative", "anger": "negative", "contempt": "negative", "disgust": "negative",
    "fear": "negative", "sadness": "negative", "negative": "negative",
    "happiness": "positive", "positive": "positive",
    "surprise": "surprise",
    "others": None, "other": None,
}
KNOWN_LABELS = frozenset(GROUP_3)
CDE_COUNTS = {"samples": 442, "subjects": 68, "negative": 250, "positive": 109, "surprise": 83,
              "casme2": 145, "samm": 133, "smic": 164}
Key = tuple[str, str, str]  # (dataset, subject, sample_id)


@dataclass(frozen=True)
class Protocol:
    name: str
    datasets: tuple[str, ...]
    classes: tuple[str, ...]
    #: fine label -> class for sheet-defined protocols; None for the CDE-list-defined ones
    mapping: dict[str, str | None] | None

    def label(self, sample: Sample) -> str | None:
        """The class of ``sample`` under this protocol, or ``None`` if the protocol drops it."""
        if sample.dataset not in self.datasets:
            return None
        if self.mapping is None:
            return cde_list().get(sample.key)
        return self.mapping.get(sample.emotion)

    def select(self, samples: Iterable[Sample]) -> list[tuple[Sample, str]]:
        """The samples this protocol keeps, with their class, in input order."""
        out = []
        for s in samples:
            lab = self.label(s)
            if lab is not None:
                out.append((s, lab))
        return out

    def expected(self) -> dict[Key, str]:
        """Every sample a complete copy of the dataset(s) contributes, with its class."""
        if self.mapping is None:
            return {k: v for k, v in cde_list().items() if k[0] in self.datasets}
        out: dict[Key, str] = {}
        for key, emotion in reference_labels(self.datasets).items():
            lab = self.mapping.get(emotion)
            if lab is not None:
                out[key] = lab
        return out


def _five(names: tuple[str, ...], aliases: dict[str, str] | None = None) -> dict[str, str | None]:
    m: dict[str, str | None] = {k: None for k in KNOWN_LABELS}
    m.update({n: n for n in names})
    m.update(aliases or {})
    return m


PROTOCOLS = {
    "composite": Protocol("composite", DATASETS, CLASSES_3, None),
    "casme2": Protocol("casme2", ("casme2",), CLASSES_3, None),
    "samm": Protocol("samm", ("samm",), CLASSES_3, None),
    "smic": Protocol("smic", ("smic",), CLASSES_3, None),
    "casme2_all": Protocol("casme2_all", ("casme2",), CLASSES_3, GROUP_3),
    "samm_all": Protocol("samm_all", ("samm",), CLASSES_3, GROUP_3),
    "casme2_5": Protocol("casme2_5", ("casme2",), ("happiness", "disgust", "repression", "surprise", "others"),
                         _five(("happiness", "disgust", "repression", "surprise", "others"))),
    "samm_5": Protocol("samm_5", ("samm",), ("anger", "contempt", "happiness", "surprise", "other"),
                       _five(("anger", "contempt", "happiness", "surprise", "other"))),
}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; expected one of {sorted(PROTOCOLS)}") from None


def reference_counts() -> dict[str, dict[str, int]]:
    """Protocol -> class -> number of samples a complete copy of the dataset(s) holds (classes in protocol
    order): the Table II counts for ``casme2``, ``samm``, ``smic`` and the composite."""
    out = {}
    for name, proto in PROTOCOLS.items():
        counts = Counter(proto.expected().values())
        out[name] = {c: counts.get(c, 0) for c in proto.classes}
    return out


def _resource_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("mfdan.data.resources").joinpath(name).read_text(encoding="utf-8")
    return [r for r in csv.DictReader(text.splitlines()) if any((v or "").strip() for v in r.values())]


@cache
def cde_list() -> dict[Key, str]:
    """The MEGC2019 CDE list, checked against its published totals on first use."""
    rows = _resource_rows("megc2019_cde.csv")
    out = {(r["dataset"], r["subject"], r["sample"]): r["emotion"] for r in rows}
    counts = Counter(out.values())
    per_db = Counter(k[0] for k in out)
    found = {"samples": len(out), "subjects": len({(k[0], k[1]) for k in out}), **counts, **per_db}
    if found != CDE_COUNTS:
        raise RuntimeError(f"megc2019_cde.csv does not hold the published composite: {found} != {CDE_COUNTS}")
    return out


@cache
def reference_rows(dataset: str) -> tuple[dict[str, str], ...]:
    """The public coding sheet of ``dataset`` (``casme2`` or ``samm``) as shipped, one dict per row, with
    keys ``subject, sample, onset, apex, offset, aus, emotion`` (subject in MEGC2019 spelling)."""
    if dataset == "smic":
        return tuple({"subject": k[1], "sample": k[2], "onset": "", "apex": "", "offset": "", "aus": "",
                      "emotion": lab} for k, lab in cde_list().items() if k[0] == "smic")
    rows = _resource_rows(f"{dataset}_coding.csv")
    fmt = (lambda s: f"sub{int(s):02d}") if dataset == "casme2" else (lambda s: f"{int(s):03d}")
    return tuple({"subject": fmt(r["Subject"]), "sample": r["Filename"], "onset": r["Onset"], "apex": r["Apex"],
                  "offset": r["Offset"], "aus": r["Action Units"], "emotion": r["Label"].strip().lower()}
                 for r in rows)


def reference_labels(datasets: Iterable[str]) -> dict[Key, str]:
    """Fine labels of every sample in the reference sheets of ``datasets``."""
    return {(d, r["subject"], r["sample"]): r["emotion"] for d in datasets for r in reference_rows(d)}


def class_counts(labelled: Iterable[tuple[Sample, str]], classes: tuple[str, ...]) -> dict:
    """``{"total": {class: n}, "per_subject": {subject: {class: n}}}``, classes in protocol order."""
    total = Counter()
    per_subject: dict[str, Counter] = defaultdict(Counter)
    for s, lab in labelled:
        total[lab] += 1
        per_subject[f"{s.dataset}/{s.subject}"][lab] += 1
    return {"total": {c: total[c] for c in classes},
            "per_subject": {k: {c: v[c] for c in classes} for k, v in sorted(per_subject.items())}}

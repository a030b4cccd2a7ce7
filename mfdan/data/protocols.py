"""Evaluation protocols: which samples count, under which class, and what a complete dataset holds.

* ``composite``: the MEGC2019 composite database evaluation (CDE), defined by its published list of
  442 samples from 68 subjects (``resources/megc2019_cde.csv``); its labels win where a dataset's own
  sheet maps differently (MEGC2019 re-annotated a few CASME II clips).
* ``casme2``, ``samm``, ``smic``: the sample sets of MFDAN's Table II — each dataset's part of the CDE list,
  membership *and* labels from the list (CASME II 145 = 88/32/25 negative/positive/surprise, SAMM 133 =
  92/26/15, SMIC-HS 164 = 70/51/43).
* ``casme2_all``, ``samm_all``, ``casme3_3``, ``mmew_all``, ``casme_all``: every row of whatever coding sheet
  the folder holds, regrouped into 3 classes by the dataset's row of :data:`THREE_CLASS`; nothing is filtered
  by the reference lists.
* ``composite_all``: every dataset the user has (``data.roots``), each regrouped by :data:`THREE_CLASS`
  (CASME II, SAMM and SMIC-HS as in their ``_all`` protocols, not by the CDE list); subjects stay
  dataset-prefixed in fold names (``casme3_spNO.1``), so LOSO and HDE run on it unchanged.
* ``casme2_5``, ``samm_5``: the common 5-class protocols (CASME II: happiness, disgust, repression,
  surprise, others; SAMM: anger, contempt, happiness, surprise, other).
* ``casme3_4``, ``casme3_7``: CAS(ME)³ Part A's 4- and 7-class protocols ("4Emo", "7Emo"; Li et al., TPAMI
  2022): 7 = its emotion column as coded; 4 = positive (happy), negative (disgust, fear, anger, sad),
  surprise, others; ``casme3_3`` drops others (the grouping as loaders apply it; docs/datasets.md).
* ``mmew_7``: MMEW's seven categories as its sheet codes them (Ben et al., TPAMI 2021: happiness, anger,
  surprise, disgust, fear, sadness, others). ``casme_8``: CASME's eight (Yan et al., FG 2013), the 2019 sheet's
  happiness standing for the paper's amusement and its ``comtempt`` for contempt.

Expectations (what a complete copy of the licensed dataset yields) come from the shipped public
coding sheets (CASME II, SAMM, CAS(ME)³ Part A), from the CDE list (SMIC-HS, composite) and, where no
per-sample list is public (MMEW, CASME), from the per-emotion totals their papers publish
(:data:`PUBLISHED_TOTALS`).
"""
from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from mfdan.data.records import Sample

#: the datasets (and native layouts) the project reads, in the order samples are listed
DATASETS = ("casme2", "samm", "smic", "casme3", "mmew", "casme")
#: the MEGC2019 composite's datasets
CDE_DATASETS = ("casme2", "samm", "smic")
CLASSES_3 = ("negative", "positive", "surprise")
#: MEGC2019's regrouping of CASME II and SAMM labels (See et al., "MEGC 2019 – the second facial micro-expressions
#: grand challenge", FG 2019, Sec. 3): used for both sheets (and SMIC-HS's own three folders), so a lab's own
#: recordings in those layouts may use any of these labels
GROUP_3 = {
    "repression": "negative", "anger": "negative", "contempt": "negative", "disgust": "negative",
    "fear": "negative", "sadness": "negative", "negative": "negative",
    "happiness": "positive", "positive": "positive",
    "surprise": "surprise",
    "others": None, "other": None,
}
#: Dataset label -> three-class group (``None``: dropped), one row per dataset, written once; every 3-class
#: protocol (``*_all``, ``casme3_3``, ``composite_all``) and the readers' label check use it.
THREE_CLASS: dict[str, dict[str, str | None]] = {
    "casme2": GROUP_3,
    "samm": GROUP_3,
    "smic": GROUP_3,
    # CAS(ME)³ Part A, its emotion column (Li et al., TPAMI 2022; 3 classes): positive = happy;
    # negative = disgust, fear, anger, sad; surprise; others are not in the 3-class protocol
    "casme3": {"happy": "positive", "disgust": "negative", "fear": "negative", "anger": "negative",
               "sad": "negative", "surprise": "surprise", "others": None},
    # MMEW's seven categories (Ben et al., TPAMI 2021), grouped as MEGC2019 groups the same words
    "mmew": {"happiness": "positive", "anger": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "surprise": "surprise", "others": None},
    # CASME's eight (Yan et al., FG 2013; the release spells contempt ``comtempt``, kept as an alias); grouped as
    # MEGC2019 groups CASME II, whose "others" folded in CASME's tense (Yan et al., PLoS ONE 2014)
    "casme": {"happiness": "positive", "amusement": "positive", "disgust": "negative", "repression": "negative",
              "sadness": "negative", "fear": "negative", "contempt": "negative", "comtempt": "negative",
              "surprise": "surprise", "tense": None},
}
#: the labels each dataset's sheet (or folders) may hold
KNOWN_LABELS: dict[str, frozenset[str]] = {d: frozenset(m) for d, m in THREE_CLASS.items()}
CDE_COUNTS = {"samples": 442, "subjects": 68, "negative": 250, "positive": 109, "surprise": 83,
              "casme2": 145, "samm": 133, "smic": 164}
#: micro-expressions in the releases without a public per-sample list (totals per class are not public either;
#: sources in docs/datasets.md): MMEW 300 of 36 subjects (Ben et al., TPAMI 2021); CASME 195 (Yan et al., FG 2013)
PUBLISHED_TOTALS: dict[str, int] = {"mmew": 300, "casme": 195}
Key = tuple[str, str, str]  # (dataset, subject, sample_id)
Mapping = dict[str, str | None]


@dataclass(frozen=True)
class Protocol:
    name: str
    datasets: tuple[str, ...]
    classes: tuple[str, ...]
    #: per dataset, fine label -> class, for sheet-defined protocols; None for the CDE-list-defined ones
    mapping: dict[str, Mapping] | None
    #: ``composite_all``: the datasets the user has (data.roots) are used, the others are absent
    any_of: bool = False

    def label(self, sample: Sample) -> str | None:
        """The class of ``sample`` under this protocol, or ``None`` if the protocol drops it."""
        if sample.dataset not in self.datasets:
            return None
        if self.mapping is None:
            return cde_list().get(sample.key)
        return self.mapping[sample.dataset].get(sample.emotion)

    def select(self, samples: Iterable[Sample]) -> list[tuple[Sample, str]]:
        """The samples this protocol keeps, with their class, in input order."""
        out = []
        for s in samples:
            lab = self.label(s)
            if lab is not None:
                out.append((s, lab))
        return out

    def expected(self, datasets: Iterable[str] | None = None) -> dict[Key, str]:
        """Every sample a complete copy of the dataset(s) contributes, with its class, for the datasets with a
        public per-sample list (of ``datasets``, default all of the protocol's)."""
        use = [d for d in (self.datasets if datasets is None else datasets) if d in self.datasets]
        if self.mapping is None:
            return {k: v for k, v in cde_list().items() if k[0] in use}
        out: dict[Key, str] = {}
        for key, emotion in reference_labels([d for d in use if has_sample_list(d)]).items():
            lab = self.mapping[key[0]].get(emotion)
            if lab is not None:
                out[key] = lab
        return out

    def expected_counts(self, datasets: Iterable[str] | None = None) -> dict[str, int | None]:
        """Class -> samples of a complete copy (of ``datasets``, default all of the protocol's), from the
        per-sample lists; ``None`` for every class when one of the datasets has no public list (MMEW, CASME)."""
        use = [d for d in (self.datasets if datasets is None else datasets) if d in self.datasets]
        if any(not has_sample_list(d) for d in use):
            return {c: None for c in self.classes}
        counts = Counter(self.expected(use).values())
        return {c: counts.get(c, 0) for c in self.classes}


def _only(names: tuple[str, ...], aliases: dict[str, str] | None = None) -> Mapping:
    """A mapping keeping ``names`` as their own classes (``aliases``: other spellings) and dropping the rest."""
    m: Mapping = {k: None for k in set().union(*KNOWN_LABELS.values())}
    m.update({n: n for n in names})
    m.update(aliases or {})
    return m


CASME3_4 = {"happy": "positive", "disgust": "negative", "fear": "negative", "anger": "negative", "sad": "negative",
            "surprise": "surprise", "others": "others"}
PROTOCOLS = {
    "composite": Protocol("composite", CDE_DATASETS, CLASSES_3, None),
    "casme2": Protocol("casme2", ("casme2",), CLASSES_3, None),
    "samm": Protocol("samm", ("samm",), CLASSES_3, None),
    "smic": Protocol("smic", ("smic",), CLASSES_3, None),
    "casme2_all": Protocol("casme2_all", ("casme2",), CLASSES_3, {"casme2": THREE_CLASS["casme2"]}),
    "samm_all": Protocol("samm_all", ("samm",), CLASSES_3, {"samm": THREE_CLASS["samm"]}),
    "casme2_5": Protocol("casme2_5", ("casme2",), ("happiness", "disgust", "repression", "surprise", "others"),
                         {"casme2": _only(("happiness", "disgust", "repression", "surprise", "others"))}),
    "samm_5": Protocol("samm_5", ("samm",), ("anger", "contempt", "happiness", "surprise", "other"),
                       {"samm": _only(("anger", "contempt", "happiness", "surprise", "other"))}),
    "casme3_3": Protocol("casme3_3", ("casme3",), CLASSES_3, {"casme3": THREE_CLASS["casme3"]}),
    "casme3_4": Protocol("casme3_4", ("casme3",), ("negative", "positive", "surprise", "others"),
                         {"casme3": CASME3_4}),
    "casme3_7": Protocol("casme3_7", ("casme3",),
                         ("happy", "disgust", "fear", "anger", "sad", "surprise", "others"),
                         {"casme3": _only(("happy", "disgust", "fear", "anger", "sad", "surprise", "others"))}),
    "mmew_all": Protocol("mmew_all", ("mmew",), CLASSES_3, {"mmew": THREE_CLASS["mmew"]}),
    "mmew_7": Protocol("mmew_7", ("mmew",),
                       ("happiness", "anger", "surprise", "disgust", "fear", "sadness", "others"),
                       {"mmew": _only(("happiness", "anger", "surprise", "disgust", "fear", "sadness", "others"))}),
    "casme_all": Protocol("casme_all", ("casme",), CLASSES_3, {"casme": THREE_CLASS["casme"]}),
    "casme_8": Protocol("casme_8", ("casme",),
                        ("happiness", "sadness", "disgust", "surprise", "contempt", "fear", "repression", "tense"),
                        {"casme": _only(("happiness", "sadness", "disgust", "surprise", "contempt", "fear", "repression",
                                         "tense"), {"amusement": "happiness", "comtempt": "contempt"})}),
    "composite_all": Protocol("composite_all", DATASETS, CLASSES_3, THREE_CLASS, any_of=True),
}


#: ``mfdan validate --dataset NAME`` for a dataset without a protocol of that name: its three-class protocol
DATASET_PROTOCOL = {"casme3": "casme3_3", "mmew": "mmew_all", "casme": "casme_all"}


def get_protocol(name: str) -> Protocol:
    """The protocol ``name``; a dataset name without a protocol of its own means its 3-class protocol."""
    try:
        return PROTOCOLS[DATASET_PROTOCOL.get(name, name)]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; expected one of {sorted(PROTOCOLS)}") from None


def reference_counts() -> dict[str, dict[str, int]]:
    """Protocol -> class -> number of samples a complete copy of the dataset(s) holds (classes in protocol
    order): the Table II counts for ``casme2``, ``samm``, ``smic`` and the composite."""
    return {name: proto.expected_counts() for name, proto in PROTOCOLS.items()}


#: datasets whose public per-sample coding list ships in ``resources/`` (SMIC-HS's is the CDE list's part)
SAMPLE_LISTS = ("casme2", "samm", "smic", "casme3")


def has_sample_list(dataset: str) -> bool:
    return dataset in SAMPLE_LISTS


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
    """The public coding sheet of ``dataset`` (``casme2``, ``samm``, ``casme3``; ``smic``: its CDE rows) as
    shipped, one dict per row, with keys ``subject, sample, onset, apex, offset, aus, emotion`` (subject in
    MEGC2019 spelling; CAS(ME)³ adds ``video``)."""
    if dataset == "smic":
        return tuple({"subject": k[1], "sample": k[2], "onset": "", "apex": "", "offset": "", "aus": "",
                      "emotion": lab} for k, lab in cde_list().items() if k[0] == "smic")
    rows = _resource_rows(f"{dataset}_coding.csv")
    if dataset == "casme3":  # sample ids as the reader forms them (mfdan.data.readers.casme3)
        return tuple({"subject": r["Subject"], "sample": f"{r['Subject']}_{r['Filename']}_{r['Onset']}",
                      "video": r["Filename"], "onset": r["Onset"], "apex": r["Apex"], "offset": r["Offset"],
                      "aus": r["AU"], "emotion": r["Emotion"].strip().lower()} for r in rows)
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

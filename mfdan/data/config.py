"""The ``data`` section of params.yaml: which protocol, where each dataset lives, and the apex policy."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from mfdan.data.protocols import DATASETS, PROTOCOLS
from mfdan.data.records import APEX_FALLBACKS, APEX_POLICIES

#: flows that ``flow_peak`` apex spotting can use (mfdan.preprocess.apex_spotting)
APEX_FLOWS = ("farneback", "tvl1")
#: the keys of ``data`` that decide a clip's apex: what a model card keeps for ``mfdan predict``
APEX_KEYS = ("apex", "apex_fallback", "apex_flow")
#: keys of ``data`` that were renamed: the old name is an error naming the new one (a model card's is read so)
RENAMED_DATA_KEYS = {"spotting_flow": "apex_flow"}
#: what a fold holds out (mfdan.data.folds): one subject (LOSO) or one dataset (HDE)
EVALUATIONS = ("loso", "hde")


@dataclass(frozen=True)
class DataConfig:
    """Mirrors ``data``."""

    protocol: str = "composite"
    #: what a fold holds out: ``loso`` (one subject; folds ``<dataset>_<subject>``) or ``hde`` (one whole
    #: dataset, MEGC2018's holdout-database evaluation; folds ``<dataset>``) (mfdan.data.folds)
    evaluation: str = "loso"
    #: native dataset folders, one ``read@<dataset>`` stage each: only the datasets you have (any of DATASETS);
    #: the defaults are the generated demo data (``synth`` stage)
    roots: dict[str, str] = field(default_factory=lambda: {"casme2": "data/raw/casme2", "samm": "data/raw/samm",
                                                          "smic": "data/raw/smic"})
    #: ``annotated`` (the sheet's apex), ``middle`` or ``flow_peak`` (spotted), for every clip
    apex: str = "annotated"
    #: for ``annotated`` clips that have no apex label (SMIC-HS): ``middle`` or ``flow_peak``
    apex_fallback: str = "middle"
    #: flow in which ``flow_peak`` finds the apex: ``farneback`` (fast) or ``tvl1`` (the ``flow`` section's solver)
    apex_flow: str = "farneback"

    RENAMED: ClassVar[dict[str, str]] = RENAMED_DATA_KEYS

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"data.protocol must be one of {sorted(PROTOCOLS)}, not {self.protocol!r}")
        unknown = sorted(set(self.roots) - set(DATASETS))
        if unknown:
            raise ValueError(f"data.roots names unknown datasets {unknown}; known: {list(DATASETS)}")
        if self.evaluation not in EVALUATIONS:
            raise ValueError(f"data.evaluation must be one of {EVALUATIONS}, not {self.evaluation!r}")
        if self.apex not in APEX_POLICIES:
            raise ValueError(f"data.apex must be one of {APEX_POLICIES}, not {self.apex!r}")
        if self.apex_fallback not in APEX_FALLBACKS:
            raise ValueError(f"data.apex_fallback must be one of {APEX_FALLBACKS}, not {self.apex_fallback!r}")
        if self.apex_flow not in APEX_FLOWS:
            raise ValueError(f"data.apex_flow must be one of {APEX_FLOWS}, not {self.apex_flow!r}")

"""The methods MFDAN is compared with (MFDAN Table IV and HTNet), one module each, named for it and citing its
paper: ``model.arch: <name>`` trains one through the same fold recipe (mfdan.model.registry lists them).

:class:`BaselinesConfig` mirrors params.yaml's ``baselines`` section: one nested mapping per architecture
(``baselines.ststnet.input_size``), each default its paper's."""
from __future__ import annotations

from dataclasses import dataclass, field

from mfdan.baselines.bi_woof import BiWOOFConfig
from mfdan.baselines.dual_inception import DualInceptionConfig
from mfdan.baselines.htnet import HTNetConfig
from mfdan.baselines.off_apexnet import OffApexNetConfig
from mfdan.baselines.sssnet import SSSNetConfig
from mfdan.baselines.ststnet import STSTNetConfig


@dataclass(frozen=True)
class BaselinesConfig:
    """Mirrors ``baselines``: each architecture's own settings (used when ``model.arch`` names it)."""

    off_apexnet: OffApexNetConfig = field(default_factory=OffApexNetConfig)
    ststnet: STSTNetConfig = field(default_factory=STSTNetConfig)
    dual_inception: DualInceptionConfig = field(default_factory=DualInceptionConfig)
    sssnet: SSSNetConfig = field(default_factory=SSSNetConfig)
    htnet: HTNetConfig = field(default_factory=HTNetConfig)
    bi_woof: BiWOOFConfig = field(default_factory=BiWOOFConfig)

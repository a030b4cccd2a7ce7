"""The methods MFDAN is compared with (MFDAN Table IV, HTNet and Bi-WOOF), one module each, named for it and
citing its paper; each registers its network where it defines it (:func:`mfdan.core.architectures.register`),
so ``model.arch: <name>`` trains it through the same fold recipe. Importing this package imports every module
in it: a new baseline is one new file (and its recipe, ``profiles/baseline-<name>.yaml``).

:class:`BaselinesConfig` mirrors params.yaml's ``baselines`` section: one nested mapping per registered
baseline (``baselines.ststnet.input_size``), each default its paper's."""
from __future__ import annotations

import dataclasses

from mfdan.core.architectures import REGISTERED, import_submodules

import_submodules(__name__)  # every baseline module: each registers its architecture

#: the registered baselines' names, in name order
NAMES: tuple[str, ...] = tuple(sorted(a.name for a in REGISTERED.values() if a.module.startswith(__name__ + ".")))

BaselinesConfig = dataclasses.make_dataclass(
    "BaselinesConfig",
    [(name, REGISTERED[name].config, dataclasses.field(default_factory=REGISTERED[name].config))
     for name in NAMES],
    frozen=True, namespace={"__module__": __name__,
                            "__doc__": "Mirrors ``baselines``: each architecture's own settings (used when "
                                       "``model.arch`` names it)."})

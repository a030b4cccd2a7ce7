"""The architectures ``model.arch`` can name, registered where each is defined (timm's habit): a network class
decorated with :func:`register` adds its :class:`Architecture` entry to :data:`REGISTERED`.

This module imports no network (nor PyTorch); :mod:`mfdan.model.registry` imports MFDAN and every module of
:mod:`mfdan.baselines`, which fills the table, and orders it (``mfdan.model.registry.ARCHITECTURES``: MFDAN
first, then the rest by name) for lookups. A new baseline is one new file in
``mfdan/baselines/`` (its config dataclass and its decorated network) plus its recipe
(``profiles/baseline-<name>.yaml``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

KINDS = ("network", "handcrafted")
N = TypeVar("N", bound=type)


@dataclass(frozen=True)
class Architecture:
    name: str          #: ``model.arch`` (and ``baselines.<name>``, for a baseline)
    title: str
    citation: str
    config: type       #: its config dataclass; the defaults are its paper's
    network: type      #: its model (an nn.Module, or the hand-crafted model)
    kind: str          #: network (trained by mfdan.train.loop) | handcrafted (its own fit)
    reads: str         #: the inputs, in words
    deviations: str    #: where ours differs from the paper, or what the paper leaves open

    @property
    def module(self) -> str:
        return self.network.__module__


#: name -> entry, in the order the modules happened to be imported
REGISTERED: dict[str, Architecture] = {}


def register(name: str, *, title: str, citation: str, config: type, reads: str, deviations: str,
             kind: str = "network") -> Callable[[N], N]:
    """Class decorator: ``@register("ststnet", title=..., config=STSTNetConfig, ...)`` on the network."""
    if kind not in KINDS:
        raise ValueError(f"architecture {name!r}: kind {kind!r} is not one of {KINDS}")

    def add(network: N) -> N:
        entry = Architecture(name, title, citation, config, network, kind, reads, deviations)
        old = REGISTERED.get(name)
        if old is not None and (old.network.__module__, old.network.__qualname__) != (
                network.__module__, network.__qualname__):
            raise ValueError(f"architecture {name!r} registered twice: {old.module} and {network.__module__}")
        REGISTERED[name] = entry
        return network

    return add


def import_submodules(package: str) -> list[str]:
    """Import every module of ``package`` (not its subpackages), in name order: how a package whose modules
    register themselves is filled. ``tests/dvc_deps.py`` counts every module of the package as code of a stage
    that imports it."""
    import importlib
    import pkgutil

    pkg = importlib.import_module(package)
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.ispkg)
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names

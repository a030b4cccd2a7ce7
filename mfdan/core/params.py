"""params.yaml: one registry of sections, each mirrored by one dataclass, converted at one edge.

:data:`SECTIONS` is the registry: section name -> the dataclass that mirrors it, written as
``"module:Class"`` so that this core module imports no phase (a stage imports only the phases it runs, and its
DVC dependencies stay that narrow). Every stage, the CLI and the tests build sections through
:meth:`Params.section`, which rejects unknown or mistyped keys with an error naming the file and the key, and
refuses a class that is not the registered one. Each default is written once, in its dataclass; ``params.yaml``
is the CPU demo profile and states the values the demo uses.

Top-level scalars: ``dropkey`` (the DropKey rate of every flow-driven attention layer, fed into the ``model``
section) and ``folds`` (the LOSO fold list, one ``train@<fold>`` stage each).
"""
from __future__ import annotations

import dataclasses
import importlib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

#: section -> "module:Class" of the dataclass mirroring it (resolved lazily; see the module docstring)
SECTIONS: dict[str, str] = {
    "data": "mfdan.data.config:DataConfig",
    "synth": "mfdan.synth.generator:SynthConfig",
    "align": "mfdan.preprocess.alignment:AlignConfig",
    "flow": "mfdan.preprocess.optical_flow:FlowConfig",
    "magnet": "mfdan.magnify.magnet_training:MagnetConfig",
    "magnify": "mfdan.magnify.magnification:MagnifyConfig",
    "model": "mfdan.model.network:MFDANConfig",
    "train": "mfdan.train.loop:TrainConfig",
}
#: top-level keys that are not sections
SCALARS: tuple[str, ...] = ("dropkey", "folds")


def section_class(name: str) -> type:
    """The dataclass registered for section ``name`` (imported on first use)."""
    try:
        module, _, qualname = SECTIONS[name].partition(":")
    except KeyError:
        raise ValueError(f"unknown params section {name!r}; known: {sorted(SECTIONS)}") from None
    return getattr(importlib.import_module(module), qualname)


def _registered_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a params file, or one clear error naming it."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: params file not found") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of sections at the top level")
    return data


def from_dict(cls: type[T], values: dict[str, Any] | None, *, where: str) -> T:
    """``cls(**values)`` with unknown keys and wrong types reported as ``where.key``."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    for name, value in list(values.items()):
        hint = hints[name]
        origin = typing.get_origin(hint)
        if origin is tuple and isinstance(value, list):
            values[name] = tuple(value)
        elif hint is float and isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
        elif hint in (int, float, str, bool) and not isinstance(value, hint):
            raise ValueError(f"{where}.{name}: expected {hint.__name__}, got {value!r}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Params:
    """A loaded params file: ``Params.load("params.yaml").section("flow", FlowConfig)``."""

    values: dict[str, Any]
    source: str = "params.yaml"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.values) - set(SECTIONS) - set(SCALARS))
        if unknown:
            raise ValueError(f"{self.source}: unknown top-level key(s) {unknown}; "
                             f"known: {sorted(SECTIONS) + list(SCALARS)}")

    @classmethod
    def load(cls, path: str | Path = "params.yaml") -> "Params":
        return cls(load_yaml(path), source=str(path))

    def section(self, name: str, cls: type[T] | None = None, **extra: Any) -> T:
        """Section ``name`` as its registered dataclass; ``cls`` (when given) must be that class, so the
        caller's import and the registry cannot drift apart. ``extra`` sets fields that come from elsewhere
        (``model.dropkey`` from the top-level ``dropkey``, say)."""
        registered = SECTIONS.get(name)
        if registered is None:
            raise ValueError(f"unknown params section {name!r}; known: {sorted(SECTIONS)}")
        if cls is None:
            cls = section_class(name)
        elif _registered_name(cls) != registered:
            raise TypeError(f"section {name!r} is mirrored by {registered}, not {_registered_name(cls)}")
        raw = self.values.get(name)
        if raw is not None and not isinstance(raw, dict):
            raise ValueError(f"{self.source}: {name}: expected a mapping, got {raw!r}")
        return from_dict(cls, {**(raw or {}), **extra}, where=f"{self.source}: {name}")

    @property
    def folds(self) -> list[str]:
        """The LOSO fold list (``<dataset>_<subject>``)."""
        folds = self.values.get("folds") or []
        if not isinstance(folds, list) or not all(isinstance(f, str) for f in folds):
            raise ValueError(f"{self.source}: folds: expected a list of <dataset>_<subject> names")
        return list(folds)

    @property
    def dropkey(self) -> float:
        """The top-level DropKey rate (Eq. 12) that every flow-driven attention layer uses."""
        value = self.values.get("dropkey", 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.source}: dropkey: expected a number, got {value!r}")
        return float(value)

    def resolved(self) -> dict[str, Any]:
        """Every registered section with its defaults filled in, plus the scalars: what the stages see."""
        out: dict[str, Any] = {k: self.values[k] for k in SCALARS if k in self.values}
        for name in SECTIONS:
            extra = {"dropkey": self.dropkey} if name == "model" and "dropkey" in self.values else {}
            out[name] = dataclasses.asdict(self.section(name, **extra))
        return out

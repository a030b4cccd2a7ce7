"""params.yaml sections as dataclasses, converted at one edge.

Each section of ``params.yaml`` mirrors one dataclass (``synth`` -> :class:`mfdan.synth.SynthConfig`,
``data`` -> :class:`DataConfig`, ...). :func:`section` builds the dataclass and rejects unknown or
mistyped keys with an error that names the file and the key.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


@dataclass(frozen=True)
class DataConfig:
    """Mirrors ``data``: which protocol, where each dataset lives, and the apex policy."""

    protocol: str = "composite"
    #: native dataset folders; the defaults are the generated demo data (``synth`` stage)
    roots: dict[str, str] = field(default_factory=lambda: {"casme2": "data/raw/casme2", "samm": "data/raw/samm",
                                                          "smic": "data/raw/smic"})
    #: ``annotated`` (the sheet's apex), ``middle`` or ``flow_peak`` (spotted), for every clip
    apex: str = "annotated"
    #: for ``annotated`` clips that have no apex label (SMIC-HS): ``middle`` or ``flow_peak``
    apex_fallback: str = "middle"
    #: flow used to spot the peak: ``farneback`` (fast) or ``tvl1`` (the ``flow`` section's solver)
    spotting_flow: str = "farneback"

    def __post_init__(self) -> None:
        from mfdan.protocols import get_protocol

        get_protocol(self.protocol)
        if self.apex not in ("annotated", "middle", "flow_peak"):
            raise ValueError(f"data.apex must be annotated, middle or flow_peak, not {self.apex!r}")
        if self.apex_fallback not in ("middle", "flow_peak"):
            raise ValueError(f"data.apex_fallback must be middle or flow_peak, not {self.apex_fallback!r}")
        if self.spotting_flow not in ("farneback", "tvl1"):
            raise ValueError(f"data.spotting_flow must be farneback or tvl1, not {self.spotting_flow!r}")


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
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


def section(params: dict[str, Any], name: str, cls: type[T], *, source: str = "params.yaml") -> T:
    """The ``name`` section of ``params`` as a ``cls`` instance."""
    return from_dict(cls, params.get(name), where=f"{source}: {name}")

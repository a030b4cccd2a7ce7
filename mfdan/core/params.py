"""params.yaml: one registry of sections, each mirrored by one dataclass, converted at one edge.

:data:`SECTIONS` is the registry: section name -> the dataclass that mirrors it, written as
``"module:Class"`` so that this core module imports no phase (a stage imports only the phases it runs, and its
DVC dependencies stay that narrow). Every stage, the CLI and the tests build sections through
:meth:`Params.section`, which rejects unknown or mistyped keys with an error naming the file and the key, and
refuses a class that is not the registered one. Each default is written once, in its dataclass; ``params.yaml``
is the CPU demo profile and states the values the demo uses.

Top-level scalars: ``dropkey`` (the DropKey rate of every flow-driven attention layer, fed into the ``model``
section) and ``folds`` (the fold list, one ``train@<fold>`` stage each). One key is not a dataclass field:
``model.arch`` picks the architecture (:attr:`Params.arch`); the rest of ``model`` is MFDAN's, and each baseline's
settings are its own dataclass nested in the ``baselines`` section.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml

T = TypeVar("T")

#: section -> "module:Class" of the dataclass mirroring it (resolved lazily; see the module docstring)
SECTIONS: dict[str, str] = {
    "data": "mfdan.data.config:DataConfig",
    "synth": "mfdan.synth.config:SynthConfig",
    "align": "mfdan.preprocess.alignment:AlignConfig",
    "flow": "mfdan.preprocess.optical_flow:FlowConfig",
    "magnet": "mfdan.magnify.magnet_training:MagnetConfig",
    "magnify": "mfdan.magnify.magnification:MagnifyConfig",
    "model": "mfdan.model.network:MFDANConfig",
    "train": "mfdan.train.loop:TrainConfig",
    "baselines": "mfdan.baselines:BaselinesConfig",
    # long recordings (long/params.yaml, long/dvc.yaml)
    "long_synth": "mfdan.synth.long_plan:LongSynthConfig",
    "long_data": "mfdan.data.long_config:LongDataConfig",
    "spot": "mfdan.spotting.config:SpotConfig",
    "softnet": "mfdan.spotting.config:SoftNetConfig",
}
#: ``model.arch``: which architecture trains (mfdan.model.registry); the rest of ``model`` is MFDAN's own
ARCH_KEY = "arch"
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


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (YAML would keep the last, silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice, lines {seen[key] + 1} and "
                                f"{key_node.start_mark.line + 1}", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a params file, or one clear error naming it (a key written twice is one)."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: params file not found") from None
    except yaml.YAMLError as exc:  # one line: the problem and where (PyYAML's text spans several)
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{path}: not valid YAML ({what}" + (f", line {mark.line + 1})" if mark and "line" not in what else ")")) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of sections at the top level")
    return data


# --- field constraints: declared once on each field, ``epochs: Annotated[int, AtLeast(1)] = 20`` ------------
@dataclass(frozen=True)
class Range:
    """Numbers (a scalar, or every element of a tuple / value of a mapping) within bounds."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def problem(self, v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None  # a type problem, reported by the type check
        bad_lo = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        bad_hi = self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi)
        if bad_lo or bad_hi:
            return f"must be {self.describe()}, got {v!r}"
        return None

    def describe(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '≥'} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '≤'} {self.hi:g}")
        return " and ".join(parts)


def AtLeast(lo: float) -> Range:  # noqa: N802 - reads as a type annotation
    return Range(lo=lo)


POSITIVE = Range(lo=0, lo_open=True)
NON_NEGATIVE = Range(lo=0)
RATE = Range(lo=0, hi=1, hi_open=True)            #: a probability in [0, 1)
UNIT_OPEN = Range(lo=0, hi=1, lo_open=True, hi_open=True)


@dataclass(frozen=True)
class Increasing:
    """A (lo, hi) pair with lo < hi (``strict``) or lo ≤ hi."""

    strict: bool = True

    def problem(self, v: Any) -> str | None:
        if isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
            if v[0] > v[1] or (self.strict and v[0] == v[1]):
                return f"must be [low, high] with low {'<' if self.strict else '≤'} high, got {list(v)}"
        return None


@dataclass(frozen=True)
class Matches:
    """Text matching a regular expression (``describe`` says what is allowed)."""

    regex: str
    describe: str

    def problem(self, v: Any) -> str | None:
        if isinstance(v, str) and not re.fullmatch(self.regex, v):
            return f"must be {self.describe}, got {v!r}"
        return None


DEVICE = Matches(r"auto|cpu|cuda(:\d+)?", "auto, cpu, cuda or cuda:N")
#: YAML 1.2 floats that PyYAML (YAML 1.1) reads as strings: 5e-4, 1E3, .5e-3 (DVC writes such values)
_YAML12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _split(hint: Any) -> tuple[Any, tuple]:
    if typing.get_origin(hint) is Annotated:
        base, *metas = typing.get_args(hint)
        return base, tuple(metas)
    return hint, ()


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` converted to ``hint`` (int -> float, YAML 1.2 float text -> float, list -> tuple), or a
    ValueError naming ``where``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):  # a nested section (``baselines.ststnet``)
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(hint, value, where=where)
    if hint is float:
        if isinstance(value, str) and _YAML12_FLOAT.fullmatch(value.strip()):
            value = float(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{where}: {value} is not a finite number")
            return value
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if hint in (int, str, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ValueError(f"{where}: expected {hint.__name__}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{where}: expected a list of {len(args)} values, got {list(value)}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return {k: _coerce(v, args[1], f"{where}.{k}") for k, v in value.items()}
    return value


def _check(value: Any, metas: tuple, where: str) -> None:
    for meta in metas:
        if not hasattr(meta, "problem"):
            continue
        items = [value]
        if isinstance(meta, (Range, Matches)) and isinstance(value, tuple):
            items = list(value)
        elif isinstance(meta, (Range, Matches)) and isinstance(value, dict):
            items = list(value.values())
        for item in items:
            msg = meta.problem(item)
            if msg:
                raise ValueError(f"{where}: {msg}")


def from_dict(cls: type[T], values: dict[str, Any] | None, *, where: str) -> T:
    """``cls(**values)`` with unknown keys, wrong types and out-of-range values reported as ``where.key``."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    renamed = getattr(cls, "RENAMED", {})  #: a ClassVar {old key: new key}
    for old in unknown:
        if old in renamed:
            raise ValueError(f"{where}.{old} was renamed {renamed[old]}: write `{renamed[old]}: "
                             f"{values[old]}` in its place")
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls, include_extras=True)
    for name, value in list(values.items()):
        base, metas = _split(hints[name])
        values[name] = _coerce(value, base, f"{where}.{name}")
        _check(values[name], metas, f"{where}.{name}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def check_fields(obj: Any, where: str) -> None:
    """Every field of a config instance against its declared constraints (the defaults are checked so)."""
    hints = typing.get_type_hints(type(obj), include_extras=True)
    for f in dataclasses.fields(obj):
        _check(getattr(obj, f.name), _split(hints[f.name])[1], f"{where}.{f.name}")


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
        raw = dict(raw or {})
        if name == "model":
            raw.pop(ARCH_KEY, None)  # read by :attr:`arch`
        return from_dict(cls, {**raw, **extra}, where=f"{self.source}: {name}")

    @property
    def arch(self) -> str:
        """``model.arch``: the name of the architecture the training stages build (default ``mfdan``). Checked
        against the registry where a model is built (:func:`mfdan.model.registry.model_config`) and by
        ``mfdan params``, not here: this module imports no phase."""
        raw = self.values.get("model") or {}
        value = raw.get(ARCH_KEY, "mfdan") if isinstance(raw, dict) else "mfdan"
        if not isinstance(value, str):
            raise ValueError(f"{self.source}: model.arch: expected a name (`mfdan models`), got {value!r}")
        return value

    @property
    def folds(self) -> list[str]:
        """The LOSO fold list (``<dataset>_<subject>``)."""
        folds = self.values.get("folds") or []
        if not isinstance(folds, list) or not all(isinstance(f, str) for f in folds):
            raise ValueError(f"{self.source}: folds: expected a list of <dataset>_<subject> names")
        return list(folds)

    @property
    def dropkey(self) -> float:
        """The top-level DropKey rate (Eq. 12) that every flow-driven attention layer uses, in [0, 1)."""
        value = _coerce(self.values.get("dropkey", 0.0), float, f"{self.source}: dropkey")
        _check(value, (RATE,), f"{self.source}: dropkey")
        return value

    def resolved(self) -> dict[str, Any]:
        """Every registered section with its defaults filled in, plus the scalars: what the stages see."""
        out: dict[str, Any] = {k: self.values[k] for k in SCALARS if k in self.values}
        for name in SECTIONS:
            extra = {"dropkey": self.dropkey} if name == "model" and "dropkey" in self.values else {}
            out[name] = dataclasses.asdict(self.section(name, **extra))
        out["model"] = {ARCH_KEY: self.arch, **out["model"]}
        return out


# --- variants: dotted overrides of params.yaml, the one format of profiles/ --------------------------------
#: every variant of the settings, as dotted overrides of params.yaml: paper profiles (``paper-<set>``), baseline
#: recipes (``baseline-<arch>``), sweep sets (``set-<name>``) and named sweep arms (``arm-<name>``)
PROFILES = Path(__file__).resolve().parents[2] / "profiles"


def named_profiles(kind: str, folder: Path = PROFILES) -> dict[str, Path]:
    """``{name: path}`` of ``folder/<kind>-<name>.yaml`` (``named_profiles("arm")``)."""
    return {p.stem.removeprefix(f"{kind}-"): p for p in sorted(folder.glob(f"{kind}-*.yaml"))}


def is_whole(values: dict[str, Any]) -> bool:
    """Whether a file's values are a whole params file (a section written as a mapping) rather than dotted
    overrides."""
    return any(k in SECTIONS and isinstance(v, dict) for k, v in values.items())


def load_variant(path: str | Path, base: str | Path = "params.yaml") -> Params:
    """A profile, recipe or set file, read and checked (every section against its dataclass, by
    :meth:`Params.resolved`): ``base`` with its dotted overrides set. A whole params file (:func:`is_whole`:
    ``params.yaml``, ``long/params.yaml``) is read as it is."""
    values = load_yaml(path)
    if is_whole(values):
        params = Params(values, source=str(path))
    else:
        params = Params(apply_overrides(load_yaml(base), load_overrides(path)), source=f"{base} + {path}")
    params.resolved()
    return params


def load_overrides(path: str | Path) -> dict[str, Any]:
    """A variant file: a mapping of dotted keys (``train.lr``) to values, as ``dvc exp run -S`` takes them."""
    data = load_yaml(path)
    bad = [k for k in data if not isinstance(k, str) or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", k)]
    if bad:
        raise ValueError(f"{path}: a recipe maps dotted params keys (train.lr: 1.0e-4) to values; bad keys {bad}")
    return dict(data)


def apply_overrides(values: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``values`` with each ``{"a.b": v}`` set."""
    import copy

    out = copy.deepcopy(values)
    for key, v in overrides.items():
        node = out
        *path, last = key.split(".")
        for k in path:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {key}: {k} is not a section")
        node[last] = v
    return out


def dvc_set_args(overrides: dict[str, Any]) -> list[str]:
    """``-S ++key=value`` arguments for ``dvc exp run``, values in YAML flow style without spaces (lists as
    ``[2,2,10]``), so that ``dvc exp run $(mfdan recipe FILE)`` splits them right; a text value with a space
    cannot be passed that way and is an error."""
    out = []
    for key, v in overrides.items():
        text = yaml.safe_dump(v, default_flow_style=True, width=10**6).strip()
        text = text.removesuffix("\n...").removesuffix("...").strip().replace(", ", ",")
        if any(c.isspace() for c in text):
            raise ValueError(f"override {key}: {v!r} holds a space; `dvc exp run $(...)` would split it")
        out += ["-S", f"++{key}={text}"]  # ++: set the key whether or not params.yaml has it (Hydra's syntax)
    return out

"""Arms and seeds as ``mfdan sweep`` reads them.

An arm is a name and dotted overrides of the set's params file: ``NAME:key=value,key=value`` (values in YAML,
``model.flow_driven=false``), ``NAME:@profiles/baseline-ststnet.yaml`` (a recipe file, :func:`load_overrides`),
or both (``NAME:@FILE,data.evaluation=hde``). ``NAME:`` alone is the params file itself. A few arms are
named in ``profiles/arm-<name>.yaml`` (:func:`presets`) and can be given by name only. An arm may change any
section: training ones (``model``, ``model.arch``, ``baselines``, ``train``, ``dropkey``), the evaluation
(``data.evaluation``: LOSO or HDE folds), or preprocessing (``flow``, ``magnify``, ``data.protocol`` ...), which gives the arm its own
caches (:mod:`mfdan.sweep.sets`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mfdan.core.params import apply_overrides, load_overrides, named_profiles



def presets(project: Path) -> dict[str, Path]:
    """The named arms: ``<project>/profiles/arm-<name>.yaml``, dotted overrides of the set's params file (each
    file says what the arm is)."""
    return named_profiles("arm", project / "profiles")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


@dataclass(frozen=True)
class Arm:
    """One arm: a name (a folder name in the store's tables) and its dotted overrides."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def values(self, base: dict[str, Any]) -> dict[str, Any]:
        """The arm's params: ``base`` with the overrides set."""
        return apply_overrides(base, self.overrides)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.overrides.items()) or "the params file"


def parse_arm(text: str, *, base_dir: Path = Path(".")) -> Arm:
    """``NAME``, ``NAME:key=value,...`` or ``NAME:@FILE[,key=value,...]`` (see the module docstring)."""
    name, colon, body = text.partition(":")
    if not NAME.fullmatch(name):
        raise ValueError(f"arm {text!r}: the name must be letters, digits, '_', '.', '+' or '-' "
                         "(NAME:key=value,...)")
    if not colon:
        named = presets(base_dir)
        if name not in named:
            there = ", ".join(named) or f"there is no {base_dir / 'profiles'}/arm-*.yaml"
            raise ValueError(f"arm {name!r}: not a named arm ({there}); give its overrides as "
                             f"{name}:key=value,... or {name}:@recipe.yaml")
        return Arm(name, load_overrides(named[name]))
    overrides: dict[str, Any] = {}
    # split at the commas that start a new key=value or @file, not at those inside a value ([16,16,16])
    for part in (p for p in re.split(r",(?=\s*(?:[A-Za-z_][\w.]*=|@))", body) if p):
        if part.startswith("@"):
            path = Path(part[1:])
            path = path if path.is_absolute() else base_dir / path
            if not path.is_file():
                raise ValueError(f"arm {name}: recipe file {path} not found")
            overrides.update(load_overrides(path))
            continue
        key, eq, value = part.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key):
            raise ValueError(f"arm {name}: {part!r} is not key=value (a dotted params key, a YAML value)")
        try:
            overrides[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ValueError(f"arm {name}: {key}={value}: not a YAML value ({exc.problem})") from None
    return Arm(name, overrides)


def parse_arms(texts: list[str], *, base_dir: Path = Path(".")) -> list[Arm]:
    arms = [parse_arm(t, base_dir=base_dir) for t in texts]
    names = [a.name for a in arms]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"arm names must differ; repeated: {dup}")
    if not arms:
        raise ValueError("no arms: give --arm NAME[:key=value,...] at least once")
    return arms


def parse_seeds(text: str) -> list[int]:
    """``0-4`` → [0, 1, 2, 3, 4]; ``0,2,5``; ``0-2,7``. Each seed once, in the order given."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(f"--seeds {text!r}: expected seeds such as 0-4 or 0,2,5")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if hi < lo:
            raise ValueError(f"--seeds {text!r}: {part} is an empty range")
        out += [s for s in range(lo, hi + 1) if s not in out]
    return out


PROTOCOL_SUFFIX = {"loso": "", "hde": "_hde"}
#: ``--compare --budget``: how many steps every architecture's arm trains (mfdan.train.loop.BUDGETS): its paper's
#: recipe, the same ``train.steps`` for all, or inner selection on the training subjects
COMPARE_BUDGETS = ("recipe", "steps", "inner")
#: the comparison's MFDAN: at a size where the paper's window 7 tiles every stage (profiles/arm-mfdan_112.yaml)
COMPARE_MFDAN = "@profiles/arm-mfdan_112.yaml"


def budget_profile(budget: str, arch: str, profiles: Path) -> list[str]:
    """The overrides file an arm of ``arch`` reads under ``budget``: ``profiles/budget-<budget>-<arch>.yaml`` when
    there is one (MFDAN's inner ceiling), else ``profiles/budget-<budget>.yaml``; none under ``recipe``."""
    if budget == "recipe":
        return []
    own = profiles / f"budget-{budget}-{arch}.yaml"
    return [f"@profiles/{own.name if own.is_file() else f'budget-{budget}.yaml'}"]


def comparison_arms(protocols: list[str], archs: list[str] | None = None, budget: str = "recipe",
                    profiles: Path = Path("profiles")) -> list[str]:
    """``--compare``: one arm per architecture (``mfdan models``) and protocol, each with its paper's recipe
    (``profiles/baseline-<arch>.yaml``; MFDAN: the params file at 112 px, :data:`COMPARE_MFDAN`), named ``<arch>``
    under LOSO and ``<arch>_hde`` under HDE; under ``budget`` steps or inner, that budget's profile on top
    (:func:`budget_profile`). MFDAN comes first, so the paired differences are against it."""
    from mfdan.model.registry import ARCHITECTURES

    names = list(ARCHITECTURES)
    chosen = names if not archs else ["mfdan", *[a for a in archs if a != "mfdan"]]
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        raise ValueError(f"--archs: unknown {unknown}; known: {', '.join(names)}")
    bad = sorted(set(protocols) - set(PROTOCOL_SUFFIX))
    if bad:
        raise ValueError(f"--protocols: unknown {bad}; known: loso, hde")
    if budget not in COMPARE_BUDGETS:
        raise ValueError(f"--budget: {budget!r} is not one of {', '.join(COMPARE_BUDGETS)}")
    out = []
    for protocol in protocols:
        extra = ["data.evaluation=hde"] if protocol == "hde" else []
        for arch in chosen:
            recipe = [COMPARE_MFDAN] if arch == "mfdan" else [f"@profiles/baseline-{arch}.yaml"]
            body = recipe + budget_profile(budget, arch, profiles) + extra
            out.append(f"{arch}{PROTOCOL_SUFFIX[protocol]}:{','.join(body)}")
    return out

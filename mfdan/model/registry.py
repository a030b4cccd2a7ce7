"""The architectures ``model.arch`` can name: MFDAN (the default) and the methods it is compared with.

Each entry is registered where its network is defined (:func:`mfdan.core.architectures.register`); importing
this module imports MFDAN and every baseline, which fills the table. All networks take the same
batch, by name: ``image`` (the magnified apex, B×3×S×S in [−1, 1]), ``flow`` ((u, v, strain), B×3×S×S) and
``landmarks`` (68 dlib points on the aligned onset, B×68×2, in pixels of the aligned frame; an architecture
that reads them needs the frame and the flow map at one size, S); a network lists the
ones it reads in its ``inputs`` attribute and gets exactly those, in that order (:func:`forward`). A baseline
resizes in its own input step; nothing is preprocessed twice. Bi-WOOF is hand-crafted: its model is a linear
SVM fitted on a descriptor (``kind = "handcrafted"``), not a network trained by the fold loop.

A baseline's settings are its own dataclass nested in the ``baselines`` section of params.yaml
(``baselines.ststnet.input_size``); its defaults are its paper's. ``mfdan models`` prints this table.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import mfdan.baselines  # noqa: F401 - registers every baseline
from mfdan.core.architectures import KINDS, REGISTERED, Architecture
from mfdan.core.errors import DatasetError
from mfdan.model.network import MFDAN  # noqa: F401 - registers MFDAN

#: every architecture ``model.arch`` can name: MFDAN first, then the rest by name (``mfdan models``' order)
ARCHITECTURES: dict[str, Architecture] = dict(sorted(REGISTERED.items(), key=lambda kv: (kv[0] != "mfdan", kv[0])))

__all__ = ["ARCHITECTURES", "KINDS", "Architecture", "architecture", "arch_of", "build", "check_sizes",
           "config_class", "config_from_dict", "forward", "input_size", "model_config", "parameter_count"]


def architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {list(ARCHITECTURES)}") from None


def config_class(name: str) -> type:
    return architecture(name).config


def arch_of(cfg: Any) -> Architecture:
    """The registry entry whose config class ``cfg`` is an instance of."""
    for a in ARCHITECTURES.values():
        if type(cfg) is a.config:
            return a
    raise TypeError(f"{type(cfg).__module__}.{type(cfg).__qualname__} is no registered architecture's config")


def build(cfg: Any) -> Any:
    """The model of ``cfg``'s architecture (untrained)."""
    return arch_of(cfg).network(cfg)


def model_config(params: Any, num_classes: int) -> Any:
    """The config of ``params``'s ``model.arch`` for ``num_classes`` classes: the ``model`` section for MFDAN
    (with the top-level ``dropkey``), ``baselines.<arch>`` for a baseline."""
    arch = params.arch
    if arch not in ARCHITECTURES:
        raise ValueError(f"{params.source}: model.arch: unknown architecture {arch!r}; known: "
                         f"{list(ARCHITECTURES)} (`mfdan models`)")
    if arch == "mfdan":
        return params.section("model", dropkey=params.dropkey, num_classes=num_classes)
    try:
        return dataclasses.replace(getattr(params.section("baselines"), arch), num_classes=num_classes)
    except ValueError as exc:
        raise ValueError(f"{params.source}: baselines.{arch}: {exc}") from None


def config_from_dict(name: str, values: dict, *, where: str) -> Any:
    """A saved config (fold meta.json, model card) back as its dataclass, checked like params.yaml. An MFDAN
    config saved before ``flow_feature_norm`` existed describes the head without it, and is read so."""
    from mfdan.core.params import from_dict

    if name == "mfdan" and "flow_feature_norm" not in values:
        values = {**values, "flow_feature_norm": False}
    return from_dict(config_class(name), values, where=where)


def input_size(cfg: Any) -> tuple[str, int]:
    """What the cache must hold for ``cfg``: ``("equal", S)`` (MFDAN reads the cache at its own size) or
    ``("at_least", S)`` (a baseline resizes down to S in its input step; it never invents resolution)."""
    if arch_of(cfg).name == "mfdan":
        return "equal", cfg.img_size
    return "at_least", cfg.input_size


def check_sizes(cfg: Any, *, frames: int, flow: int, has_landmarks: bool, source: Any) -> None:
    """The cache's frames and flow maps against what ``cfg``'s architecture reads (one clear error naming the
    cache otherwise)."""
    rule, size = input_size(cfg)
    name = arch_of(cfg).name
    sizes = {"magnified frames": frames, "flow maps": flow}
    if rule == "equal":
        bad = {k: v for k, v in sizes.items() if v != size}
        if bad:
            raise DatasetError(source, f"{bad} do not match model.img_size {size}; set align.output_size and "
                                       f"flow.output_size to {size} in params.yaml (or model.img_size to theirs)")
    else:
        bad = {k: v for k, v in sizes.items() if v < size}
        if bad:
            raise DatasetError(source, f"{bad} are smaller than {name}'s input_size {size}; set "
                                       f"align.output_size and flow.output_size to at least {size} (or "
                                       f"baselines.{name}.input_size to at most {min(sizes.values())})")
    if "landmarks" in getattr(arch_of(cfg).network, "inputs", ()):
        if not has_landmarks:
            raise DatasetError(source, f"{name} reads facial landmarks and this cache has none; rerun "
                                       "`dvc repro pack` (the align stage stores them)")
        if frames != flow:  # the landmarks are pixels of the aligned frame; the regions are cut from the flow map
            raise DatasetError(source, f"{name} cuts its regions from the flow map around landmarks of the aligned "
                                       f"frame, so align.output_size ({frames}) and flow.output_size ({flow}) must "
                                       "be equal")


def forward(model: Any, batch: dict) -> Any:
    """``model`` on the inputs it names (``model.inputs``), from a batch holding image, flow and landmarks."""
    return model(*[batch[k] for k in model.inputs])


def parameter_count(model: Any) -> int:
    """Trainable parameters (a hand-crafted model: the fitted SVM's weights and biases)."""
    if hasattr(model, "parameter_count"):
        return int(model.parameter_count())
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""The architectures ``model.arch`` can name: MFDAN (the default) and the methods it is compared with.

Every entry names its module, config dataclass and network as text, imported on first use (so the registry
imports no network), cites its paper and says what it reads. All networks take the same
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
import importlib
from dataclasses import dataclass
from typing import Any

from mfdan.core.errors import DatasetError

KINDS = ("network", "handcrafted")


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    citation: str
    module: str        #: the module defining both (a name, so tests/dvc_deps.py counts it as the stages' code)
    config: str        #: its config dataclass
    network: str       #: its model (an nn.Module, or the hand-crafted model)
    kind: str          #: network (trained by mfdan.train.loop) | handcrafted (its own fit)
    reads: str         #: the inputs, in words
    deviations: str    #: where ours differs from the paper, or what the paper leaves open


ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture("mfdan", "MFDAN", "Cai et al., Multi-level Flow-Driven Attention Network, IEEE TCSVT 2024",
                 "mfdan.model.network", "MFDANConfig", "MFDAN", "network",
                 "magnified apex + (u, v, strain) at model.img_size",
                 "choices the paper leaves open: docs/equations.md"),
    Architecture("off_apexnet", "OFF-ApexNet",
                 "Gan, Liong, Yau, Huang, Tan, OFF-ApexNet on micro-expression recognition system, "
                 "Signal Processing: Image Communication 2019",
                 "mfdan.baselines.off_apexnet", "OffApexNetConfig", "OffApexNet", "network",
                 "(u, v) resized to 28×28, one stream each",
                 "ReLU after each convolution (our reading; the Off-TANet port has none); batch 64 is "
                 "Off-TANet's (the paper's batch size is not known to us)"),
    Architecture("ststnet", "STSTNet",
                 "Liong, Gan, See, Khor, Huang, Shallow Triple Stream Three-dimensional CNN (STSTNet) for "
                 "micro-expression recognition, FG 2019 (MEGC2019 baseline)",
                 "mfdan.baselines.ststnet", "STSTNetConfig", "STSTNet", "network",
                 "(u, v, strain) resized to 28×28",
                 "none in the network (the authors' PyTorch code, christy1206/STSTNet main.py)"),
    Architecture("dual_inception", "Dual-Inception",
                 "Zhou, Mao, Xue, Dual-Inception Network for Cross-Database Micro-Expression Recognition, FG 2019",
                 "mfdan.baselines.dual_inception", "DualInceptionConfig", "DualInception", "network",
                 "u and v, each resized to 28×28, one Inception stream each",
                 "no public code: widths as the Off-TANet port, ReLU on every path; recipe Off-TANet's "
                 "(the paper's is not published)"),
    Architecture("sssnet", "SSSNet",
                 "Khor, See, Liong, Phan, Lin, Dual-stream Shallow Networks for Facial Micro-expression "
                 "Recognition, ICIP 2019 (its single-stream network, SSSN)",
                 "mfdan.baselines.sssnet", "SSSNetConfig", "SSSNet", "network",
                 "(u, v, strain) stacked as three channels, resized to 224×224",
                 "trained from scratch (the authors start from ImageNet AlexNet); 224 input, not 227; recipe "
                 "meb's (SGD), the authors' is not public"),
    Architecture("htnet", "HTNet",
                 "Wang, Zhang, Luo, Sankaranarayana, HTNet for micro-expression recognition, Neurocomputing 2024",
                 "mfdan.baselines.htnet", "HTNetConfig", "HTNet", "network",
                 "(u, v, strain) around four landmark regions (eyes and mouth corners) of the aligned onset",
                 "regions around our dlib landmarks on the aligned onset (theirs: MTCNN on the 28-px apex); "
                 "the last epoch (its code keeps each subject's best test epoch)"),
    Architecture("bi_woof", "Bi-WOOF",
                 "Liong, See, Wong, Phan, Less is more: Micro-expression recognition from video using apex "
                 "frame, Signal Processing: Image Communication 2018",
                 "mfdan.baselines.bi_woof", "BiWOOFConfig", "BiWOOF", "handcrafted",
                 "(u, v, strain) of onset → apex: orientation histograms per block, weighted by magnitude "
                 "and strain",
                 "linear SVM (scikit-learn LinearSVC, C 1: the paper's C is not known to us); the fold files' "
                 "probabilities are a softmax of its decision values, not calibrated"),
)}


def _load(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {list(ARCHITECTURES)}") from None


def config_class(name: str) -> type:
    a = architecture(name)
    return _load(a.module, a.config)


def arch_of(cfg: Any) -> Architecture:
    """The registry entry whose config class ``cfg`` is an instance of."""
    for a in ARCHITECTURES.values():
        if (a.module, a.config) == (type(cfg).__module__, type(cfg).__qualname__):
            return a
    raise TypeError(f"{type(cfg).__module__}.{type(cfg).__qualname__} is no registered architecture's config")


def build(cfg: Any) -> Any:
    """The model of ``cfg``'s architecture (untrained)."""
    a = arch_of(cfg)
    return _load(a.module, a.network)(cfg)


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
    a = arch_of(cfg)
    if "landmarks" in getattr(_load(a.module, a.network), "inputs", ()):
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

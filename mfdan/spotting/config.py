"""The ``spot`` and ``softnet`` sections of a long-video params file (``long/params.yaml``).

Lengths are in seconds and turned into frames with each video's frame rate, so one setting serves CAS(ME)²
at 30 fps and the SAMM long videos at 200 fps. The defaults are the MEGC spotting conventions: ``k`` is half
the average expression length (CAS(ME)²: 6 frames micro, 18 macro at 30 fps, i.e. 0.2 s and 0.6 s), a hit
is IoU ≥ 0.5, and the threshold is ``mean + p (max − mean)`` of the video's own score curve.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from mfdan.core.params import AtLeast, NON_NEGATIVE, POSITIVE, Range, UNIT_OPEN

FRACTION = Range(lo=0, hi=1)
KINDS = ("micro", "macro")


@dataclass(frozen=True)
class SpotConfig:
    """Face tracking over a whole recording, the per-frame features, and the training-free spotter."""

    # -- faces (mfdan.spotting.faces)
    detect_every: Annotated[int, AtLeast(1)] = 5      #: dlib's detector runs on every n-th frame; landmarks track between
    #: detection runs on the frame scaled down to this width (landmarks at full size): 640 keeps SAMM's ~400 px
    #: face at ~125 px in its 2040 px frame (dlib finds faces from ~80 px; at 320 it finds none)
    detect_width: Annotated[int, AtLeast(80)] = 640
    upsample: Annotated[int, NON_NEGATIVE] = 0        #: dlib detector upsampling on that frame
    #: a stretch's alignment is re-estimated when the eye corners and nose bridge, mapped through it, have
    #: moved by this fraction of the aligned side since the stretch began (head motion)
    realign: Annotated[float, POSITIVE] = 0.03
    face_size: Annotated[int, AtLeast(32)] = 128      #: aligned face side the features are computed on, px
    margin: Annotated[float, NON_NEGATIVE] = 0.15     #: landmark box growth, as align.margin
    # -- lengths (seconds)
    k_micro: Annotated[float, POSITIVE] = 0.2         #: half the average micro-expression length (MEGC's k)
    k_macro: Annotated[float, POSITIVE] = 0.6         #: half the average macro-expression length
    max_micro: Annotated[float, POSITIVE] = 0.5       #: a peak wider than this (FWHM, s) is not a micro-expression (the MEGC definition)
    # -- the training-free spotter (Moilanen et al. 2014): LBP feature difference
    blocks: Annotated[int, AtLeast(2)] = 6            #: the face is cut into blocks × blocks
    top_fraction: Annotated[float, UNIT_OPEN] = 0.34  #: a frame's difference is the mean of this fraction of largest block differences
    mask_eyes: bool = True                            #: leave out the blocks over the eyes (blinks)
    #: the MEGC LBP baseline's p = 0.15 (jingtingEmmaLi/MEGC_spotting)
    p_micro: Annotated[float, FRACTION] = 0.15        #: threshold T = mean + p (max − mean) of the video's contrast curve
    p_macro: Annotated[float, FRACTION] = 0.5
    #: head-motion gate: no peak where the eye corners and nose bridge moved by more than this fraction of the
    #: aligned side between frames i − k and i + k
    head_motion: Annotated[float, POSITIVE] = 0.015
    mask_macro: bool = True                           #: macro proposals are taken out of the micro curve before its threshold
    drop_in_macro: bool = True                        #: a micro proposal overlapping a macro proposal is dropped
    #: recordings at most this long (seconds) are one clip to `mfdan predict` unless --spot is given
    short_video: Annotated[float, NON_NEGATIVE] = 1.0
    workers: Annotated[int, NON_NEGATIVE] = 0         #: processes, one video each (0 = all cores)

    def frames(self, seconds: float, fps: float) -> int:
        """``seconds`` at ``fps``, at least one frame."""
        return max(1, int(round(seconds * fps)))


@dataclass(frozen=True)
class SoftNetConfig:
    """SOFTNet (Liong, Gan, See, Khor and Huang, "Shallow Optical Flow Three-Stream CNN for Macro- and
    Micro-Expression Spotting from Long Videos", ICIP 2021; public code genbing99/SoftNet-SpotME): u, v and
    optical strain between frames i and i + k, its eyebrow and mouth regions stacked into 42 × 42, three
    shallow streams, a regression of each frame's pseudo-label, trained leave-one-subject-out. Defaults are
    the paper's / its code's; ``negatives`` is our choice (the code down-samples label-0 frames by an amount
    the paper does not state)."""

    input_size: Annotated[int, AtLeast(8)] = 42       #: the paper's 42 × 42 (two regions of 42 × 21)
    flow: str = "tvl1"                                #: tvl1 (the paper's) | farneback
    flow_size: Annotated[int, AtLeast(16)] = 128      #: the paper's 128 × 128 face for the flow
    epochs: Annotated[int, AtLeast(1)] = 10
    batch_size: Annotated[int, AtLeast(1)] = 12
    lr: Annotated[float, POSITIVE] = 5e-4
    optimizer: str = "sgd"                            #: sgd (the paper's) | adam
    negatives: Annotated[float, POSITIVE] = 3.0       #: label-0 frames kept per label-1 frame in training (at most)
    p: Annotated[float, FRACTION] = 0.55              #: threshold T = mean + p (max − mean) of the smoothed score
    seed: Annotated[int, NON_NEGATIVE] = 0
    threads: Annotated[int, NON_NEGATIVE] = 0         #: torch threads (0 = torch's default)

    def __post_init__(self) -> None:
        if self.flow not in ("tvl1", "farneback"):
            raise ValueError(f"softnet.flow must be tvl1 or farneback, not {self.flow!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"softnet.optimizer must be sgd or adam, not {self.optimizer!r}")
        if self.input_size % 2:
            raise ValueError("softnet.input_size must be even (two regions of input_size × input_size/2)")

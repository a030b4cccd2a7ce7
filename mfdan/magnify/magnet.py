"""MagNet: learning-based video motion magnification (Oh et al., ECCV 2018), laid out so that its
``state_dict()`` matches the community PyTorch port's released checkpoint ``magnet_epoch12_loss7.28e-02.pth``
key for key and shape for shape (42 tensors, 877,968 parameters, convolutions without bias; the reference list
is ``mfdan/magnify/magnet_state_dict_keys.tsv``).

* encoder: 7×7 conv (3→16) and a stride-2 3×3 conv (16→32), three residual blocks; then a *texture* head
  (stride-2 conv + 2 residual blocks, H/4) and a *shape* (motion) head (conv + 2 residual blocks, H/2);
* manipulator: ``M_b + h(α · g(M_b − M_a))`` — g a 3×3 conv + ReLU, h a 3×3 conv then a residual block;
* decoder: texture upsampled ×2, concatenated with the (magnified) shape, 9 residual blocks (64 channels),
  upsample ×2, 3×3 conv + ReLU, 7×7 conv to RGB.

Convolutions use reflection padding and no bias, as in the port; frames are RGB in [−1, 1]; the output is
not clipped. Sizes that are not multiples of 4 are reflection-padded and cropped back.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def reflect_pad(x: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    """Reflection padding of B×C×H×W (``F.pad(mode="reflect")``). On CUDA it is built from slices, flips and a
    concat, whose backward is a plain sum: ``ReflectionPad2d``'s CUDA backward has no deterministic kernel (the
    CPU kernel is deterministic, and faster, so CPU uses it; both give the same values)."""
    if not x.is_cuda:
        return F.pad(x, (left, right, top, bottom), mode="reflect")
    if left or right:
        x = torch.cat([x[..., 1:left + 1].flip(-1), x, x[..., x.shape[-1] - right - 1:-1].flip(-1)], dim=-1)
    if top or bottom:
        x = torch.cat([x[..., 1:top + 1, :].flip(-2), x, x[..., x.shape[-2] - bottom - 1:-1, :].flip(-2)], dim=-2)
    return x


def upsample2(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour ×2 upsampling of B×C×H×W (as ``F.interpolate(scale_factor=2, mode="nearest")``) as a
    broadcast + reshape, whose backward is a sum: the interpolate backward has no deterministic CUDA kernel."""
    b, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w)  # (B, C, 2H, 2W)


class ConvActivation(nn.Module):
    """Reflection pad → conv (no bias) → optional ReLU (the port's ``Conv2D_activa``; key ``conv2d``)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, *, relu: bool = True) -> None:
        super().__init__()
        self.pad = kernel // 2
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride, bias=False)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad
        x = self.conv2d(reflect_pad(x, p, p, p, p) if p else x)
        return F.relu(x) if self.relu else x


class ResBlock(nn.Module):
    """x + conv(ReLU(conv(x))) (keys ``cba_1``, ``cba_2``)."""

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or dim
        self.cba_1 = ConvActivation(dim, hidden, 3)
        self.cba_2 = ConvActivation(hidden, dim, 3, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cba_2(self.cba_1(x))


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cba_1 = ConvActivation(3, 16, 7)
        self.cba_2 = ConvActivation(16, 32, 3, stride=2)
        self.resblks = nn.Sequential(*(ResBlock(32) for _ in range(3)))
        self.texture_cba = ConvActivation(32, 32, 3, stride=2)
        self.texture_resblks = nn.Sequential(*(ResBlock(32) for _ in range(2)))
        self.motion_cba = ConvActivation(32, 32, 3)
        self.motion_resblks = nn.Sequential(*(ResBlock(32) for _ in range(2)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> texture (B, 32, H/4, W/4), shape (B, 32, H/2, W/2)"""
        x = self.resblks(self.cba_2(self.cba_1(x)))
        return self.texture_resblks(self.texture_cba(x)), self.motion_resblks(self.motion_cba(x))


class Manipulator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.g = ConvActivation(32, 32, 3)
        self.h_conv = ConvActivation(32, 32, 3, relu=False)
        self.h_resblk = ResBlock(32)

    def forward(self, m_a: torch.Tensor, m_b: torch.Tensor, amplification: torch.Tensor | float) -> torch.Tensor:
        """M_b + h(α · g(M_b − M_a))"""
        return m_b + self.h_resblk(self.h_conv(self.g(m_b - m_a) * amplification))


class Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.resblks = nn.Sequential(*(ResBlock(64) for _ in range(9)))
        self.cba_1 = ConvActivation(64, 32, 3)
        self.cba_2 = ConvActivation(32, 3, 7, relu=False)

    def forward(self, texture: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """texture (B, 32, H/4, W/4), shape (B, 32, H/2, W/2) -> (B, 3, H, W)"""
        texture = upsample2(texture)
        x = self.resblks(torch.cat([texture, shape], dim=1))
        return self.cba_2(self.cba_1(upsample2(x)))


def pad_to_4(*frames: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Reflection-pad B×3×H×W frames on the bottom/right so H and W are multiples of 4."""
    h, w = frames[0].shape[-2:]
    ph, pw = (-h) % 4, (-w) % 4
    if not (ph or pw):
        return frames
    return tuple(reflect_pad(f, 0, pw, 0, ph) for f in frames)


@dataclass(frozen=True)
class EncodedPair:
    """A frame pair encoded once: the shape of A, texture and shape of B, and the unpadded size.

    Batch B (B pairs), or batch 1 to be decoded at several factors (:meth:`MagNet.decode` broadcasts)."""

    m_a: torch.Tensor        # (B, 32, H'/2, W'/2), H', W' padded to multiples of 4
    t_b: torch.Tensor        # (B, 32, H'/4, W'/4)
    m_b: torch.Tensor        # (B, 32, H'/2, W'/2)
    size: tuple[int, int]    # (H, W) before padding


class MagNet(nn.Module):
    """The one inference path is :meth:`encode_pair` then :meth:`decode` (``forward`` is both): encode A and B
    once, manipulate B's shape by α·(shape(B) − shape(A)), decode with B's texture."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.manipulator = Manipulator()
        self.decoder = Decoder()

    def encode_pair(self, frame_a: torch.Tensor, frame_b: torch.Tensor) -> EncodedPair:
        """Encode B×3×H×W frames in [−1, 1] (reflection-padded to multiples of 4)."""
        h, w = frame_a.shape[-2:]
        frame_a, frame_b = pad_to_4(frame_a, frame_b)
        _, m_a = self.encoder(frame_a)
        t_b, m_b = self.encoder(frame_b)
        return EncodedPair(m_a=m_a, t_b=t_b, m_b=m_b, size=(h, w))

    def decode(self, pair: EncodedPair, amplification: torch.Tensor | float) -> torch.Tensor:
        """The magnified frames (unclipped, cropped back to H×W): one per pair, or, for a single encoded pair
        and K factors (K×1×1×1), one per factor."""
        m_a, t_b, m_b = pair.m_a, pair.t_b, pair.m_b
        if isinstance(amplification, torch.Tensor) and amplification.shape[0] != m_a.shape[0] == 1:
            k = amplification.shape[0]
            m_a, t_b, m_b = (x.expand(k, -1, -1, -1) for x in (m_a, t_b, m_b))  # (K, C, h, w) views
        h, w = pair.size
        return self.decoder(t_b, self.manipulator(m_a, m_b, amplification))[..., :h, :w]

    def forward(self, frame_a: torch.Tensor, frame_b: torch.Tensor,
                amplification: torch.Tensor | float) -> torch.Tensor:
        """Magnify the motion from ``frame_a`` to ``frame_b`` (B×3×H×W in [−1, 1]) by ``amplification``
        (a float or B×1×1×1). Returns the unclipped magnified frame, B×3×H×W."""
        return self.decode(self.encode_pair(frame_a, frame_b), amplification)


def reference_keys() -> list[tuple[str, tuple[int, ...]]]:
    """The 42 (name, shape) pairs of the community checkpoint, as shipped beside this module."""
    from importlib import resources

    text = resources.files("mfdan.magnify").joinpath("magnet_state_dict_keys.tsv").read_text()
    out = []
    for line in text.strip().splitlines():
        name, shape = line.split("\t")
        out.append((name, tuple(int(x) for x in shape.strip("()").split(",") if x.strip())))
    return out


def load_magnet(path: str | Path, map_location: str | torch.device = "cpu") -> MagNet:
    """A :class:`MagNet` with the weights of ``path``: a plain state_dict (the community checkpoint), with or
    without a ``module.`` prefix (saved from ``DataParallel``). A file that is not such a state_dict raises
    one ``ValueError`` naming the file and listing missing and unexpected keys (and shape mismatches)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: MagNet checkpoint not found")
    try:
        state = torch.load(path, weights_only=True, map_location=map_location)
    except pickle.UnpicklingError:  # objects beyond tensors: refused, never unpickled to find out more
        raise ValueError(f"{path}: not a weights-only PyTorch checkpoint (it holds Python objects besides "
                         "tensors, which mfdan never unpickles)") from None
    except Exception as exc:  # a file torch cannot read at all: its first line (PyTorch's text runs long)
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(f"{path}: not a loadable PyTorch state_dict ({exc.__class__.__name__}: {first})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state_dict (a mapping of tensors), found {type(state).__name__}")
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    model = MagNet()
    want = model.state_dict()
    missing = sorted(set(want) - set(state))
    unexpected = sorted(set(state) - set(want))
    shapes = sorted(f"{k}: {tuple(state[k].shape)} != {tuple(want[k].shape)}" for k in set(want) & set(state)
                    if tuple(state[k].shape) != tuple(want[k].shape))
    if missing or unexpected or shapes:
        raise ValueError(f"{path}: not a MagNet checkpoint; missing keys {missing}; unexpected keys {unexpected}"
                         + (f"; shape mismatches {shapes}" if shapes else ""))
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if bad:
        raise ValueError(f"{path}: weights are not finite (NaN or infinity) in {len(bad)} tensors, e.g. {bad[:3]}")
    model.load_state_dict(state)
    return model

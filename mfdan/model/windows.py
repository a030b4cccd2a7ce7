"""Window partition / reverse, relative-position indices and the shifted-window mask (Swin, Liu et al. 2021).

Free functions with shapes in their docstrings; MFDAN's Flow-Driven blocks (Eqs. 4–7) and window attention
(Eqs. 9–15) build on them.
"""
from __future__ import annotations

import torch

#: logit added to pairs of tokens that come from different regions of a cyclically shifted window
SHIFT_MASK_VALUE = -100.0


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """Split a token grid into non-overlapping windows.

    Args:
        x: (B, H, W, C), H and W multiples of ``window``.
    Returns:
        (B * H/window * W/window, window * window, C)
    """
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)  # (B, nH, win, nW, win, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)  # (B*nH*nW, win*win, C)


def window_reverse(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`.

    Args:
        windows: (B * h/window * w/window, window * window, C)
    Returns:
        (B, h, w, C)
    """
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // window) * (w // window))
    x = windows.view(b, h // window, w // window, window, window, c)  # (B, nH, nW, win, win, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)  # (B, H, W, C)


def relative_position_index(window: int) -> torch.Tensor:
    """(window², window²) long tensor: index into a ((2·window−1)², heads) bias table for each token pair."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij"))  # (2, win, win)
    flat = coords.flatten(1)  # (2, win²)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0) + (window - 1)  # (win², win², 2), in [0, 2win-2]
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def region_ids(h: int, w: int, window: int, shift: int) -> torch.Tensor:
    """(h, w) ids of the regions a cyclic shift by ``shift`` brings together (9 regions, Swin Fig. 4)."""
    ids = torch.zeros(h, w, dtype=torch.long)
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    n = 0
    for hs in cuts:
        for ws in cuts:
            ids[hs, ws] = n
            n += 1
    return ids


def shifted_window_mask(h: int, w: int, window: int, shift: int) -> torch.Tensor:
    """(nW, window², window²) additive mask: 0 within a region, ``SHIFT_MASK_VALUE`` across regions.

    nW = (h/window)·(w/window). With ``shift == 0`` every entry is 0.
    """
    if shift == 0:
        return torch.zeros((h // window) * (w // window), window * window, window * window)
    ids = region_ids(h, w, window, shift)
    win_ids = window_partition(ids[None, :, :, None].float(), window).squeeze(-1)  # (nW, win²)
    diff = win_ids[:, None, :] != win_ids[:, :, None]  # (nW, win², win²)
    return diff.float() * SHIFT_MASK_VALUE

"""Optical strain, MFDAN Eq. 3.

For a flow field (u, v) the strain tensor is ε = ½(∇w + ∇wᵀ): ε_xx = ∂u/∂x, ε_yy = ∂v/∂y,
ε_xy = ε_yx = ½(∂u/∂y + ∂v/∂x). Its magnitude

    |ε| = sqrt(ε_xx² + ε_yy² + ε_xy² + ε_yx²) = sqrt(u_x² + v_y² + ½(u_y + v_x)²)

Several public implementations swap the axes (``np.gradient`` returns d/d(row) first, i.e. ∂/∂y) or drop
the ½; the tests check this one against closed forms.
"""
from __future__ import annotations

import numpy as np


def optical_strain(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """|ε| of Eq. 3 for flow components ``u`` (x, columns) and ``v`` (y, rows), H×W, central differences."""
    u_y, u_x = np.gradient(u.astype(np.float64))  # np.gradient: axis 0 (rows, y) first, then axis 1 (x)
    v_y, v_x = np.gradient(v.astype(np.float64))
    return np.sqrt(u_x**2 + v_y**2 + 0.5 * (u_y + v_x) ** 2).astype(np.float32)

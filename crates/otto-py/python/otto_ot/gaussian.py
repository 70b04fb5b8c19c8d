"""Closed forms for Gaussians (POT's ``ot.gaussian`` names where POT has them):
``W2(N(ms, Cs), N(mt, Ct))² = ‖ms − mt‖² + tr Cs + tr Ct − 2 tr (Cs^{1/2} Ct Cs^{1/2})^{1/2}``,
the OT map, McCann's interpolation and the entropic plan / Schrödinger bridge (MATH.md §3)."""

from typing import Any, Tuple

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._arrays import as_array


def _args(
    ms: ArrayLike, mt: ArrayLike, Cs: ArrayLike, Ct: ArrayLike
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        as_array(ms, "ms", 1),
        as_array(mt, "mt", 1),
        as_array(Cs, "Cs", 2),
        as_array(Ct, "Ct", 2),
    )


def bures_wasserstein_distance(
    ms: ArrayLike, mt: ArrayLike, Cs: ArrayLike, Ct: ArrayLike, log: bool = False
) -> Any:
    """The W2 distance between two Gaussians (one pair; POT's ``paired``/batched forms are not supported)."""
    value = _core.bures_wasserstein_distance(*_args(ms, mt, Cs, Ct))
    return (value, {}) if log else value


def bures_wasserstein_mapping(
    ms: ArrayLike, mt: ArrayLike, Cs: ArrayLike, Ct: ArrayLike, log: bool = False
) -> Any:
    """The OT map ``x ↦ x A + b`` (A symmetric, so also ``A x + b``) from ``N(ms, Cs)`` to ``N(mt, Ct)``:
    ``A = Cs^{-1/2} (Cs^{1/2} Ct Cs^{1/2})^{1/2} Cs^{-1/2}``, ``b = mt − A ms``. Returns ``(A, b)``."""
    A, b = _core.bures_wasserstein_mapping(*_args(ms, mt, Cs, Ct))
    return (A, b, {}) if log else (A, b)


def mccann_interpolation(
    ms: ArrayLike, mt: ArrayLike, Cs: ArrayLike, Ct: ArrayLike, t: float
) -> Tuple[np.ndarray, np.ndarray]:
    """The W2 geodesic between the Gaussians at time t ∈ [0, 1]: ``(mean, cov)`` of ``N(m_t, Σ_t)``."""
    return _core.gaussian_mccann_interpolation(*_args(ms, mt, Cs, Ct), float(t))


def entropic_plan(
    ms: ArrayLike, mt: ArrayLike, Cs: ArrayLike, Ct: ArrayLike, sigma: float
) -> Tuple[np.ndarray, np.ndarray]:
    """The entropic OT plan for ‖x − y‖² at ε = 2σ² (the static Schrödinger bridge with reference σW)
    as the joint Gaussian of (x0, x1): ``(mean, cov)`` with ``cov = [[Cs, C], [Cᵀ, Ct]]``."""
    return _core.gaussian_entropic_plan(*_args(ms, mt, Cs, Ct), float(sigma))


def bridge_marginal(
    ms: ArrayLike, mt: ArrayLike, Cs: ArrayLike, Ct: ArrayLike, sigma: float, t: float
) -> Tuple[np.ndarray, np.ndarray]:
    """The Schrödinger bridge's marginal at time t: ``(μ_t, Σ_t)``."""
    return _core.gaussian_bridge_marginal(*_args(ms, mt, Cs, Ct), float(sigma), float(t))

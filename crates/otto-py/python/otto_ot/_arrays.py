"""Argument checks shared by the Python layer: array-likes become float64/float32 NumPy arrays of the
expected dimension, or an :class:`InputError` that names the argument. No copy is made here for
float64/float32 NumPy input (the compiled layer reads any memory order and copies once)."""

from typing import Optional

import numpy as np
from numpy.typing import ArrayLike

from ._core import InputError

#: A histogram argument: an array-like of weights, or None / [] for uniform weights.
Weights = Optional[ArrayLike]

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def as_array(x: ArrayLike, name: str, ndim: "int | tuple[int, ...] | None" = None) -> np.ndarray:
    """``x`` as a float64 or float32 NumPy array (integers and booleans become float64)."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as e:  # e.g. a ragged list
            raise InputError(f"{name} is not array-like: {e}") from None
    if x.dtype not in _FLOATS:
        if x.dtype.kind in "biu":
            x = x.astype(np.float64)
        else:
            raise InputError(f"{name} has dtype {x.dtype}; expected float64 or float32")
    if ndim is not None and x.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise InputError(f"{name} must be {ndim}-D, got shape {x.shape}")
    return x


def as_weights(w: Weights, name: str, n: int) -> Optional[np.ndarray]:
    """Histogram ``w`` of length ``n``; ``None`` or an empty list means uniform (returned as None)."""
    if w is None:
        return None
    w = as_array(w, name)
    if w.size == 0:
        return None
    if w.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {w.shape}")
    if w.shape[0] != n:
        raise InputError(
            f"{name} has {w.shape[0]} weights but the cost matrix has {n} along that axis"
        )
    return w


def output_dtype(*arrays: Optional[np.ndarray]) -> type:
    """float32 when every given array is float32, else float64 (POT returns the plan in M's type)."""
    return (
        np.float32 if all(a is not None and a.dtype == np.float32 for a in arrays) else np.float64
    )


def check_mass(
    a: Optional[np.ndarray], b: Optional[np.ndarray], n: int, m: int, check_marginals: bool
) -> "tuple[Optional[np.ndarray], Optional[np.ndarray]]":
    """The weights to solve with: ``b`` rescaled to the mass of ``a`` (as POT does), after checking
    that both carry the same mass to 1e-6 when ``check_marginals``."""
    if a is None and b is None:
        return a, b
    mass_a = 1.0 if a is None else float(np.sum(a, dtype=np.float64))
    mass_b = 1.0 if b is None else float(np.sum(b, dtype=np.float64))
    if check_marginals and abs(mass_a - mass_b) > 1e-6 * max(abs(mass_a), abs(mass_b), 1e-300):
        raise InputError(
            f"a and b must carry the same mass: sum(a) = {mass_a!r}, sum(b) = {mass_b!r}"
        )
    if mass_b > 0 and mass_a != mass_b:
        b = (np.full(m, 1.0 / m) if b is None else b.astype(np.float64)) * (mass_a / mass_b)
    return a, b


def as_seed(seed: Optional[int]) -> int:
    """The seed for otto's generator: ``seed`` itself, or fresh entropy when None."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if not isinstance(seed, (int, np.integer)):
        raise InputError("seed must be an int or None (otto does not take a RandomState)")
    return int(seed)

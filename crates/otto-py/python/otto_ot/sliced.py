"""Sliced and exact W2 between point clouds."""

from typing import Any, Optional

from numpy.typing import ArrayLike

from . import _core
from ._arrays import Weights, as_array, as_seed, as_weights


def sliced_wasserstein_distance(
    X_s: ArrayLike,
    X_t: ArrayLike,
    a: Weights = None,
    b: Weights = None,
    n_projections: int = 50,
    p: int = 2,
    projections: Any = None,
    seed: Optional[int] = None,
    log: bool = False,
) -> Any:
    """The sliced W2 distance ``(E_θ W2²(θ#α, θ#β))^{1/2}`` over ``n_projections`` random directions
    (POT's signature; only ``p = 2`` and otto's own directions, drawn from ``seed``)."""
    if p != 2:
        raise _core.InputError(f"p = {p!r} is not supported: otto's sliced distance is W2 (p = 2)")
    if projections is not None:
        raise _core.InputError("projections is not supported: otto draws its directions from seed")
    X_s = as_array(X_s, "X_s", 2)
    X_t = as_array(X_t, "X_t", 2)
    value = _core.sliced_w2(
        X_s,
        X_t,
        as_weights(a, "a", X_s.shape[0]),
        as_weights(b, "b", X_t.shape[0]),
        int(n_projections),
        as_seed(seed),
    )
    return (value, {}) if log else value


def w2(X_s: ArrayLike, X_t: ArrayLike, a: Weights = None, b: Weights = None) -> float:
    """The exact W2 distance between weighted point clouds (weights normalized to unit mass)."""
    X_s = as_array(X_s, "X_s", 2)
    X_t = as_array(X_t, "X_t", 2)
    return _core.w2(X_s, X_t, as_weights(a, "a", X_s.shape[0]), as_weights(b, "b", X_t.shape[0]))

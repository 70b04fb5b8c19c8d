"""Exact optimal transport with POT's names and signatures (``ot.emd``, ``ot.emd2``, ``ot.emd_1d``,
``ot.emd2_1d``, ``ot.wasserstein_1d``), solved by otto-ot's network simplex and 1-D sort.

Differences from POT, by design: ``numThreads`` and ``processes`` are accepted and ignored (otto's
thread pool is set with :func:`otto_ot.set_num_threads`); ``potentials_init`` (a warm start) is
accepted and ignored (the optimum does not depend on it)."""

import warnings
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._arrays import Weights, as_array, as_weights, check_mass, output_dtype

OPTIMAL = 1
MAX_ITER_REACHED = 3
_CAP_MESSAGE = "numItermax reached before optimality. Try to increase numItermax."


def center_ot_dual(
    u: np.ndarray, v: np.ndarray, a: Optional[np.ndarray], b: Optional[np.ndarray]
) -> Tuple[np.ndarray, np.ndarray]:
    """Shifts the duals by the constant c that balances their weighted sums, ``Σ a (u + c) = Σ b (v − c)``
    (POT's convention; the duals of exact OT are defined up to such a shift)."""
    a = np.full(u.shape[0], 1.0 / u.shape[0]) if a is None else a
    b = np.full(v.shape[0], 1.0 / v.shape[0]) if b is None else b
    c = (np.dot(b, v) - np.dot(a, u)) / (np.sum(a) + np.sum(b))
    return u + c, v - c


def _solve(a, b, M, numItermax, check_marginals, center_dual, return_plan):
    M = as_array(M, "M", 2)
    n, m = M.shape
    a = as_weights(a, "a", n)
    b = as_weights(b, "b", m)
    a_solve, b_solve = check_mass(a, b, n, m, check_marginals)
    G, cost, u, v, (status, iterations, error) = _core.emd(
        a_solve, b_solve, M, int(numItermax), return_plan
    )
    if center_dual:
        u, v = center_ot_dual(u, v, a_solve, b_solve)
    code, message = OPTIMAL, None
    if status != "converged":
        code, message = MAX_ITER_REACHED, _CAP_MESSAGE
        warnings.warn(message, UserWarning, stacklevel=3)
    log = {
        "cost": cost,
        "u": u,
        "v": v,
        "warning": message,
        "result_code": code,
        "niter": iterations,
    }
    dtype = output_dtype(M)
    if G is not None and dtype != np.float64:
        G = G.astype(dtype)
    return G, cost, log


def emd(
    a: Weights,
    b: Weights,
    M: ArrayLike,
    numItermax: int = 100000,
    log: bool = False,
    center_dual: bool = True,
    numThreads: Any = 1,
    check_marginals: bool = True,
    potentials_init: Any = None,
) -> Union[np.ndarray, Tuple[np.ndarray, Dict[str, Any]]]:
    """The exact OT plan between histograms ``a`` (n) and ``b`` (m) for the cost ``M`` (n × m):
    ``argmin_γ ⟨γ, M⟩`` s.t. ``γ 1 = a``, ``γᵀ 1 = b``, ``γ ≥ 0``. Empty or None weights are uniform.

    Returns the dense plan (in M's dtype) and, with ``log=True``, a dict with ``cost``, the duals
    ``u``, ``v``, ``warning``, ``result_code`` and ``niter``. Hitting ``numItermax`` is a warning."""
    G, _, info = _solve(a, b, M, numItermax, check_marginals, center_dual, True)
    return (G, info) if log else G


def emd2(
    a: Weights,
    b: Weights,
    M: ArrayLike,
    processes: int = 1,
    numItermax: int = 100000,
    log: bool = False,
    return_matrix: bool = False,
    center_dual: bool = True,
    numThreads: Any = 1,
    check_marginals: bool = True,
    potentials_init: Any = None,
) -> Any:
    """The optimal cost ``min_γ ⟨γ, M⟩`` of :func:`emd` (W_p^p for ``M = d^p``). ``b`` may be n × k
    (k target histograms): an array of k costs is returned. With ``log=True`` the dict of
    :func:`emd` is returned too, holding the plan ``G`` when ``return_matrix``."""
    b_arr = None if b is None else as_array(b, "b")
    if b_arr is not None and b_arr.ndim == 2:
        results = [
            emd2(
                a,
                b_arr[:, k],
                M,
                numItermax=numItermax,
                log=log,
                return_matrix=return_matrix,
                center_dual=center_dual,
                check_marginals=check_marginals,
            )
            for k in range(b_arr.shape[1])
        ]
        if log:
            return np.array([r[0] for r in results]), [r[1] for r in results]
        return np.array(results)
    G, cost, info = _solve(
        a, b_arr, M, numItermax, check_marginals, center_dual, log and return_matrix
    )
    if log:
        if return_matrix:
            info["G"] = G
        return cost, info
    return cost


_METRIC_EXPONENT = {"sqeuclidean": 2.0, "euclidean": 1.0, "cityblock": 1.0}


def _exponent(metric, p):
    if metric == "minkowski":
        return float(p)
    try:
        return _METRIC_EXPONENT[metric]
    except KeyError:
        raise _core.InputError(
            f"metric {metric!r} is not supported in 1-D; expected one of "
            "'sqeuclidean', 'minkowski', 'cityblock', 'euclidean'"
        ) from None


def _line(x, name):
    x = as_array(x, name, (1, 2))
    if x.ndim == 2:
        if x.shape[1] != 1:
            raise _core.InputError(f"{name} must hold 1-D points, got shape {x.shape}")
        x = x[:, 0]
    return x


def _solve_1d(x_a, x_b, a, b, metric, p, check_marginals):
    x_a = _line(x_a, "x_a")
    x_b = _line(x_b, "x_b")
    a = as_weights(a, "a", x_a.shape[0])
    b = as_weights(b, "b", x_b.shape[0])
    a, b = check_mass(a, b, x_a.shape[0], x_b.shape[0], check_marginals)
    rows, cols, values, cost = _core.emd_1d(x_a, x_b, a, b, _exponent(metric, p))
    return (x_a.shape[0], x_b.shape[0]), rows, cols, values, cost, output_dtype(x_a, x_b)


def _plan_1d(shape, rows, cols, values, dtype, dense):
    if dense:
        G = np.zeros(shape, dtype=dtype)
        G[rows, cols] = values
        return G
    from scipy.sparse import coo_matrix

    return coo_matrix((values.astype(dtype), (rows, cols)), shape=shape)


def emd_1d(
    x_a: ArrayLike,
    x_b: ArrayLike,
    a: Weights = None,
    b: Weights = None,
    metric: str = "sqeuclidean",
    p: float = 1.0,
    dense: bool = True,
    log: bool = False,
    check_marginals: bool = True,
) -> Any:
    """The exact OT plan between 1-D measures (the monotone coupling; optimal for convex costs
    ``|x − y|^p``, p ≥ 1). Dense by default, a SciPy COO matrix with ``dense=False``."""
    shape, rows, cols, values, cost, dtype = _solve_1d(x_a, x_b, a, b, metric, p, check_marginals)
    G = _plan_1d(shape, rows, cols, values, dtype, dense)
    return (G, {"cost": cost}) if log else G


def emd2_1d(
    x_a: ArrayLike,
    x_b: ArrayLike,
    a: Weights = None,
    b: Weights = None,
    metric: str = "sqeuclidean",
    p: float = 1.0,
    dense: bool = True,
    log: bool = False,
) -> Any:
    """The optimal cost of :func:`emd_1d` (W_p^p); with ``log=True`` also ``{"G": plan}``."""
    shape, rows, cols, values, cost, dtype = _solve_1d(x_a, x_b, a, b, metric, p, True)
    if log:
        return cost, {"G": _plan_1d(shape, rows, cols, values, dtype, dense)}
    return cost


def wasserstein_1d(
    u_values: ArrayLike,
    v_values: ArrayLike,
    u_weights: Weights = None,
    v_weights: Weights = None,
    p: float = 1,
    require_sort: bool = True,
    return_plans: bool = False,
) -> Union[float, np.ndarray]:
    """``W_p^p`` between 1-D empirical measures (POT's "OT loss"); values of shape (n, k) hold k
    independent problems (weights (n,) shared or (n, k)), giving k losses."""
    if return_plans:
        raise _core.InputError("return_plans is not supported; use emd_1d for the plan")
    u = as_array(u_values, "u_values", (1, 2))
    v = as_array(v_values, "v_values", (1, 2))
    if u.ndim == 1 and v.ndim == 1:
        return emd2_1d(u, v, u_weights, v_weights, metric="minkowski", p=p)
    u = u.reshape(u.shape[0], -1)
    v = v.reshape(v.shape[0], -1)
    if u.shape[1] != v.shape[1]:
        raise _core.InputError(f"u_values and v_values hold {u.shape[1]} and {v.shape[1]} problems")

    def column(w, k):
        if w is None:
            return None
        w = np.asarray(w)
        return w if w.ndim == 1 else w[:, k]

    return np.array(
        [
            emd2_1d(
                u[:, k],
                v[:, k],
                column(u_weights, k),
                column(v_weights, k),
                metric="minkowski",
                p=p,
            )
            for k in range(u.shape[1])
        ]
    )

"""Entropic optimal transport with POT's names and signatures (``ot.sinkhorn``, ``ot.sinkhorn2``,
``ot.bregman.sinkhorn_log``, ``ot.unbalanced.sinkhorn_unbalanced``), all solved by otto-ot's
stabilized log-domain Sinkhorn with ε-scaling.

The entropic problem is ``min_π ⟨π, M⟩ + reg · KL(π ‖ a ⊗ b)`` s.t. ``π 1 = a``, ``πᵀ 1 = b``; its
optimum is ``π = diag(u) K diag(v)`` with ``K = exp(−M / reg)``. Every POT ``method`` with this
fixed point (``sinkhorn``, ``sinkhorn_log``, ``sinkhorn_stabilized``, ``sinkhorn_epsilon_scaling``)
is accepted and gives the same plan to the tolerance ``stopThr``: POT's stopping rule, the L2 error
of the column marginal, ``‖πᵀ1 − b‖₂ < stopThr``, is checked every iteration. ``numItermax`` counts
every iteration, those of the ε-scaling stages included."""

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._arrays import Weights, as_array, as_weights, check_mass, output_dtype

METHODS = ("sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "sinkhorn_epsilon_scaling")
NOT_CONVERGED = (
    "Sinkhorn did not converge. You might want to increase the number of iterations "
    "`numItermax` or the regularization parameter `reg`."
)


def scalings(f, g, reg, a, b):
    """POT's Sinkhorn scalings from otto's potentials: ``π = diag(u) K diag(v)`` with
    ``log u = f/reg + log a`` and ``log v = g/reg + log b`` (``a``, ``b`` None: uniform)."""
    wa = np.full(f.shape[0], 1.0 / f.shape[0]) if a is None else np.asarray(a, dtype=np.float64)
    wb = np.full(g.shape[0], 1.0 / g.shape[0]) if b is None else np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        log_u = f / reg + np.log(wa)
        log_v = g / reg + np.log(wb)
        return {"log_u": log_u, "log_v": log_v, "u": np.exp(log_u), "v": np.exp(log_v)}


def _check_method(method):
    if method.lower() not in METHODS:
        raise _core.InputError(
            f"method {method!r} is not supported; expected one of {', '.join(METHODS)}"
        )


def _reg(reg, name="reg"):
    try:
        reg = float(reg)
    except (TypeError, ValueError):
        raise _core.InputError(f"{name} must be a positive number, got {reg!r}") from None
    if not (reg > 0 and np.isfinite(reg)):
        raise _core.InputError(f"{name} must be positive and finite, got {reg!r}")
    return reg


def _solve(
    a,
    b,
    M,
    reg,
    numItermax,
    stopThr,
    warn,
    return_plan,
    reg_m=None,
    eps_scaling=True,
    check_marginals=True,
):
    M = as_array(M, "M", 2)
    n, m = M.shape
    a = as_weights(a, "a", n)
    b = as_weights(b, "b", m)
    reg = _reg(reg)
    if reg_m is None:
        a, b = check_mass(a, b, n, m, check_marginals)
    G, cost, objective, f, g, (status, iterations, error) = _core.sinkhorn(
        a,
        b,
        M,
        reg,
        int(numItermax),
        float(stopThr),
        bool(eps_scaling),
        None if reg_m is None else _reg(reg_m, "reg_m"),
        return_plan,
    )
    if status == "diverged":
        raise _core.InputError(
            f"Sinkhorn diverged at reg = {reg!r}: the cost is too large for this regularization"
        )
    if status != "converged" and warn:
        warnings.warn(NOT_CONVERGED, UserWarning, stacklevel=3)
    log = {
        "niter": iterations,
        "err": [error],
        **scalings(f, g, reg, a, b),
        "status": status,
        "f": f,
        "g": g,
        "objective": objective,
    }
    dtype = output_dtype(M)
    if G is not None and dtype != np.float64:
        G = G.astype(dtype)
    return G, cost, log


def _over_histograms(solve_one, b, log):
    """POT's convention for a 2-D ``b`` (m × k): k problems, k transport costs."""
    results = [solve_one(b[:, k]) for k in range(b.shape[1])]
    losses = np.array([r[1] for r in results])
    if log:
        return losses, {
            "log_u": np.stack([r[2]["log_u"] for r in results], 1),
            "log_v": np.stack([r[2]["log_v"] for r in results], 1),
            "u": np.stack([r[2]["u"] for r in results], 1),
            "v": np.stack([r[2]["v"] for r in results], 1),
        }
    return losses


def _dispatch(a, b, M, reg, method, numItermax, stopThr, log, warn, eps_scaling, return_plan):
    """``(plan or None, cost, log)`` of one problem; for a 2-D ``b`` (m × k), POT's convention:
    ``(None, k transport costs, their log)``."""
    _check_method(method)
    b_arr = None if b is None else as_array(b, "b")
    if b_arr is not None and b_arr.ndim == 2:
        losses = _over_histograms(
            lambda bk: _solve(
                a, bk, M, reg, numItermax, stopThr, warn, False, eps_scaling=eps_scaling
            ),
            b_arr,
            log,
        )
        return (None, *losses) if log else (None, losses, None)
    return _solve(a, b_arr, M, reg, numItermax, stopThr, warn, return_plan, eps_scaling=eps_scaling)


def sinkhorn(
    a: Weights,
    b: Weights,
    M: ArrayLike,
    reg: float,
    method: str = "sinkhorn",
    numItermax: int = 1000,
    stopThr: float = 1e-9,
    verbose: bool = False,
    log: bool = False,
    warn: bool = True,
    warmstart: Any = None,
    eps_scaling: bool = True,
    **kwargs: Any,
) -> Any:
    """The entropic OT plan (n × m, in M's dtype). ``b`` of shape m × k gives k transport costs, as
    in POT. With ``log=True`` also a dict: ``niter``, ``err``, ``status``, the potentials ``f``,
    ``g`` (π = a_i b_j exp((f_i + g_j − M_ij)/reg)), POT's scalings ``u``, ``v`` and their logs,
    and the entropic ``objective``. Not converging within ``numItermax`` is a warning."""
    G, cost, info = _dispatch(
        a, b, M, reg, method, numItermax, stopThr, log, warn, eps_scaling, True
    )
    result = cost if G is None else G  # a 2-D b: the k transport costs, as POT
    return (result, info) if log else result


def sinkhorn2(
    a: Weights,
    b: Weights,
    M: ArrayLike,
    reg: float,
    method: str = "sinkhorn",
    numItermax: int = 1000,
    stopThr: float = 1e-9,
    verbose: bool = False,
    log: bool = False,
    warn: bool = True,
    warmstart: Any = None,
    eps_scaling: bool = True,
    **kwargs: Any,
) -> Any:
    """The transport cost ``⟨π, M⟩`` of the entropic plan (POT's ``sinkhorn2``: the entropy term is
    not included; it is ``log["objective"]``). The plan itself is never formed in NumPy."""
    _, cost, info = _dispatch(
        a, b, M, reg, method, numItermax, stopThr, log, warn, eps_scaling, False
    )
    return (cost, info) if log else cost


def sinkhorn_log(
    a: Weights,
    b: Weights,
    M: ArrayLike,
    reg: float,
    numItermax: int = 1000,
    stopThr: float = 1e-9,
    verbose: bool = False,
    log: bool = False,
    warn: bool = True,
    warmstart: Any = None,
    **kwargs: Any,
) -> Any:
    """:func:`sinkhorn` with ``method="sinkhorn_log"``."""
    return sinkhorn(
        a, b, M, reg, "sinkhorn_log", numItermax, stopThr, verbose, log, warn, warmstart
    )


def sinkhorn_unbalanced(
    a: Weights,
    b: Weights,
    M: ArrayLike,
    reg: float,
    reg_m: float,
    method: str = "sinkhorn",
    reg_type: str = "kl",
    numItermax: int = 1000,
    stopThr: float = 1e-6,
    verbose: bool = False,
    log: bool = False,
    **kwargs: Any,
) -> Any:
    """Unbalanced entropic OT: ``min_π ⟨π, M⟩ + reg KL(π ‖ a⊗b) + reg_m KL(π1 ‖ a) + reg_m KL(πᵀ1 ‖ b)``
    (Chizat et al. 2018); the masses of ``a`` and ``b`` may differ. Returns the plan (and the log)."""
    if reg_type != "kl":
        raise _core.InputError(
            f"reg_type {reg_type!r} is not supported; otto's entropic term is 'kl'"
        )
    if np.ndim(reg_m) != 0:
        raise _core.InputError("reg_m must be one number (the same penalty on both marginals)")
    G, _, info = _solve(a, b, M, reg, numItermax, stopThr, True, True, reg_m=reg_m)
    return (G, info) if log else G


def sinkhorn_unbalanced2(
    a: Weights,
    b: Weights,
    M: ArrayLike,
    reg: float,
    reg_m: float,
    method: str = "sinkhorn",
    reg_type: str = "kl",
    numItermax: int = 1000,
    stopThr: float = 1e-6,
    verbose: bool = False,
    log: bool = False,
    **kwargs: Any,
) -> Any:
    """The transport cost ``⟨π, M⟩`` of :func:`sinkhorn_unbalanced`'s plan."""
    if reg_type != "kl":
        raise _core.InputError(
            f"reg_type {reg_type!r} is not supported; otto's entropic term is 'kl'"
        )
    _, cost, info = _solve(a, b, M, reg, numItermax, stopThr, True, False, reg_m=reg_m)
    return (cost, info) if log else cost


def sinkhorn_divergence(
    X_s: ArrayLike,
    X_t: ArrayLike,
    reg: float,
    a: Weights = None,
    b: Weights = None,
    numItermax: int = 10000,
    stopThr: float = 1e-9,
    log: bool = False,
) -> Any:
    """The debiased Sinkhorn divergence between point clouds for the cost ‖x − y‖² (Feydy et al.
    2019): ``S = OT(α, β) − ½ OT(α, α) − ½ OT(β, β)`` where OT is the *entropic objective*
    ``⟨π, M⟩ + reg KL(π ‖ a⊗b)``. S ≥ 0, S = 0 iff α = β, and S → W2² as reg → 0. (POT's
    ``empirical_sinkhorn_divergence`` debiases the transport cost ⟨π, M⟩ instead, which has
    neither property.)"""
    X_s = as_array(X_s, "X_s", 2)
    X_t = as_array(X_t, "X_t", 2)
    a = as_weights(a, "a", X_s.shape[0])
    b = as_weights(b, "b", X_t.shape[0])
    value, xy, xx, yy, (status, iterations, error) = _core.sinkhorn_divergence(
        X_s, X_t, _reg(reg), a, b, int(numItermax), float(stopThr)
    )
    if status != "converged":
        warnings.warn(NOT_CONVERGED, UserWarning, stacklevel=2)
    if log:
        return value, {"ot_xy": xy, "ot_xx": xx, "ot_yy": yy, "niter": iterations, "err": error}
    return value

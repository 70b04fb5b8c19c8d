"""Route POT's inner solvers to otto without changing any POT code: :func:`patch` replaces four
kernels in POT's modules, so that ``ot.emd``, ``ot.emd2``, ``ot.emd_1d``, ``ot.wasserstein_1d``-free
paths, ``ot.sinkhorn(method="sinkhorn_log" | "sinkhorn_stabilized")`` and everything POT builds on
them run on otto:

- ``emd_c`` (``ot.lp``'s network simplex),
- ``emd_1d_sorted`` (``ot.lp.solver_1d``'s 1-D merge),
- ``sinkhorn_log`` (``ot.bregman``'s log-domain Sinkhorn),
- ``sinkhorn_stabilized`` (``ot.bregman``'s stabilized Sinkhorn; same problem, same otto solver),

each for NumPy float64 input only; anything else (other backends or dtypes, warm starts, several
target histograms, p < 1, reg ≤ 0) falls through to POT's own kernel. :data:`calls` counts, per kernel, the
calls otto served and those it passed on. :func:`unpatch` restores POT.

    import ot, otto_ot.pot
    otto_ot.pot.patch()
    G = ot.emd(a, b, M)        # solved by otto
"""

import warnings

import numpy as np

from . import _core
from .bregman import NOT_CONVERGED, scalings

OPTIMAL = 1
MAX_ITER_REACHED = 3

#: Per kernel: ``{"otto": calls otto solved, "pot": calls passed on to POT}``.
calls = {
    name: {"otto": 0, "pot": 0}
    for name in ("emd_c", "emd_1d_sorted", "sinkhorn_log", "sinkhorn_stabilized")
}

# (module, attribute) pairs that hold each kernel, filled by patch(); the originals, to restore.
_originals: dict = {}


def _float64_numpy(*arrays):
    return all(isinstance(x, np.ndarray) and x.dtype == np.float64 for x in arrays)


def _emd_c(original):
    def emd_c(a, b, M, max_iter, numThreads=1, alpha_init=None, beta_init=None):
        if alpha_init is not None or beta_init is not None or not _float64_numpy(a, b, M):
            calls["emd_c"]["pot"] += 1
            return original(a, b, M, max_iter, numThreads, alpha_init, beta_init)
        calls["emd_c"]["otto"] += 1
        n, m = M.shape
        a = a if len(a) else None
        b = b if len(b) else None
        G, cost, u, v, (status, _, _) = _core.emd(a, b, M, int(max_iter), True)
        code = OPTIMAL if status == "converged" else MAX_ITER_REACHED
        return G, cost, u, v, code

    return emd_c


_EXPONENT = {"sqeuclidean": 2.0, "euclidean": 1.0, "cityblock": 1.0}


def _emd_1d_sorted(original):
    def emd_1d_sorted(u_weights, v_weights, u, v, metric="sqeuclidean", p=1.0):
        exponent = float(p) if metric == "minkowski" else _EXPONENT.get(metric)
        if exponent is None or exponent < 1 or not _float64_numpy(u_weights, v_weights, u, v):
            calls["emd_1d_sorted"]["pot"] += 1
            return original(u_weights, v_weights, u, v, metric=metric, p=p)
        calls["emd_1d_sorted"]["otto"] += 1
        rows, cols, values, cost = _core.emd_1d(u, v, u_weights, v_weights, exponent)
        return values, np.stack([rows, cols], axis=1), cost

    return emd_1d_sorted


def _log_domain_usable(a, b, M, reg, warmstart, kwargs):
    """True when otto can serve a Sinkhorn kernel call: NumPy float64 costs and histograms (or
    empty ones), one target histogram, a positive finite reg, no warm start, no extra options."""
    arrays = [np.asarray(x) if isinstance(x, list) else x for x in (a, b)]
    return (
        warmstart is None
        and not kwargs
        and np.ndim(reg) == 0
        and 0 < float(reg) < np.inf
        and _float64_numpy(M)
        and all(
            isinstance(x, np.ndarray) and (x.size == 0 or x.dtype == np.float64) for x in arrays
        )
        and arrays[1].ndim == 1
    )


def _solve_log_domain(kernel, a, b, M, reg, numItermax, stopThr, warn):
    """otto's log-domain Sinkhorn for a routed kernel call: the plan, the potentials (f, g), the
    histograms (None: uniform), iterations and last error; warns as POT does if not converged."""
    calls[kernel]["otto"] += 1
    a, b = (x if x.size else None for x in (np.asarray(a), np.asarray(b)))
    G, _, _, f, g, (status, iterations, error) = _core.sinkhorn(
        a, b, M, float(reg), int(numItermax), float(stopThr), True, None, True
    )
    if status != "converged" and warn:
        warnings.warn(NOT_CONVERGED, UserWarning, stacklevel=3)
    return G, f, g, a, b, iterations, error


def _sinkhorn_log(original):
    def sinkhorn_log(
        a,
        b,
        M,
        reg,
        numItermax=1000,
        stopThr=1e-9,
        verbose=False,
        log=False,
        warn=True,
        warmstart=None,
        **kwargs,
    ):
        if not _log_domain_usable(a, b, M, reg, warmstart, kwargs):
            calls["sinkhorn_log"]["pot"] += 1
            return original(
                a,
                b,
                M,
                reg,
                numItermax=numItermax,
                stopThr=stopThr,
                verbose=verbose,
                log=log,
                warn=warn,
                warmstart=warmstart,
                **kwargs,
            )
        G, f, g, a, b, iterations, error = _solve_log_domain(
            "sinkhorn_log", a, b, M, reg, numItermax, stopThr, warn
        )
        if not log:
            return G
        return G, {"err": [error], "niter": iterations, **scalings(f, g, reg, a, b)}

    return sinkhorn_log


def _sinkhorn_stabilized(original):
    """POT's ``sinkhorn_stabilized`` (Schmitzer's absorption of the scalings into the duals) solves
    the same problem as ``sinkhorn_log``; otto serves it with the same log-domain solver (``tau``,
    the absorption threshold, has no role there) and returns POT's log keys: with
    π = exp((α_i + β_j − M_ij)/reg), ``alpha`` = f + reg·log a, ``beta`` = g + reg·log b,
    ``logu`` = α/reg, ``logv`` = β/reg, ``warmstart`` = (α, β)."""

    def sinkhorn_stabilized(
        a,
        b,
        M,
        reg,
        numItermax=1000,
        tau=1e3,
        stopThr=1e-9,
        warmstart=None,
        verbose=False,
        print_period=20,
        log=False,
        warn=True,
        **kwargs,
    ):
        if not _log_domain_usable(a, b, M, reg, warmstart, kwargs):
            calls["sinkhorn_stabilized"]["pot"] += 1
            return original(
                a,
                b,
                M,
                reg,
                numItermax=numItermax,
                tau=tau,
                stopThr=stopThr,
                warmstart=warmstart,
                verbose=verbose,
                print_period=print_period,
                log=log,
                warn=warn,
                **kwargs,
            )
        G, f, g, a, b, iterations, error = _solve_log_domain(
            "sinkhorn_stabilized", a, b, M, reg, numItermax, stopThr, warn
        )
        if not log:
            return G
        s = scalings(f, g, reg, a, b)
        alpha, beta = reg * s["log_u"], reg * s["log_v"]
        return G, {
            "err": [error],
            "n_iter": iterations,
            "logu": s["log_u"],
            "logv": s["log_v"],
            "alpha": alpha,
            "beta": beta,
            "warmstart": (alpha, beta),
        }

    return sinkhorn_stabilized


def _targets():
    """Every (module, attribute, wrapper factory) through which POT reaches the three kernels."""
    import ot
    import ot.bregman
    import ot.bregman._sinkhorn
    import ot.lp
    import ot.lp._network_simplex
    import ot.lp.solver_1d

    return [
        (ot.lp._network_simplex, "emd_c", _emd_c),
        (ot.lp, "emd_c", _emd_c),
        (ot.lp.solver_1d, "emd_1d_sorted", _emd_1d_sorted),
        (ot.bregman._sinkhorn, "sinkhorn_log", _sinkhorn_log),
        (ot.bregman, "sinkhorn_log", _sinkhorn_log),
        (ot.bregman._sinkhorn, "sinkhorn_stabilized", _sinkhorn_stabilized),
        (ot.bregman, "sinkhorn_stabilized", _sinkhorn_stabilized),
    ]


def patch():
    """Routes POT's ``emd_c``, ``emd_1d_sorted``, ``sinkhorn_log`` and ``sinkhorn_stabilized`` to
    otto (idempotent)."""
    for module, name, factory in _targets():
        if not hasattr(module, name):
            continue
        key = (module.__name__, name)
        if key not in _originals:
            _originals[key] = getattr(module, name)
            setattr(module, name, factory(_originals[key]))


def unpatch():
    """Restores POT's own kernels."""
    import importlib

    for (module_name, name), original in list(_originals.items()):
        setattr(importlib.import_module(module_name), name, original)
        del _originals[(module_name, name)]


def routed():
    """Total calls otto served, over all kernels."""
    return sum(c["otto"] for c in calls.values())

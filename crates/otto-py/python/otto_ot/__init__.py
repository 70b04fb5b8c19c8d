"""otto-ot for Python: exact and entropic optimal transport on NumPy arrays, with POT's function
names, argument order and return shapes, solved by otto's Rust solvers.

A POT user changes one line: ``import otto_ot as ot``. To keep POT and route its inner kernels to
otto instead, call :func:`otto_ot.pot.patch`. torchcfm users: :mod:`otto_ot.torchcfm`.

Inputs are float64 or float32 NumPy arrays (or array-likes), C or Fortran order; each call copies
its inputs once, solves with the GIL released on otto's thread pool (:func:`set_num_threads`) and
can be interrupted with Ctrl-C. Bad input raises :class:`InputError` (a ``ValueError``) naming the
argument; an iteration cap is a ``UserWarning``, as in POT.
"""

from . import bregman, gaussian, lp, plan, sliced  # noqa: E402  (submodules as attributes)
from ._core import (
    InputError,
    InternalError,
    __version__,
    get_num_threads,
    set_num_threads,
    sqeuclidean,
)
from .bregman import (
    sinkhorn,
    sinkhorn2,
    sinkhorn_divergence,
    sinkhorn_log,
    sinkhorn_unbalanced,
    sinkhorn_unbalanced2,
)
from .gaussian import bures_wasserstein_distance, bures_wasserstein_mapping
from .lp import emd, emd2, emd2_1d, emd_1d, wasserstein_1d
from .plan import sample_plan
from .sliced import sliced_wasserstein_distance, w2


def dist(x1, x2=None, metric="sqeuclidean"):
    """The cost matrix between the rows of ``x1`` and ``x2`` (default ``x1``); only ``sqeuclidean``."""
    from ._arrays import as_array

    if metric != "sqeuclidean":
        raise InputError(f"metric {metric!r} is not supported; otto computes 'sqeuclidean'")
    x1 = as_array(x1, "x1", 2)
    x2 = x1 if x2 is None else as_array(x2, "x2", 2)
    return sqeuclidean(x1, x2)


__all__ = [
    "InputError",
    "InternalError",
    "__version__",
    "get_num_threads",
    "set_num_threads",
    "emd",
    "emd2",
    "emd_1d",
    "emd2_1d",
    "wasserstein_1d",
    "sinkhorn",
    "sinkhorn2",
    "sinkhorn_log",
    "sinkhorn_unbalanced",
    "sinkhorn_unbalanced2",
    "sinkhorn_divergence",
    "bures_wasserstein_distance",
    "bures_wasserstein_mapping",
    "sliced_wasserstein_distance",
    "w2",
    "sample_plan",
    "dist",
    "sqeuclidean",
    "bregman",
    "gaussian",
    "lp",
    "plan",
    "sliced",
]

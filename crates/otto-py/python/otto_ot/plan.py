"""Index pairs drawn from a transport plan."""

from typing import Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._arrays import as_array, as_seed


def sample_plan(
    pi: ArrayLike, n: int, replace: bool = True, seed: Optional[int] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` index pairs ``(i, j)`` drawn from the plan ``pi``: i.i.d. with probability
    ``pi_ij / Σ pi`` when ``replace`` (torchcfm's ``sample_plan``), or, for a plan that is a
    permutation up to scale (exact OT between uniform n-point clouds), the permutation itself
    (every row and every column exactly once; ``n`` must be the number of rows). Returns two int64
    arrays ``(i, j)``."""
    pi = as_array(pi, "pi", 2)
    return _core.sample_plan(pi, int(n), bool(replace), as_seed(seed))

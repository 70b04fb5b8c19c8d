"""A drop-in for torchcfm's ``OTPlanSampler`` (torchcfm 1.0.x) whose couplings are solved by otto.

    # from torchcfm.optimal_transport import OTPlanSampler
    from otto_ot.torchcfm import OTPlanSampler

Same constructor, methods and semantics: ``get_map`` uses torchcfm's cost ``torch.cdist(x0, x1) ** 2``
on the inputs' device (so its exact plan is POT's, entry for entry), the plan is computed on the
CPU, pairs are drawn with NumPy's global random state (so ``np.random.seed`` reproduces them, as
with torchcfm) and returned as tensors on the inputs' device and dtype. Differences, on purpose:

- ``sample_plan(x0, x1)`` with the exact plan never forms the dense n × n plan, nor the cost matrix
  in Python: only the points go to the CPU, otto builds the squared distances in float64 from
  coordinate differences and draws the pairs from the plan's ≤ 2n − 1 nonzeros (the same draws as
  ``sample_map`` on that plan with the same seed). ``torch.cdist`` computes
  ‖x‖² + ‖y‖² − 2⟨x, y⟩ in the inputs' precision, whose cancellation error (~1e-5 on float32
  minibatches of scale 5) changes the optimal pairing of 6–14 in 400 torchcfm 8gaussians → moons
  minibatches of 512; the pairing here is optimal for the exact cost. ``normalize_cost`` changes no
  exact plan (the optimum of C and of C / max C is the same). ``replace=False`` returns the optimal
  permutation itself — every x0 and every x1 exactly once — instead of torchcfm's weighted draw
  without replacement over the flattened plan, which for a permutation plan gives the same pairs
  in a shuffled order.
- A plan that is numerically zero (Sinkhorn underflow at a tiny ``reg``) is an error naming a
  working ``reg``; torchcfm silently reverts to the independent (uniform) plan.
- ``method="partial"`` is not supported.
"""

import warnings

import numpy as np
import torch

from . import _core
from .bregman import sinkhorn, sinkhorn_unbalanced

METHODS = ("exact", "sinkhorn", "unbalanced")


def _seed():
    """A seed for otto's generator, drawn from NumPy's global random state."""
    return int(np.random.randint(0, 2**63 - 1, dtype=np.int64))


def _flat(x):
    return x.reshape(x.shape[0], -1) if x.dim() > 2 else x


def _points(x):
    """The rows of ``x`` (flattened) as a float64 NumPy array on the host."""
    return _flat(x).detach().to("cpu", torch.float64).numpy()


class OTPlanSampler:
    """Pairs minibatches by an OT plan for the squared Euclidean cost (torchcfm's interface)."""

    def __init__(self, method, reg=0.05, reg_m=1.0, normalize_cost=False, num_threads=1, warn=True):
        if method not in METHODS:
            raise ValueError(f"Unknown method: {method!r}; otto supports {', '.join(METHODS)}")
        self.method = method
        self.reg = reg
        self.reg_m = reg_m
        self.normalize_cost = normalize_cost
        self.warn = warn

    def _cost(self, x0, x1):
        M = torch.cdist(_flat(x0), _flat(x1)) ** 2
        if self.normalize_cost:
            M = M / M.max()
        return M.detach().cpu().numpy()

    def _plan(self, M):
        if self.method == "exact":
            return _core.emd(None, None, M, 10**7, True)[0]
        with warnings.catch_warnings():
            if not self.warn:
                warnings.simplefilter("ignore")
            if self.method == "sinkhorn":
                pi = sinkhorn(None, None, M, self.reg)
            else:
                pi = sinkhorn_unbalanced(None, None, M, self.reg, self.reg_m)
        if not (np.all(np.isfinite(pi)) and pi.sum() > 1e-8):
            raise _core.InputError(
                f"the {self.method} plan is numerically zero at reg = {self.reg}: the minibatch's "
                f"median squared distance is {np.median(M):.3e}; use reg ≥ {0.01 * np.median(M):.2e}"
            )
        return pi

    def get_map(self, x0, x1):
        """The OT plan between the minibatches, a NumPy array (n0 × n1)."""
        return self._plan(self._cost(x0, x1))

    def sample_map(self, pi, batch_size, replace=True):
        """``batch_size`` index pairs ``(i, j)`` drawn from the plan ``pi``."""
        pi = np.asarray(pi, dtype=np.float64)
        if replace:
            return _core.sample_plan(pi, int(batch_size), True, _seed())
        try:
            return _core.sample_plan(pi, int(batch_size), False, 0)
        except _core.InputError:
            # Not a permutation: torchcfm's weighted draw without replacement.
            p = pi.ravel() / pi.sum()
            choices = np.random.choice(p.size, p=p, size=batch_size, replace=False)
            return np.divmod(choices, pi.shape[1])

    def _indices(self, x0, x1, replace):
        if self.method == "exact":
            i, j = _core.exact_pairs_sqeuclidean(
                _points(x0), _points(x1), x0.shape[0], bool(replace), _seed()
            )
        else:
            i, j = self.sample_map(self._plan(self._cost(x0, x1)), x0.shape[0], replace=replace)
        device = x0.device
        return torch.as_tensor(i, device=device), torch.as_tensor(j, device=x1.device)

    def sample_plan(self, x0, x1, replace=True):
        """Pairs ``(x0[i], x1[j])`` drawn from the plan between the minibatches."""
        i, j = self._indices(x0, x1, replace)
        return x0[i], x1[j]

    def sample_plan_with_labels(self, x0, x1, y0=None, y1=None, replace=True):
        """Like :meth:`sample_plan`, with the labels carried along: ``(x0[i], x1[j], y0[i], y1[j])``."""
        i, j = self._indices(x0, x1, replace)
        return (
            x0[i],
            x1[j],
            y0[i.to(y0.device)] if y0 is not None else None,
            y1[j.to(y1.device)] if y1 is not None else None,
        )

    def sample_trajectory(self, X):
        """Trajectories through populations ``X[:, t]`` (shape (bs, times, *dim)), each step's
        successor drawn from the row of the plan between consecutive times."""
        times = X.shape[1]
        indices = [np.arange(X.shape[0])]
        for t in range(times - 1):
            pi = self.get_map(X[:, t], X[:, t + 1])
            rows = pi[indices[-1]]
            cumulative = np.cumsum(rows / rows.sum(1, keepdims=True), axis=1)
            u = np.random.random_sample((rows.shape[0], 1))
            indices.append(np.minimum((cumulative < u).sum(1), pi.shape[1] - 1))
        steps = [X[:, t][torch.as_tensor(indices[t], device=X.device)] for t in range(times)]
        return torch.stack(steps, dim=1)


def wasserstein(x0, x1, method=None, reg=0.05, power=2, **kwargs):
    """torchcfm's ``wasserstein``: W1 or W2 between minibatches (exact by default, or entropic)."""
    if power not in (1, 2):
        raise ValueError("power must be 1 or 2")
    if method not in (None, "exact", "sinkhorn"):
        raise ValueError(f"Unknown method: {method}")
    M = torch.cdist(_flat(x0), _flat(x1))
    if power == 2:
        M = M**2
    M = M.detach().cpu().numpy()
    if method == "sinkhorn":
        from .bregman import sinkhorn2

        value = sinkhorn2(None, None, M, reg, numItermax=10**7)
    else:
        value = _core.emd(None, None, M, 10**7, False)[1]
    return float(np.sqrt(value)) if power == 2 else float(value)

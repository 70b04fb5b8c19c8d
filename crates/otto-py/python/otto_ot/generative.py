"""Trained otto runs from Python: load a run directory written by ``otto train`` (``config.toml`` +
``model.safetensors``), sample it and compute log-likelihoods on NumPy arrays.

Imported only when used (``import otto_ot.generative``); ``import otto_ot`` does not load it.

    from otto_ot.generative import Run
    run = Run("runs/demo")
    x = run.sample(10_000)                      # probability-flow ODE from the run's prior
    logp = run.log_likelihood(x[:1000])         # nats per point, through the same ODE backward
    otto_ot.w2(x, data)                          # exact W2 against held-out data

Flow-matching, bridge and diffusion runs are vector fields: sampling integrates their ODE with one
of otto's solvers (euler, midpoint, heun, rk4, dopri5), and diffusion runs (an affine Gaussian
path) also take the diffusion samplers of ``otto sample --solver`` (ddim, dpmpp-2m, edm-heun, …)
on their default grids or on given noise levels:

    x = Run("runs/ddpm").sample(10_000, steps=20, solver="dpmpp-2m")

Drifting runs are one-step generators: ``sample`` is one network evaluation and they have no
likelihood.
"""

from typing import Optional

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._arrays import as_array

SOLVERS = ("euler", "midpoint", "heun", "rk4", "dopri5")
"""The ODE solvers (every field run)."""

SAMPLERS = (
    "ddim",
    "dpmpp-1",
    "dpmpp-2m",
    "dpmpp-3m",
    "dpmpp-2s",
    "dpmpp-2m-sde",
    "edm-heun",
    "edm-euler",
    "em",
    "pc",
    "unipc",
)
"""The diffusion samplers (runs on an affine Gaussian path: ddpm, score-ve, edm, vp-v, …)."""


class Run:
    """A trained run: ``Run(path, ema=False)`` (``ema``: the EMA weights, ``ema.safetensors``)."""

    def __init__(self, path: str, ema: bool = False) -> None:
        self._run = _core.Run(str(path), ema)
        self.path = str(path)

    @property
    def method(self) -> str:
        """The training method (``ot-cfm``, ``sf2m``, ``ddpm``, ``drifting``, …)."""
        return self._run.method

    @property
    def dim(self) -> int:
        """The data dimension."""
        return self._run.dim

    @property
    def config_toml(self) -> str:
        """The run's ``config.toml``."""
        return self._run.config_toml

    def sample(
        self,
        n: int = 10_000,
        steps: int = 100,
        solver: str = "euler",
        seed: int = 1,
        x0: Optional[ArrayLike] = None,
        levels: Optional[ArrayLike] = None,
        eta: float = 0.0,
        grid: Optional[str] = None,
    ) -> np.ndarray:
        """``n`` samples (n × dim, float64) from ``n`` prior points drawn with ``seed``, or from
        the given start points ``x0`` (then ``n`` is ignored). ``solver``: an ODE solver of
        :data:`SOLVERS` (``steps`` steps in t), or for a diffusion run a sampler of
        :data:`SAMPLERS` (``steps`` noise levels on ``grid`` — ``uniform``, ``logsnr`` or
        ``karras[:RHO]``, by default the sampler's own — ending at σ = 0; or the given ``levels``,
        a (K+1) × 3 array of rows (t, α, σ) from noise to data; DDIM's ``eta``). The same seed
        gives the same points as ``otto sample --seed``."""
        start = None if x0 is None else as_array(x0, "x0", 2)
        if start is not None:
            n = start.shape[0]
        rows = None if levels is None else as_array(levels, "levels", 2)
        return self._run.sample(
            int(n), int(steps), solver, int(seed), start, rows, float(eta), grid
        )

    def log_likelihood(
        self,
        x: ArrayLike,
        steps: int = 100,
        solver: str = "rk4",
        divergence: str = "exact",
        probes: int = 1,
        seed: int = 0,
    ) -> np.ndarray:
        """``log p(x)`` in nats for every row of ``x``, by integrating the probability-flow ODE
        backward to the source (whose density must be known: a Gaussian or Gaussian-mixture
        source) with the divergence ``exact`` or ``hutchinson`` (``probes`` vectors from
        ``seed``). As ``otto likelihood --run``."""
        return self._run.log_likelihood(
            as_array(x, "x", 2), int(steps), solver, divergence, int(probes), int(seed)
        )

    def nll(self, x: ArrayLike, **options: object) -> float:
        """The mean negative log-likelihood of ``x`` in nats (options as :meth:`log_likelihood`)."""
        return float(-np.mean(self.log_likelihood(x, **options)))  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Run({self.path!r}, method={self.method!r}, dim={self.dim})"

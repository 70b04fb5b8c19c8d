"""Types of the compiled module ``otto_ot._core`` (see the Rust sources in crates/otto-py/src)."""

from typing import Optional, Tuple

import numpy as np
import numpy.typing as npt

Float = npt.NDArray[np.floating]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Report = Tuple[str, int, float]  # (status, iterations, final error)

__version__: str

class InputError(ValueError): ...
class InternalError(RuntimeError): ...

def emd(
    a: Optional[Float], b: Optional[Float], m: Float, max_iter: int, return_plan: bool
) -> Tuple[Optional[F64], float, F64, F64, Report]: ...
def sinkhorn(
    a: Optional[Float],
    b: Optional[Float],
    m: Float,
    reg: float,
    max_iter: int,
    tol: float,
    eps_scaling: bool,
    rho: Optional[float],
    return_plan: bool,
) -> Tuple[Optional[F64], float, float, F64, F64, Report]: ...
def sinkhorn_divergence(
    x: Float,
    y: Float,
    reg: float,
    a: Optional[Float],
    b: Optional[Float],
    max_iter: int,
    tol: float,
) -> Tuple[float, float, float, float, Report]: ...
def sqeuclidean(x: Float, y: Float) -> F64: ...
def emd_1d(
    x: Float, y: Float, a: Optional[Float], b: Optional[Float], p: float
) -> Tuple[I64, I64, F64, float]: ...
def sliced_w2(
    x: Float, y: Float, a: Optional[Float], b: Optional[Float], n_projections: int, seed: int
) -> float: ...
def w2(x: Float, y: Float, a: Optional[Float], b: Optional[Float]) -> float: ...
def bures_wasserstein_distance(ms: Float, mt: Float, cs: Float, ct: Float) -> float: ...
def bures_wasserstein_mapping(ms: Float, mt: Float, cs: Float, ct: Float) -> Tuple[F64, F64]: ...
def gaussian_mccann_interpolation(
    ms: Float, mt: Float, cs: Float, ct: Float, t: float
) -> Tuple[F64, F64]: ...
def gaussian_entropic_plan(
    ms: Float, mt: Float, cs: Float, ct: Float, sigma: float
) -> Tuple[F64, F64]: ...
def gaussian_bridge_marginal(
    ms: Float, mt: Float, cs: Float, ct: Float, sigma: float, t: float
) -> Tuple[F64, F64]: ...
def sample_plan(pi: Float, k: int, replace: bool, seed: int) -> Tuple[I64, I64]: ...
def exact_pairs(m: Float, k: int, replace: bool, seed: int) -> Tuple[I64, I64]: ...
def exact_pairs_sqeuclidean(
    x0: Float, x1: Float, k: int, replace: bool, seed: int
) -> Tuple[I64, I64]: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def _panic_in_worker(here: bool = ...) -> None: ...

class Run:
    def __init__(self, path: str, ema: bool = ...) -> None: ...
    @property
    def method(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def config_toml(self) -> str: ...
    def sample(
        self,
        n: int,
        steps: int,
        solver: str,
        seed: int,
        x0: Optional[Float] = ...,
        levels: Optional[Float] = ...,
        eta: float = ...,
        grid: Optional[str] = ...,
    ) -> F64: ...
    def log_likelihood(
        self, x: Float, steps: int, solver: str, divergence: str, probes: int, seed: int
    ) -> F64: ...

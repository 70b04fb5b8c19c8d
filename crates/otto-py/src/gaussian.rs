//! The Gaussian closed forms of `otto_ot::gaussian` on NumPy arrays: Bures–Wasserstein distance,
//! the OT map, McCann's interpolation and the entropic plan / Schrödinger bridge.

use numpy::{PyArray1, PyArray2};
use otto_ot::gaussian::{self, Gaussian, GaussianBridge, GaussianMap, McCannGeodesic};
use pyo3::prelude::*;

use crate::arrays::{matrix, to_numpy1, to_numpy2, vector};
use crate::errors::input;

/// A Gaussian's `(mean, covariance)`.
type Pair<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>);
/// An affine map's `(A, b)`.
type Affine<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>);

fn gaussians(
    ms: &Bound<'_, PyAny>,
    mt: &Bound<'_, PyAny>,
    cs: &Bound<'_, PyAny>,
    ct: &Bound<'_, PyAny>,
) -> PyResult<(Gaussian, Gaussian)> {
    let g0 = Gaussian::new(&vector(ms, "ms")?, &matrix(cs, "Cs")?).map_err(input)?;
    let g1 = Gaussian::new(&vector(mt, "mt")?, &matrix(ct, "Ct")?).map_err(input)?;
    Ok((g0, g1))
}

/// `W2(N(ms, Cs), N(mt, Ct))² = ‖ms − mt‖² + B²(Cs, Ct)`, returned as the distance.
#[pyfunction]
#[pyo3(signature = (ms, mt, cs, ct))]
pub fn bures_wasserstein_distance(
    ms: Bound<'_, PyAny>,
    mt: Bound<'_, PyAny>,
    cs: Bound<'_, PyAny>,
    ct: Bound<'_, PyAny>,
) -> PyResult<f64> {
    let (g0, g1) = gaussians(&ms, &mt, &cs, &ct)?;
    gaussian::w2(&g0, &g1).map_err(input)
}

/// The OT map `x ↦ A x + b` from `N(ms, Cs)` to `N(mt, Ct)`: returns `(A, b)` (A symmetric).
#[pyfunction]
#[pyo3(signature = (ms, mt, cs, ct))]
pub fn bures_wasserstein_mapping<'py>(
    py: Python<'py>,
    ms: Bound<'py, PyAny>,
    mt: Bound<'py, PyAny>,
    cs: Bound<'py, PyAny>,
    ct: Bound<'py, PyAny>,
) -> PyResult<Affine<'py>> {
    let (g0, g1) = gaussians(&ms, &mt, &cs, &ct)?;
    let map = GaussianMap::new(&g0, &g1).map_err(input)?;
    // b = T(0) = m1 − A m0.
    let shift = map.apply(&vec![0.0; g0.dim()]);
    Ok((to_numpy2(py, map.linear()), to_numpy1(py, shift)))
}

/// McCann's interpolation (the W2 geodesic) between the Gaussians at time `t`: `(mean, cov)`.
#[pyfunction]
#[pyo3(signature = (ms, mt, cs, ct, t))]
pub fn gaussian_mccann_interpolation<'py>(
    py: Python<'py>,
    ms: Bound<'py, PyAny>,
    mt: Bound<'py, PyAny>,
    cs: Bound<'py, PyAny>,
    ct: Bound<'py, PyAny>,
    t: f64,
) -> PyResult<Pair<'py>> {
    let (g0, g1) = gaussians(&ms, &mt, &cs, &ct)?;
    let geodesic = McCannGeodesic::new(&g0, &g1).map_err(input)?;
    Ok((
        to_numpy1(py, geodesic.mean(t)),
        to_numpy2(py, geodesic.cov(t)),
    ))
}

/// The entropic OT plan between the Gaussians for the cost ‖x − y‖² at ε = 2σ² (the static
/// Schrödinger bridge with reference σW): the joint Gaussian of `(x0, x1)`, `(mean, cov)` with
/// `mean = [ms, mt]` and `cov = [[Cs, C], [Cᵀ, Ct]]`.
#[pyfunction]
#[pyo3(signature = (ms, mt, cs, ct, sigma))]
pub fn gaussian_entropic_plan<'py>(
    py: Python<'py>,
    ms: Bound<'py, PyAny>,
    mt: Bound<'py, PyAny>,
    cs: Bound<'py, PyAny>,
    ct: Bound<'py, PyAny>,
    sigma: f64,
) -> PyResult<Pair<'py>> {
    let (g0, g1) = gaussians(&ms, &mt, &cs, &ct)?;
    let bridge = GaussianBridge::new(&g0, &g1, sigma).map_err(input)?;
    let mean = [g0.mean(), g1.mean()].concat();
    Ok((to_numpy1(py, mean), to_numpy2(py, bridge.plan_covariance())))
}

/// The Schrödinger bridge's marginal at time `t`: `(μ_t, Σ_t)` with
/// `Σ_t = (1−t)² Cs + t² Ct + t(1−t)(C + Cᵀ) + σ² t(1−t) I`.
#[pyfunction]
#[pyo3(signature = (ms, mt, cs, ct, sigma, t))]
pub fn gaussian_bridge_marginal<'py>(
    py: Python<'py>,
    ms: Bound<'py, PyAny>,
    mt: Bound<'py, PyAny>,
    cs: Bound<'py, PyAny>,
    ct: Bound<'py, PyAny>,
    sigma: f64,
    t: f64,
) -> PyResult<Pair<'py>> {
    let (g0, g1) = gaussians(&ms, &mt, &cs, &ct)?;
    let bridge = GaussianBridge::new(&g0, &g1, sigma).map_err(input)?;
    Ok((to_numpy1(py, bridge.mean(t)), to_numpy2(py, bridge.cov(t))))
}

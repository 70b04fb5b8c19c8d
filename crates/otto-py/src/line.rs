//! OT on the line, sliced W2 and exact W2 between point clouds.

use numpy::{IntoPyArray, PyArray1};
use otto_ot::sliced::SlicedW2;
use otto_ot::{one_d, wasserstein};
use pyo3::prelude::*;

use crate::arrays::{clouds, vector, weights};
use crate::errors::input;
use crate::runtime::run;

/// The monotone (optimal) coupling of `(x, a)` and `(y, b)` on the line for `|x − y|^p`, `p ≥ 1`.
/// Returns its nonzeros `(rows, cols, values)` in the original indices and the cost `W_p^p`.
#[pyfunction]
#[pyo3(signature = (x, y, a, b, p))]
#[allow(clippy::type_complexity)]
pub fn emd_1d<'py>(
    py: Python<'py>,
    x: Bound<'py, PyAny>,
    y: Bound<'py, PyAny>,
    a: Option<Bound<'py, PyAny>>,
    b: Option<Bound<'py, PyAny>>,
    p: f64,
) -> PyResult<(
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    f64,
)> {
    let x = vector(&x, "x_a")?;
    let y = vector(&y, "x_b")?;
    let a = weights(a.as_ref(), "a", x.len())?;
    let b = weights(b.as_ref(), "b", y.len())?;
    let sol = run(py, move |_| one_d::solve(&x, &a, &y, &b, p).map_err(input))?;
    let k = sol.plan.entries.len();
    let (mut rows, mut cols, mut values) = (
        Vec::with_capacity(k),
        Vec::with_capacity(k),
        Vec::with_capacity(k),
    );
    for (i, j, v) in sol.plan.entries {
        rows.push(i as i64);
        cols.push(j as i64);
        values.push(v);
    }
    Ok((
        rows.into_pyarray(py),
        cols.into_pyarray(py),
        values.into_pyarray(py),
        sol.cost,
    ))
}

/// The sliced W2 distance `(E_θ W2²(θ#α, θ#β))^{1/2}` over `n_projections` uniform directions
/// drawn from `seed`.
#[pyfunction]
#[pyo3(signature = (x, y, a, b, n_projections, seed))]
pub fn sliced_w2<'py>(
    py: Python<'py>,
    x: Bound<'py, PyAny>,
    y: Bound<'py, PyAny>,
    a: Option<Bound<'py, PyAny>>,
    b: Option<Bound<'py, PyAny>>,
    n_projections: usize,
    seed: u64,
) -> PyResult<f64> {
    let (x, a, y, b) = clouds((&x, &y), (a.as_ref(), b.as_ref()), ("X_s", "X_t"))?;
    run(py, move |_| {
        SlicedW2::default()
            .projections(n_projections)
            .seed(seed)
            .distance(&x, &a, &y, &b)
            .map_err(input)
    })
}

/// The exact W2 distance between weighted point clouds (weights normalized to unit mass).
#[pyfunction]
#[pyo3(signature = (x, y, a, b))]
pub fn w2<'py>(
    py: Python<'py>,
    x: Bound<'py, PyAny>,
    y: Bound<'py, PyAny>,
    a: Option<Bound<'py, PyAny>>,
    b: Option<Bound<'py, PyAny>>,
) -> PyResult<f64> {
    let (x, a, y, b) = clouds((&x, &y), (a.as_ref(), b.as_ref()), ("x", "y"))?;
    run(py, move |_| {
        wasserstein::w2_exact(&x, &a, &y, &b).map_err(input)
    })
}

//! Exact and entropic OT on NumPy inputs: thin wrappers over `otto_ot::exact` and
//! `otto_ot::entropic` that copy the inputs once, solve off the GIL and hand back NumPy arrays.
//! POT-compatible argument handling (defaults, `log` dicts, warnings) lives in the Python layer.

use numpy::{PyArray1, PyArray2};
use otto_ot::entropic::{sinkhorn_divergence_points, Sinkhorn};
use otto_ot::exact::{ExactSolution, NetworkSimplex};
use otto_ot::{Matrix, Status};
use pyo3::prelude::*;

use crate::arrays::{clouds, matrix, problem, to_numpy1, to_numpy2};
use crate::errors::input;
use crate::runtime::{run, run_here};

/// How a solver stopped, for Python: (status name, iterations, final error).
type Report = (&'static str, usize, f64);

fn report(status: Status) -> Report {
    (status.name(), status.iterations(), status.error())
}

/// Exact OT by the network simplex. Returns `(plan or None, cost, u, v, (status, iterations,
/// error))`; the dense plan is built only when `return_plan`.
#[pyfunction]
#[pyo3(signature = (a, b, m, max_iter, return_plan))]
#[allow(clippy::type_complexity)]
pub fn emd<'py>(
    py: Python<'py>,
    a: Option<Bound<'py, PyAny>>,
    b: Option<Bound<'py, PyAny>>,
    m: Bound<'py, PyAny>,
    max_iter: usize,
    return_plan: bool,
) -> PyResult<(
    Option<Bound<'py, PyArray2<f64>>>,
    f64,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Report,
)> {
    let (a, b, cost) = problem(a.as_ref(), b.as_ref(), &m)?;
    let sol = solve_exact(py, a, b, cost, max_iter)?;
    let plan = return_plan.then(|| py.detach(|| sol.plan.to_dense()));
    Ok((
        plan.map(|p| to_numpy2(py, p)),
        sol.cost,
        to_numpy1(py, sol.u),
        to_numpy1(py, sol.v),
        report(sol.status),
    ))
}

/// Cost matrices up to this many entries are solved on the calling thread first
/// ([`run_here`]), within [`HERE_PIVOTS_PER_NODE`] pivots per node: there the network simplex
/// runs its block search over all arcs, on one thread, in a few milliseconds.
pub(crate) const HERE_MAX_ENTRIES: usize = 512 * 512;

/// The calling thread's pivot budget per node (the network simplex's own first try at these
/// sizes; uniform 2-D clouds need 9–13). A problem that needs more (a degenerate cost such as
/// `C_ij = i·j`) is solved again on otto's pool, interruptible, by the full solver.
const HERE_PIVOTS_PER_NODE: usize = 16;

/// Exact OT by the network simplex within `max_iter` pivots: small problems on the calling
/// thread, the others — and small ones past the calling thread's budget — on otto's pool.
pub(crate) fn solve_exact(
    py: Python<'_>,
    a: Vec<f64>,
    b: Vec<f64>,
    cost: Matrix,
    max_iter: usize,
) -> PyResult<ExactSolution> {
    let (n, m) = cost.shape();
    let budget = HERE_PIVOTS_PER_NODE.saturating_mul(n + m);
    if n * m <= HERE_MAX_ENTRIES {
        let quick = NetworkSimplex::default().max_iter(max_iter.min(budget));
        let solution = run_here(py, || quick.solve(&a, &b, &cost).map_err(input))?;
        // A capped run within the caller's own `max_iter` is the answer the pool would give.
        if solution.status.is_converged() || max_iter <= budget {
            return Ok(solution);
        }
    }
    run(py, move |cancel| {
        NetworkSimplex::default()
            .max_iter(max_iter)
            .solve_cancellable(&a, &b, &cost, cancel)
            .map_err(input)
    })
}

/// The Sinkhorn solver for the options given from Python.
fn sinkhorn_solver(
    reg: f64,
    max_iter: usize,
    tol: f64,
    eps_scaling: bool,
    rho: Option<f64>,
) -> Sinkhorn {
    let solver = Sinkhorn::new(reg)
        .max_iter(max_iter)
        .tolerance(tol)
        .eps_scaling(eps_scaling);
    match rho {
        Some(rho) => solver.unbalanced(rho),
        None => solver,
    }
}

/// Entropic OT by log-domain Sinkhorn (stabilized, optional ε-scaling, optional unbalanced
/// penalty ρ). Returns `(plan or None, transport cost ⟨π, M⟩, entropic objective, f, g, (status,
/// iterations, error))`.
#[pyfunction]
#[pyo3(signature = (a, b, m, reg, max_iter, tol, eps_scaling, rho, return_plan))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn sinkhorn<'py>(
    py: Python<'py>,
    a: Option<Bound<'py, PyAny>>,
    b: Option<Bound<'py, PyAny>>,
    m: Bound<'py, PyAny>,
    reg: f64,
    max_iter: usize,
    tol: f64,
    eps_scaling: bool,
    rho: Option<f64>,
    return_plan: bool,
) -> PyResult<(
    Option<Bound<'py, PyArray2<f64>>>,
    f64,
    f64,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Report,
)> {
    let (a, b, cost) = problem(a.as_ref(), b.as_ref(), &m)?;
    let solver = sinkhorn_solver(reg, max_iter, tol, eps_scaling, rho);
    solver.validate().map_err(input)?;
    let sol = run(py, move |cancel| {
        solver
            .solve_cancellable(&a, &b, &cost, cancel)
            .map_err(input)
    })?;
    Ok((
        return_plan.then(|| to_numpy2(py, sol.plan)),
        sol.transport_cost,
        sol.objective,
        to_numpy1(py, sol.f),
        to_numpy1(py, sol.g),
        report(sol.status),
    ))
}

/// The debiased Sinkhorn divergence between point clouds (squared-Euclidean cost, Feydy et al.
/// 2019): `S = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β)` with `OT_ε` the entropic objective.
/// Returns `(S, OT_ε(α, β), OT_ε(α, α), OT_ε(β, β), (status, iterations, error))`.
#[pyfunction]
#[pyo3(signature = (x, y, reg, a, b, max_iter, tol))]
#[allow(clippy::too_many_arguments)]
pub fn sinkhorn_divergence<'py>(
    py: Python<'py>,
    x: Bound<'py, PyAny>,
    y: Bound<'py, PyAny>,
    reg: f64,
    a: Option<Bound<'py, PyAny>>,
    b: Option<Bound<'py, PyAny>>,
    max_iter: usize,
    tol: f64,
) -> PyResult<(f64, f64, f64, f64, Report)> {
    let (x, a, y, b) = clouds((&x, &y), (a.as_ref(), b.as_ref()), ("X_s", "X_t"))?;
    let solver = sinkhorn_solver(reg, max_iter, tol, true, None);
    solver.validate().map_err(input)?;
    let d = run(py, move |_| {
        sinkhorn_divergence_points(&x, &a, &y, &b, &solver).map_err(input)
    })?;
    Ok((d.value, d.ot_xy, d.ot_xx, d.ot_yy, report(d.status)))
}

/// The squared-Euclidean cost matrix `‖x_i − y_j‖²`.
#[pyfunction]
pub fn sqeuclidean<'py>(
    py: Python<'py>,
    x: Bound<'py, PyAny>,
    y: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let x = matrix(&x, "x")?;
    let y = matrix(&y, "y")?;
    let c: Matrix = run(py, move |_| {
        otto_ot::squared_euclidean(&x, &y).map_err(input)
    })?;
    Ok(to_numpy2(py, c))
}

//! Index pairs drawn from a transport plan: with replacement (i.i.d. with probability `π_ij / Σπ`,
//! torchcfm's semantics) or, for a plan that is a permutation up to scale, the permutation itself.

use numpy::{IntoPyArray, PyArray1};
use otto_ot::exact::NetworkSimplex;
use otto_ot::marginal::uniform;
use otto_ot::plan::{sample_pairs_dense, SparsePlan};
use otto_ot::{squared_euclidean, Matrix, OtError};
use pyo3::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::arrays::matrix;
use crate::errors::{input, InputError};
use crate::runtime::{run, run_here};
use crate::solvers::{solve_exact, HERE_MAX_ENTRIES};

type Indices<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>);

/// `k` index pairs `(i, j)` drawn from the plan `pi`; `replace = false` needs a plan that is a
/// permutation up to scale (then every row and column appears once, `k = n`).
#[pyfunction]
#[pyo3(signature = (pi, k, replace, seed))]
pub fn sample_plan<'py>(
    py: Python<'py>,
    pi: Bound<'py, PyAny>,
    k: usize,
    replace: bool,
    seed: u64,
) -> PyResult<Indices<'py>> {
    let plan = matrix(&pi, "pi")?;
    let pairs = run(py, move |_| {
        if replace {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            return sample_pairs_dense(&plan, k, &mut rng).map_err(input);
        }
        let (rows, cols) = plan.shape();
        let entries = (0..rows)
            .flat_map(|i| plan.row(i).iter().enumerate().map(move |(j, &v)| (i, j, v)))
            .filter(|e| e.2 > 0.0)
            .collect();
        permutation_pairs(
            &SparsePlan {
                rows,
                cols,
                entries,
            },
            k,
        )
    })?;
    Ok(indices(py, pairs))
}

/// `k` index pairs drawn from the exact OT plan between uniform weights for the cost `m` (n × m):
/// the plan is never densified. With replacement the draws are those [`sample_plan`] makes from
/// the dense plan with the same seed (the nonzeros are taken in row-major order, as there);
/// without, the plan's permutation.
#[pyfunction]
#[pyo3(signature = (m, k, replace, seed))]
pub fn exact_pairs<'py>(
    py: Python<'py>,
    m: Bound<'py, PyAny>,
    k: usize,
    replace: bool,
    seed: u64,
) -> PyResult<Indices<'py>> {
    let cost = matrix(&m, "M")?;
    let pairs = pairs_of_exact_plan(py, cost, k, replace, seed)?;
    Ok(indices(py, pairs))
}

/// [`exact_pairs`] for the squared Euclidean cost `‖x0_i − x1_j‖²` between the rows of `x0` and
/// `x1`, computed by otto in `f64` (by differences: no cancellation) — no cost matrix crosses into
/// Python. Up to 512 × 512 pairs the cost is built on the calling thread, like the solve.
#[pyfunction]
#[pyo3(signature = (x0, x1, k, replace, seed))]
pub fn exact_pairs_sqeuclidean<'py>(
    py: Python<'py>,
    x0: Bound<'py, PyAny>,
    x1: Bound<'py, PyAny>,
    k: usize,
    replace: bool,
    seed: u64,
) -> PyResult<Indices<'py>> {
    let (x, y) = (matrix(&x0, "x0")?, matrix(&x1, "x1")?);
    let cost = if x.rows() * y.rows() <= HERE_MAX_ENTRIES {
        run_here(py, || squared_euclidean(&x, &y).map_err(point_error))?
    } else {
        run(py, move |_| squared_euclidean(&x, &y).map_err(point_error))?
    };
    let pairs = pairs_of_exact_plan(py, cost, k, replace, seed)?;
    Ok(indices(py, pairs))
}

/// An error about the point clouds, naming them as the Python arguments `x0` and `x1`.
fn point_error(e: OtError) -> PyErr {
    let message = e.to_string();
    let message = [
        ("the source points x", "x0"),
        ("source points x", "x0"),
        ("target points y", "x1"),
    ]
    .iter()
    .fold(message, |m, (from, to)| m.replace(from, to));
    InputError::new_err(message)
}

/// The exact plan between uniform weights for `cost`, as `k` pairs (see [`exact_pairs`]).
fn pairs_of_exact_plan(
    py: Python<'_>,
    cost: Matrix,
    k: usize,
    replace: bool,
    seed: u64,
) -> PyResult<Vec<(usize, usize)>> {
    let (a, b) = (uniform(cost.rows()), uniform(cost.cols()));
    let solution = solve_exact(py, a, b, cost, NetworkSimplex::DEFAULT_MAX_ITER)?;
    py.detach(|| draw_pairs(solution.plan, k, replace, seed))
}

/// `k` pairs drawn from `plan` with replacement (seeded), or its permutation.
fn draw_pairs(
    mut plan: SparsePlan,
    k: usize,
    replace: bool,
    seed: u64,
) -> PyResult<Vec<(usize, usize)>> {
    plan.entries.retain(|e| e.2 > 0.0);
    plan.entries.sort_unstable_by_key(|e| (e.0, e.1));
    if replace {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        plan.sample_pairs(k, &mut rng).map_err(input)
    } else {
        permutation_pairs(&plan, k)
    }
}

/// The pairs `(i, σ(i))` of a plan that is a permutation up to scale; `k` must be its size.
fn permutation_pairs(plan: &SparsePlan, k: usize) -> PyResult<Vec<(usize, usize)>> {
    match plan.permutation() {
        Some(sigma) if sigma.len() == k => Ok(sigma.into_iter().enumerate().collect()),
        Some(_) => Err(input(OtError::InvalidOption {
            name: "n",
            value: k.to_string(),
            reason: "drawing without replacement from a permutation plan gives exactly one pair per row",
        })),
        None => Err(input(OtError::Unsupported {
            what: "replace=False",
            reason: "the plan is not a permutation (one nonzero per row and per column); draw with replacement",
        })),
    }
}

fn indices(py: Python<'_>, pairs: Vec<(usize, usize)>) -> Indices<'_> {
    let (i, j): (Vec<i64>, Vec<i64>) = pairs.into_iter().map(|(i, j)| (i as i64, j as i64)).unzip();
    (i.into_pyarray(py), j.into_pyarray(py))
}

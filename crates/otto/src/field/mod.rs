//! The field axis: what a sampler integrates. A trained network wrapped with its parameterization
//! and path, or a closed-form oracle. Batched: `x` holds one point per row, `out` has the same
//! shape. Time runs from t = 0 (source) to t = 1 (target).

pub mod divergence;
pub mod model;
pub mod oracle;

pub use divergence::Divergence;
pub use model::NetworkField;
pub use oracle::GmmField;

use otto_ot::Matrix;

/// A time-dependent vector field `v(t, x)` whose flow carries the source to the target.
pub trait VectorField: Sync {
    /// The dimension d of the points.
    fn dim(&self) -> usize;

    /// Writes `v(t, x_i)` into row i of `out` for every row `x_i` of `x`.
    fn velocity(&self, t: f64, x: &Matrix, out: &mut Matrix);
}

/// A field that also knows the score `∇ log p_t(x)` of its marginals (needed by SDE samplers).
pub trait ScoreField: VectorField {
    /// Writes `∇ log p_t(x_i)` into row i of `out`.
    fn score(&self, t: f64, x: &Matrix, out: &mut Matrix);
}

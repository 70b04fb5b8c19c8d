//! The field axis: what a sampler integrates. A trained network wrapped with its parameterization
//! and path, or a closed-form oracle. Batched: `x` holds one point per row, `out` has the same
//! shape. Time runs from t = 0 (source) to t = 1 (target).

pub mod divergence;
pub mod gaussian_bridge;
pub mod model;
pub mod oracle;

pub use divergence::Divergence;
pub use gaussian_bridge::GaussianBridgeField;
pub use model::NetworkField;
pub use oracle::GmmField;

use otto_ot::Matrix;

use crate::path::{Level, Schedule};

/// A time-dependent vector field `v(t, x)` whose flow carries the source to the target.
pub trait VectorField: Sync {
    /// The dimension d of the points.
    fn dim(&self) -> usize;

    /// Writes `v(t, x_i)` into row i of `out` for every row `x_i` of `x`.
    fn velocity(&self, t: f64, x: &Matrix, out: &mut Matrix);

    /// [`VectorField::velocity`] for a stage whose *quadrature* coordinates nobody reads. A field
    /// whose state ends with quadratures — coordinates q with `dq/dt = g(t, x)` that no derivative
    /// depends on, such as the likelihood's log-density change — may write 0 there instead of
    /// computing g. An explicit Runge–Kutta method reads a stage's quadrature derivative only
    /// through its weights in the step and in the error estimate (the stage inputs' quadrature
    /// coordinates feed no derivative), so the ODE solvers call this at the stages whose weights
    /// there are both 0: midpoint's first stage (b = (0, 1)), Dopri5's second. The solution is the
    /// same to the bit. Default: the full velocity.
    fn velocity_skipping_quadratures(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        self.velocity(t, x, out);
    }
}

/// A denoiser on an affine Gaussian path `x = α x1 + σ x0`, x0 ~ N(0, I): the posterior mean
/// `x̂1 = E[x1 | x]` at a noise [`Level`] (its α and σ; its t is the model's time input). This is
/// what the diffusion samplers (DDIM, DPM-Solver++, EDM) integrate: every parameterization of an
/// affine path converts to it ([`crate::path::Parameterization::Data`]).
pub trait Denoiser: Sync {
    /// The dimension d of the points.
    fn dim(&self) -> usize;

    /// Writes `x̂1(x_i)` at `level` into row i of `out` for every row `x_i` of `x`.
    fn denoise(&self, level: &Level, x: &Matrix, out: &mut Matrix);

    /// The schedule of the path (the samplers build their grids of levels from it).
    fn schedule(&self) -> &dyn Schedule;
}

/// A field that also knows the score `∇ log p_t(x)` of its marginals (needed by SDE samplers).
pub trait ScoreField: VectorField {
    /// Writes `∇ log p_t(x_i)` into row i of `out`.
    fn score(&self, t: f64, x: &Matrix, out: &mut Matrix);
}

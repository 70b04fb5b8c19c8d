//! # otto-ot
//!
//! Optimal transport and Wasserstein geometry on plain `f64` arrays: exact OT (network simplex for
//! general weights, a dedicated assignment solver for uniform n×n problems), entropic OT
//! (log-domain Sinkhorn with ε-scaling, unbalanced, Sinkhorn divergence), 1-D and sliced OT, Gaussian
//! closed forms (Bures–Wasserstein, McCann geodesic, entropic plan / Schrödinger bridge), plan
//! sampling, and Wasserstein gradient flows (Fokker–Planck, exact and entropic JKO, Langevin
//! particles; [`flow`]). No neural-network code; a user who only needs fast OT depends on this
//! crate alone.
//!
//! Conventions: `a` (length n) and `b` (length m) are the source and target weights, `cost` is the
//! n×m matrix `C_ij = c(x_i, y_j)`, plans are n×m with marginals `a` and `b`. Functions named `w2`
//! return the distance W2, those named `w2_squared` its square (the optimal cost for `‖x − y‖²`).

pub mod cost;
pub mod entropic;
pub mod error;
pub mod exact;
pub mod flow;
pub mod gaussian;
pub mod marginal;
pub mod matrix;
pub mod one_d;
pub mod plan;
pub mod sliced;
pub mod status;
pub mod wasserstein;

pub use cost::{cost_matrix, squared_euclidean, GroundCost};
pub use error::{OtError, Result};
pub use matrix::Matrix;
pub use status::Status;

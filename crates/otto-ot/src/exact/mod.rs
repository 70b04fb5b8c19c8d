//! Exact (linear-programming) optimal transport:
//! `min_π ⟨π, C⟩ s.t. π 1 = a, πᵀ 1 = b, π ≥ 0`, and its dual
//! `max_{u,v} ⟨u, a⟩ + ⟨v, b⟩ s.t. u_i + v_j ≤ C_ij`.
//! At the optimum both objectives agree and `π_ij > 0 ⇒ u_i + v_j = C_ij` (complementary slackness).

use crate::plan::SparsePlan;
use crate::status::Status;

pub mod assignment;
pub mod network_simplex;

pub use assignment::{Assignment, AssignmentSolution};
pub use network_simplex::NetworkSimplex;

/// The result of an exact OT solver.
#[derive(Debug, Clone)]
pub struct ExactSolution {
    /// The optimal plan: a basic solution, with at most n + m − 1 nonzeros.
    pub plan: SparsePlan,
    /// The optimal cost `⟨π, C⟩` (for `C = ‖x − y‖²` and unit mass this is W2²).
    pub cost: f64,
    /// Source dual potential u (length n).
    pub u: Vec<f64>,
    /// Target dual potential v (length m).
    pub v: Vec<f64>,
    /// How the solver stopped; `error` is the most negative reduced cost `C_ij − u_i − v_j` (0 at
    /// optimality, up to round-off).
    pub status: Status,
}

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

use crate::error::{OtError, Result};
use crate::marginal::{check_balanced, is_uniform};
use crate::matrix::Matrix;

/// An exact solver to use with [`solve_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExactSolver {
    /// The network simplex with column generation: any weights, n ≠ m. The default: measured
    /// fastest on the benchmarks of BENCHMARKS.md, uniform n×n included.
    #[default]
    NetworkSimplex,
    /// The assignment solver: uniform weights and n = m only; returns a permutation plan.
    Assignment,
}

impl ExactSolver {
    /// `network_simplex` or `assignment`.
    pub fn name(&self) -> &'static str {
        match self {
            ExactSolver::NetworkSimplex => "network_simplex",
            ExactSolver::Assignment => "assignment",
        }
    }
}

/// Exact OT between histograms `a` (n) and `b` (m) for the n×m cost, by the network simplex.
pub fn solve(a: &[f64], b: &[f64], cost: &Matrix) -> Result<ExactSolution> {
    solve_with(a, b, cost, ExactSolver::NetworkSimplex)
}

/// Exact OT with the chosen solver. [`ExactSolver::Assignment`] needs uniform weights and n = m
/// (the optimum is then a permutation, Birkhoff–von Neumann) and fails otherwise; weights of any
/// common mass are allowed (the plan and cost scale with it, the duals do not).
pub fn solve_with(
    a: &[f64],
    b: &[f64],
    cost: &Matrix,
    solver: ExactSolver,
) -> Result<ExactSolution> {
    match solver {
        ExactSolver::NetworkSimplex => NetworkSimplex::default().solve(a, b, cost),
        ExactSolver::Assignment => {
            let (n, m) = cost.shape();
            let mass = check_balanced(a, n, b, m)?;
            if n != m || !is_uniform(a) || !is_uniform(b) {
                return Err(OtError::InvalidOption {
                    name: "solver",
                    value: "assignment".into(),
                    reason: "the assignment solver needs uniform weights and a square cost matrix",
                });
            }
            let mut sol = Assignment::default().solve(cost)?.into_exact();
            // `into_exact` is for unit mass; the duals, constrained by u_i + v_j ≤ C_ij only, are
            // unchanged by the scaling.
            sol.plan.entries.iter_mut().for_each(|e| e.2 *= mass);
            sol.cost *= mass;
            Ok(sol)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marginal::uniform;

    #[test]
    fn adversarial_rank_one_cost_is_solved_exactly() {
        // Truth: the rearrangement inequality — for C_ij = i·j the anti-diagonal σ(i) = n−1−i is
        // optimal, with cost Σ_i i(n−1−i)/n. Nearest-neighbour candidates are useless here, so this
        // exercises the column generation; the assignment solver's work budget gives up on it.
        let n = 400;
        let cost = Matrix::from_fn(n, n, |i, j| (i * j) as f64);
        let want: f64 = (0..n).map(|i| (i * (n - 1 - i)) as f64).sum::<f64>() / n as f64;
        let w = uniform(n);
        let sol = solve(&w, &w, &cost).unwrap();
        assert!(
            (sol.cost - want).abs() < 1e-9 * want,
            "{} vs {want}",
            sol.cost
        );
        assert!(Assignment::default()
            .solve_within(&cost, 1000)
            .unwrap()
            .is_none());
    }

    #[test]
    fn uniform_weights_of_any_mass() {
        // Truth: the optimal cost is linear in the common mass of the marginals (scaling a and b by
        // 2 scales every feasible plan by 2); the network simplex gives the unit-mass value. A
        // non-uniform problem is refused by the assignment solver.
        let n = 50;
        let cost = Matrix::from_fn(n, n, |i, j| ((i * 7 + j * 13) % 17) as f64);
        let w = uniform(n);
        let unit = solve_with(&w, &w, &cost, ExactSolver::Assignment).unwrap();
        let mut skew = w.clone();
        skew[0] += 0.01;
        skew[1] -= 0.01;
        assert!(solve_with(&skew, &skew, &cost, ExactSolver::Assignment).is_err());

        let reference = solve(&w, &w, &cost).unwrap();
        assert!((unit.cost - reference.cost).abs() < 1e-12);
        let double: Vec<f64> = w.iter().map(|v| 2.0 * v).collect();
        let twice = solve_with(&double, &double, &cost, ExactSolver::Assignment).unwrap();
        assert!((twice.cost - 2.0 * unit.cost).abs() < 1e-12);
        let mass: f64 = twice.plan.entries.iter().map(|e| e.2).sum();
        assert!((mass - 2.0).abs() < 1e-12);
    }
}

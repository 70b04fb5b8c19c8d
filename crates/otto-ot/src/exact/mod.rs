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

use crate::error::Result;
use crate::marginal::{check_balanced, is_uniform};
use crate::matrix::Matrix;

/// Which exact solver [`solve`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactSolver {
    /// The assignment solver, for uniform weights and n = m.
    Assignment,
    /// The network simplex, for everything else.
    NetworkSimplex,
}

impl ExactSolver {
    /// `assignment` or `network_simplex`.
    pub fn name(&self) -> &'static str {
        match self {
            ExactSolver::Assignment => "assignment",
            ExactSolver::NetworkSimplex => "network_simplex",
        }
    }
}

/// Work budget of the assignment path in [`solve`], in arc relaxations: `max(4n², 2²⁰)`. Measured
/// on 2-D Gaussian clouds (shifted or not) the solver needs at most 2n² for n ≥ 256; adversarial
/// costs (e.g. the rank-one `C_ij = i·j`) exceed it within tens of milliseconds and go to the
/// network simplex instead.
fn assignment_budget(n: usize) -> u64 {
    (4 * (n as u64) * (n as u64)).max(1 << 20)
}

/// Exact OT between histograms `a` (n) and `b` (m) for the n×m cost: the assignment solver when
/// both are uniform and n = m (the optimum is then a permutation, Birkhoff–von Neumann), the
/// network simplex otherwise, or when the assignment solver exceeds its work budget. Returns the
/// solution and the solver that produced it.
pub fn solve(a: &[f64], b: &[f64], cost: &Matrix) -> Result<(ExactSolution, ExactSolver)> {
    let (n, m) = cost.shape();
    let mass = check_balanced(a, n, b, m)?;
    let assignment = if n == m && is_uniform(a) && is_uniform(b) {
        Assignment::default().solve_within(cost, assignment_budget(n))?
    } else {
        None
    };
    if let Some(assignment) = assignment {
        let mut sol = assignment.into_exact();
        // `into_exact` is for unit mass; scale the plan and cost to `mass` (the duals, constrained
        // by u_i + v_j ≤ C_ij only, are unchanged).
        if mass != 1.0 {
            sol.plan.entries.iter_mut().for_each(|e| e.2 *= mass);
            sol.cost *= mass;
        }
        return Ok((sol, ExactSolver::Assignment));
    }
    Ok((
        NetworkSimplex::default().solve(a, b, cost)?,
        ExactSolver::NetworkSimplex,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marginal::uniform;

    #[test]
    fn adversarial_rank_one_cost_is_solved_exactly() {
        // Truth: the rearrangement inequality — for C_ij = i·j the anti-diagonal σ(i) = n−1−i is
        // optimal, with cost Σ_i i(n−1−i)/n. Nearest-neighbour candidates are useless here, so this
        // exercises the assignment solver's budget and the fallback to the network simplex.
        let n = 400;
        let cost = Matrix::from_fn(n, n, |i, j| (i * j) as f64);
        let want: f64 = (0..n).map(|i| (i * (n - 1 - i)) as f64).sum::<f64>() / n as f64;
        let w = uniform(n);
        let (sol, _) = solve(&w, &w, &cost).unwrap();
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
        // 2 scales every feasible plan by 2); the network simplex gives the unit-mass value.
        let n = 50;
        let cost = Matrix::from_fn(n, n, |i, j| ((i * 7 + j * 13) % 17) as f64);
        let w = uniform(n);
        let (unit, solver) = solve(&w, &w, &cost).unwrap();
        assert_eq!(solver, ExactSolver::Assignment);
        let reference = NetworkSimplex::default().solve(&w, &w, &cost).unwrap();
        assert!((unit.cost - reference.cost).abs() < 1e-12);
        let double: Vec<f64> = w.iter().map(|v| 2.0 * v).collect();
        let (twice, _) = solve(&double, &double, &cost).unwrap();
        assert!((twice.cost - 2.0 * unit.cost).abs() < 1e-12);
        let mass: f64 = twice.plan.entries.iter().map(|e| e.2).sum();
        assert!((mass - 2.0).abs() < 1e-12);
    }
}

//! Unbalanced entropic OT (Chizat, Peyré, Schmitzer & Vialard 2018, *Scaling algorithms for
//! unbalanced optimal transport problems*, Math. Comp. 87): the marginal constraints are replaced by
//! the penalties `ρ KL(π1 ‖ a) + ρ KL(πᵀ1 ‖ b)`. Sinkhorn's loop is unchanged but for its proximal
//! step, defined here; the balanced problem is the case `ρ = ∞`.

/// The proximal step of a marginal penalty at regularization ε (the `proxdiv` step of
/// Chizat et al. 2018 for the KL divergence): the balanced update `f ← −ε log Σ_j b_j exp((g_j − C_ij)/ε)` is multiplied by
/// `λ = ρ/(ρ+ε)` for the penalty `ρ KL(· ‖ a)` and by 1 for the exact constraint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prox {
    /// λ = ρ/(ρ+ε), or 1 when balanced.
    lambda: f64,
    /// (1 − λ)/ε = 1/(ρ+ε), or 0 when balanced.
    kappa: f64,
}

impl Prox {
    pub(crate) fn new(rho: Option<f64>, eps: f64) -> Self {
        match rho {
            None => Self {
                lambda: 1.0,
                kappa: 0.0,
            },
            Some(rho) => Self {
                lambda: rho / (rho + eps),
                kappa: 1.0 / (rho + eps),
            },
        }
    }

    /// The new scaling from the sum `s = Σ_j K̃_ij b_j v_j` and the absorbed potential `p̃`:
    /// `u = exp((λ(p̃ − ε log s) − p̃)/ε) = s^−λ exp(−κ p̃)`, i.e. `1/s` when balanced.
    #[inline]
    pub(crate) fn scaling(self, s: f64, absorbed: f64) -> f64 {
        if self.kappa == 0.0 {
            1.0 / s
        } else {
            (-self.lambda * s.ln() - self.kappa * absorbed).exp()
        }
    }

    /// The new potential from `L = log Σ_j exp(z_j)` computed exactly: `f = −λ ε L`.
    #[inline]
    pub(crate) fn potential(self, log_sum: f64, eps: f64) -> f64 {
        -self.lambda * eps * log_sum
    }
}

#[cfg(test)]
mod tests {
    use super::super::oracle::{l2_diff, max_abs_diff, primal_objective, random_problem};
    use crate::entropic::Sinkhorn;
    use crate::error::OtError;

    #[test]
    fn unbalanced_tends_to_balanced_as_rho_grows() {
        // Truth: the balanced problem is the limit ρ → ∞ (Chizat et al. 2018); the marginal
        // deviation, hence the plan's distance to the balanced plan, is O(1/ρ), so it must shrink
        // about tenfold per tenfold ρ and be small at ρ = 1e4.
        let (a, b, cost) = random_problem(20, 15, 6);
        let eps = 0.02;
        let balanced = Sinkhorn::new(eps)
            .tolerance(1e-12)
            .solve(&a, &b, &cost)
            .unwrap();
        let gap = |rho: f64| {
            let sol = Sinkhorn::new(eps)
                .tolerance(1e-12)
                .unbalanced(rho)
                .solve(&a, &b, &cost)
                .unwrap();
            assert!(sol.status.is_converged(), "ρ = {rho}: {:?}", sol.status);
            max_abs_diff(sol.plan.as_slice(), balanced.plan.as_slice())
        };
        let (g2, g3, g4) = (gap(1e2), gap(1e3), gap(1e4));
        assert!(g3 < 0.2 * g2 && g4 < 0.2 * g3, "{g2:e} {g3:e} {g4:e}");
        assert!(g4 < 1e-5);
    }

    #[test]
    fn unbalanced_handles_mass_mismatch() {
        // Truth: the first-order optimality conditions of the unbalanced primal (Chizat et al.
        // 2018): π1 = a ∘ exp(−f/ρ) (exact after the row update) and πᵀ1 = b ∘ exp(−g/ρ) (to the
        // tolerance); the objective is recomputed entry by entry. The balanced solver must refuse
        // these inputs.
        let (a, b, cost) = random_problem(15, 12, 8);
        let b: Vec<f64> = b.iter().map(|v| 2.0 * v).collect();
        let (eps, rho) = (0.05, 0.5);
        assert!(matches!(
            Sinkhorn::new(eps).solve(&a, &b, &cost),
            Err(OtError::MassMismatch { .. })
        ));
        let sol = Sinkhorn::new(eps)
            .tolerance(1e-12)
            .unbalanced(rho)
            .solve(&a, &b, &cost)
            .unwrap();
        assert!(sol.status.is_converged());
        let rows: Vec<f64> = a
            .iter()
            .zip(&sol.f)
            .map(|(ai, fi)| ai * (-fi / rho).exp())
            .collect();
        let cols: Vec<f64> = b
            .iter()
            .zip(&sol.g)
            .map(|(bj, gj)| bj * (-gj / rho).exp())
            .collect();
        assert!(max_abs_diff(&sol.plan.row_sums(), &rows) < 1e-14);
        assert!(l2_diff(&sol.plan.col_sums(), &cols) < 1e-12);
        let mass: f64 = sol.plan.as_slice().iter().sum();
        assert!(mass > 1.0 && mass < 2.0, "transported mass {mass}");
        let objective = primal_objective(&sol, &a, &b, &cost, eps, Some(rho));
        assert!((sol.objective - objective).abs() < 1e-12);
    }

    #[test]
    fn unbalanced_objective_is_below_balanced() {
        // Truth: the balanced optimum is feasible for the unbalanced problem with zero marginal
        // penalty, so the unbalanced minimum cannot exceed it.
        let (a, b, cost) = random_problem(20, 25, 9);
        let eps = 0.03;
        let balanced = Sinkhorn::new(eps)
            .tolerance(1e-12)
            .solve(&a, &b, &cost)
            .unwrap();
        for rho in [0.1, 1.0, 10.0] {
            let sol = Sinkhorn::new(eps)
                .tolerance(1e-12)
                .unbalanced(rho)
                .solve(&a, &b, &cost)
                .unwrap();
            assert!(sol.objective <= balanced.objective + 1e-12, "ρ = {rho}");
        }
    }
}

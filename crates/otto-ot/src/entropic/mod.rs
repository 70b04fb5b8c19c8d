//! Entropic optimal transport (Peyré & Cuturi 2019, *Computational Optimal Transport*, ch. 4):
//!
//! `OT_ε(α, β) = min_π ⟨π, C⟩ + ε KL(π ‖ a⊗b) + ρ KL(π1 ‖ a) + ρ KL(πᵀ1 ‖ b)`
//!
//! with the generalized Kullback–Leibler divergence `KL(p ‖ q) = Σ p log(p/q) − p + q`. Balanced
//! transport is `ρ = ∞` (the marginal constraints `π1 = a`, `πᵀ1 = b` are exact); finite `ρ` is the
//! unbalanced problem of Chizat, Peyré, Schmitzer & Vialard (2018), *Scaling algorithms for
//! unbalanced optimal transport problems*, Math. Comp. 87.
//!
//! The optimal plan has the form `π_ij = a_i b_j exp((f_i + g_j − C_ij)/ε)` for dual potentials
//! `f`, `g` in cost units (Feydy et al. 2019), computed here by Sinkhorn's algorithm in its
//! stabilized, ε-scaled form ([`Sinkhorn`], Schmitzer 2019). [`sinkhorn_divergence`] debiases
//! `OT_ε` into the Sinkhorn divergence `S_ε` of Feydy et al. (2019).
//!
//! The reference measure is `a⊗b`, not the counting measure used by POT: the plans agree, the
//! potentials differ by `ε log a_i`, `ε log b_j`, and the objective differs by a constant.

use rayon::prelude::*;

use crate::matrix::Matrix;
use crate::status::Status;

pub mod divergence;
mod kernel;
#[cfg(test)]
mod oracle;
pub mod sinkhorn;
mod unbalanced;

pub use divergence::{sinkhorn_divergence, sinkhorn_divergence_points, Divergence};
pub use sinkhorn::Sinkhorn;

/// The result of an entropic OT solver.
#[derive(Debug, Clone)]
pub struct EntropicSolution {
    /// Source dual potential `f` (length n, cost units). On a zero-weight source point `f_i` is the
    /// value the Sinkhorn update assigns to it, the soft c-transform
    /// `f_i = −ε log Σ_j b_j exp((g_j − C_ij)/ε)` (times `ρ/(ρ+ε)` if unbalanced): finite, and the
    /// smooth extension of the potential used by the Sinkhorn divergence (Feydy et al. 2019).
    pub f: Vec<f64>,
    /// Target dual potential `g` (length m), with the same convention on zero-weight points.
    pub g: Vec<f64>,
    /// The dense n×m plan `π_ij = a_i b_j exp((f_i + g_j − C_ij)/ε)`; rows and columns of zero
    /// weight are zero.
    pub plan: Matrix,
    /// The transport cost `⟨π, C⟩` (what POT's `ot.sinkhorn2` returns).
    pub transport_cost: f64,
    /// The entropic objective `⟨π, C⟩ + ε KL(π ‖ a⊗b)`, plus `ρ KL(π1 ‖ a) + ρ KL(πᵀ1 ‖ b)` when
    /// unbalanced, evaluated at the returned plan.
    pub objective: f64,
    /// How the solver stopped; `error` is the stopping criterion of [`Sinkhorn`] and `iterations`
    /// counts Sinkhorn iterations over all ε-scaling stages.
    pub status: Status,
}

/// The transport cost `⟨π, C⟩` and the objective of [`EntropicSolution`] for a plan of the form
/// `π_ij = a_i b_j exp((f_i + g_j − C_ij)/ε)`. Since `log(π_ij / a_i b_j) = (f_i + g_j − C_ij)/ε`,
/// `⟨π, C⟩ + ε KL(π ‖ a⊗b) = ⟨f, π1⟩ + ⟨g, πᵀ1⟩ − ε (m(π) − m(a) m(b))`, which needs no logarithm
/// per entry.
fn evaluate(
    plan: &Matrix,
    (f, g): (&[f64], &[f64]),
    (a, b): (&[f64], &[f64]),
    cost: &Matrix,
    eps: f64,
    rho: Option<f64>,
) -> (f64, f64) {
    let m = cost.cols();
    let (row_sums, row_costs): (Vec<f64>, Vec<f64>) = plan
        .as_slice()
        .par_chunks(m)
        .zip(cost.as_slice().par_chunks(m))
        .map(|(p, c)| {
            let cost_i = p.iter().zip(c).map(|(pij, cij)| pij * cij).sum::<f64>();
            (p.iter().sum::<f64>(), cost_i)
        })
        .unzip();
    let col_sums = plan.col_sums();
    let transport_cost: f64 = row_costs.iter().sum();
    let mass: f64 = row_sums.iter().sum();
    let (mass_a, mass_b): (f64, f64) = (a.iter().sum(), b.iter().sum());
    let mut objective = dot(f, &row_sums) + dot(g, &col_sums) - eps * (mass - mass_a * mass_b);
    if let Some(rho) = rho {
        objective += rho * (kl(&row_sums, a) + kl(&col_sums, b));
    }
    (transport_cost, objective)
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(p, q)| p * q).sum()
}

/// The generalized KL divergence `Σ p log(p/q) − p + q`, with `0 log 0 = 0`.
pub(crate) fn kl(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(&pi, &qi)| {
            if pi > 0.0 {
                pi * (pi / qi).ln() - pi + qi
            } else {
                qi
            }
        })
        .sum()
}

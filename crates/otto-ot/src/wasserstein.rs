//! W2 between weighted point clouds in one call: exact, entropic (debiased) or sliced.
//! Weights are normalized to unit mass, so the result is the distance between the probability
//! measures `Σ a_i δ_{x_i} / Σa` and `Σ b_j δ_{y_j} / Σb`.

use crate::cost::squared_euclidean;
use crate::entropic::{sinkhorn_divergence_points, Sinkhorn};
use crate::error::Result;
use crate::exact;
use crate::marginal::check_balanced;
use crate::matrix::Matrix;

fn normalized(w: &[f64]) -> Vec<f64> {
    let s: f64 = w.iter().sum();
    w.iter().map(|v| v / s).collect()
}

/// `W2` by exact OT on the squared-Euclidean cost matrix.
pub fn w2_exact(x: &Matrix, a: &[f64], y: &Matrix, b: &[f64]) -> Result<f64> {
    let cost = squared_euclidean(x, y)?;
    crate::marginal::check_histogram("source weights a", a, x.rows())?;
    crate::marginal::check_histogram("target weights b", b, y.rows())?;
    let (a, b) = (normalized(a), normalized(b));
    check_balanced(&a, x.rows(), &b, y.rows())?;
    let sol = exact::solve(&a, &b, &cost)?;
    Ok(sol.cost.max(0.0).sqrt())
}

/// `√S_ε` with the debiased Sinkhorn divergence
/// `S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β)` (Feydy et al. 2019), which is ≥ 0, zero
/// iff α = β, and tends to W2² as ε → 0.
pub fn w2_sinkhorn(x: &Matrix, a: &[f64], y: &Matrix, b: &[f64], solver: &Sinkhorn) -> Result<f64> {
    crate::marginal::check_histogram("source weights a", a, x.rows())?;
    crate::marginal::check_histogram("target weights b", b, y.rows())?;
    let (a, b) = (normalized(a), normalized(b));
    let divergence = sinkhorn_divergence_points(x, &a, y, &b, solver)?;
    Ok(divergence.value.max(0.0).sqrt())
}

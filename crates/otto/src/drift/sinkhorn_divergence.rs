//! The Sinkhorn divergence's particle flow (Feydy et al. 2019, "Interpolating between optimal
//! transport and MMD using Sinkhorn divergences"): for q the negatives' empirical measure (the
//! points x themselves by default) and p the positives', the W2 gradient of
//! ½·S_ε(q, p) at x is x − T^ε_{q→p}(x) − (x − T^ε_{q→q}(x)), so the velocity is
//!
//! `V(x) = T^ε_{q→p}(x) − T^ε_{q→q}(x)`,
//!
//! with the barycentric projection of the balanced entropic plan for the cost ½‖x − y‖²,
//! extended off q's support through the target potential g (the soft c-transform):
//! `T^ε_{q→p}(x) = Σ_j softmax_j((g_j − ½‖x − y_j‖²)/ε) y_j` (uniform weights). Both plans come from
//! [`otto_ot::entropic::Sinkhorn`] (dense, ε-scaled, log-domain).

use otto_ot::cost::squared_euclidean;
use otto_ot::entropic::Sinkhorn;
use otto_ot::Matrix;

use super::affinity::{Affinity, Block, Columns, Normalization, Profile, Side};
use super::{barycenter_difference, finish, Drift, DriftError};

/// Tolerance on the marginals of the two entropic problems.
const TOLERANCE: f64 = 1e-5;

/// The target potential g of the entropic problem from `source` to `target` (rows of `dim`) at
/// ε for the cost ½‖x − y‖², in the units of that cost.
fn target_potential(
    source: &[f32],
    target: &[f32],
    dim: usize,
    eps: f64,
) -> Result<Vec<f32>, DriftError> {
    let matrix = |points: &[f32]| {
        Matrix::new(
            points.len() / dim,
            dim,
            points.iter().map(|&v| v as f64).collect(),
        )
        .expect("rows of dim")
    };
    let (x, y) = (matrix(source), matrix(target));
    let cost = squared_euclidean(&x, &y).map_err(|e| DriftError::Sinkhorn(e.to_string()))?;
    let uniform = |n: usize| vec![1.0 / n as f64; n];
    // ½‖·‖² at ε is ‖·‖² at 2ε with potentials doubled.
    let solution = Sinkhorn::new(2.0 * eps)
        .tolerance(TOLERANCE)
        .solve(&uniform(x.rows()), &uniform(y.rows()), &cost)
        .map_err(|e| DriftError::Sinkhorn(e.to_string()))?;
    if !solution.status.is_converged() {
        return Err(DriftError::Sinkhorn(format!(
            "the entropic plan at ε = {eps} did not converge ({:?}); raise the temperature",
            solution.status
        )));
    }
    Ok(solution.g.iter().map(|&g| (0.5 * g) as f32).collect())
}

/// The field at the rows of `x`; `negatives` default to x.
pub(super) fn field(
    x: &[f32],
    positives: &[f32],
    negatives: Option<&[f32]>,
    dim: usize,
    eps: f64,
) -> Result<Drift, DriftError> {
    let q = negatives.unwrap_or(x);
    let g_pos = target_potential(q, positives, dim, eps)?;
    let g_neg = target_potential(q, q, dim, eps)?;
    let blocks = [
        Block {
            points: positives,
            side: Side::Positive,
            offsets: Some(&g_pos),
            self_masked: false,
            weight: 1.0,
        },
        Block {
            points: q,
            side: Side::Negative,
            offsets: Some(&g_neg),
            self_masked: false,
            weight: 1.0,
        },
    ];
    let sums = Affinity {
        profile: Profile::HalfSquared,
        normalization: Normalization::Row,
        temperatures: &[eps as f32],
        floor: 0.0,
        penalty: 0.0,
    }
    .sums(x, &Columns::new(&blocks, dim));
    Ok(finish(barycenter_difference(&sums[0]), &sums[0], eps))
}

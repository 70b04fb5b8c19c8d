//! The Sinkhorn divergence of Feydy, Séjourné, Vialard, Amari, Trouvé & Peyré (2019),
//! *Interpolating between optimal transport and MMD using Sinkhorn divergences*, AISTATS:
//!
//! `S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β)`,
//!
//! which removes the entropic bias of `OT_ε` (`S_ε(α, α) = 0`), is non-negative, symmetric and
//! metrizes weak convergence; it tends to the OT cost as ε → 0 and to an MMD as ε → ∞. For the
//! unbalanced problem the term `+ ε/2 (m(α) − m(β))²` of Séjourné, Feydy, Vialard, Trouvé & Peyré
//! (2019), *Sinkhorn divergences for unbalanced optimal transport*, keeps these
//! properties; it vanishes when the masses agree.

use super::sinkhorn::Sinkhorn;
use crate::cost::squared_euclidean;
use crate::error::Result;
use crate::matrix::Matrix;
use crate::status::Status;

/// A Sinkhorn divergence and the three entropic OT values it combines.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// `S_ε(α, β)`.
    pub value: f64,
    /// `OT_ε(α, β)`, the objective of [`super::EntropicSolution`].
    pub ot_xy: f64,
    /// `OT_ε(α, α)`.
    pub ot_xx: f64,
    /// `OT_ε(β, β)`.
    pub ot_yy: f64,
    /// The least converged of the three solves (diverged, then iteration cap, then converged), with
    /// the iterations of all three summed and the largest error.
    pub status: Status,
}

/// `S_ε(α, β)` for `α = Σ a_i δ_{x_i}`, `β = Σ b_j δ_{y_j}` given the three cost matrices
/// `cost_xy` (n×m), `cost_xx` (n×n) and `cost_yy` (m×m), each solved with `solver` (a warm start
/// in `solver` is used for the `(α, β)` problem only).
///
/// Errors: those of [`Sinkhorn::solve`] on any of the three problems.
pub fn sinkhorn_divergence(
    a: &[f64],
    b: &[f64],
    cost_xy: &Matrix,
    cost_xx: &Matrix,
    cost_yy: &Matrix,
    solver: &Sinkhorn,
) -> Result<Divergence> {
    let xy = solver.solve(a, b, cost_xy)?;
    let symmetric = solver.cold();
    let xx = symmetric.solve(a, a, cost_xx)?;
    let yy = symmetric.solve(b, b, cost_yy)?;
    let mass_gap = a.iter().sum::<f64>() - b.iter().sum::<f64>();
    let unbalanced_term = match solver.rho() {
        Some(_) => 0.5 * solver.eps() * mass_gap * mass_gap,
        None => 0.0,
    };
    let value = xy.objective - 0.5 * (xx.objective + yy.objective) + unbalanced_term;
    Ok(Divergence {
        value,
        ot_xy: xy.objective,
        ot_xx: xx.objective,
        ot_yy: yy.objective,
        status: combine([xy.status, xx.status, yy.status]),
    })
}

/// `S_ε` between point clouds `x` (n×d, one point per row, weights `a`) and `y` (m×d, weights
/// `b`) for the squared Euclidean cost `C_ij = ‖x_i − y_j‖²`.
///
/// Errors: those of [`squared_euclidean`] on the clouds and of [`sinkhorn_divergence`].
pub fn sinkhorn_divergence_points(
    x: &Matrix,
    a: &[f64],
    y: &Matrix,
    b: &[f64],
    solver: &Sinkhorn,
) -> Result<Divergence> {
    let cost_xy = squared_euclidean(x, y)?;
    let cost_xx = squared_euclidean(x, x)?;
    let cost_yy = squared_euclidean(y, y)?;
    sinkhorn_divergence(a, b, &cost_xy, &cost_xx, &cost_yy, solver)
}

/// The least converged of several statuses, iterations summed, largest error.
fn combine(statuses: [Status; 3]) -> Status {
    let iterations = statuses.iter().map(Status::iterations).sum();
    let error = statuses.iter().map(Status::error).fold(0.0, f64::max);
    if statuses
        .iter()
        .any(|s| matches!(s, Status::Diverged { .. }))
    {
        Status::Diverged { iterations }
    } else if statuses.iter().all(Status::is_converged) {
        Status::Converged { iterations, error }
    } else {
        Status::IterationCap { iterations, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropic::oracle::random_problem;
    use crate::error::OtError;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cloud(n: usize, seed: u64) -> (Matrix, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Matrix::from_fn(n, 2, |_, _| rng.gen::<f64>());
        let w: Vec<f64> = (0..n).map(|_| rng.gen_range(0.5..1.5)).collect();
        let s: f64 = w.iter().sum();
        (x, w.into_iter().map(|v| v / s).collect())
    }

    fn translated(x: &Matrix, z: [f64; 2]) -> Matrix {
        Matrix::from_fn(x.rows(), 2, |i, k| x.get(i, k) + z[k])
    }

    #[test]
    fn divergence_of_a_measure_to_itself_is_zero() {
        // Truth: S_ε(α, α) = 0 by construction (the three problems are one); exactly 0 here since
        // the solver is deterministic. Also unbalanced.
        let (x, a) = cloud(30, 1);
        for solver in [Sinkhorn::new(0.05), Sinkhorn::new(0.05).unbalanced(1.0)] {
            let d = sinkhorn_divergence_points(&x, &a, &x, &a, &solver.tolerance(1e-12)).unwrap();
            assert!(d.status.is_converged());
            assert_eq!(d.value, 0.0);
        }
    }

    #[test]
    fn divergence_of_a_translate_is_the_squared_shift() {
        // Truth: for C = ‖x − y‖² and β = α translated by z, the cross term −2⟨x_i − y_j, z⟩ of the
        // cost is separable and absorbed by the potentials, so OT_ε(α, β) = OT_ε(α, α) + ‖z‖² for
        // unit mass, OT_ε(β, β) = OT_ε(α, α), and S_ε(α, β) = ‖z‖² exactly, for every ε. Tolerance:
        // the Sinkhorn tolerance 1e-12 times the cost scale.
        let (x, a) = cloud(40, 2);
        let z = [0.3, -0.4];
        let y = translated(&x, z);
        for eps in [0.01, 0.1, 1.0] {
            let d =
                sinkhorn_divergence_points(&x, &a, &y, &a, &Sinkhorn::new(eps).tolerance(1e-12))
                    .unwrap();
            assert!(d.status.is_converged());
            assert!((d.value - 0.25).abs() < 1e-10, "ε = {eps}: {}", d.value);
        }
    }

    #[test]
    fn divergence_is_symmetric_and_non_negative() {
        // Truth: S_ε is symmetric and ≥ 0 (Feydy et al. 2019), also unbalanced (Séjourné et al.
        // 2019). Symmetry to the solver tolerance (1e-12) times the cost scale.
        let (x, a) = cloud(25, 3);
        let (y, b) = cloud(35, 4);
        let y = translated(&y, [0.2, 0.1]);
        let b2: Vec<f64> = b.iter().map(|v| 1.5 * v).collect();
        for (solver, b) in [
            (Sinkhorn::new(0.02), &b),
            (Sinkhorn::new(0.02).unbalanced(0.5), &b2),
        ] {
            let solver = solver.tolerance(1e-12);
            let xy = sinkhorn_divergence_points(&x, &a, &y, b, &solver).unwrap();
            let yx = sinkhorn_divergence_points(&y, b, &x, &a, &solver).unwrap();
            assert!(xy.status.is_converged() && yx.status.is_converged());
            assert!(xy.value > 0.0);
            assert!(
                (xy.value - yx.value).abs() < 1e-10,
                "{} vs {}",
                xy.value,
                yx.value
            );
        }
    }

    #[test]
    fn single_points_give_the_squared_distance() {
        // Truth: between Dirac masses the only plan is the product, KL = 0, so OT_ε(δ_x, δ_y) =
        // ‖x − y‖², OT_ε(δ_x, δ_x) = 0 and S_ε = ‖x − y‖² = 1² + 2² = 5.
        let x = Matrix::from_rows(&[vec![0.0, 0.0]]).unwrap();
        let y = Matrix::from_rows(&[vec![1.0, 2.0]]).unwrap();
        let d = sinkhorn_divergence_points(&x, &[1.0], &y, &[1.0], &Sinkhorn::new(0.3)).unwrap();
        assert!((d.value - 5.0).abs() < 1e-12 && (d.ot_xy - 5.0).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (a, b, cost_xy) = random_problem(4, 3, 5);
        let cost_xx = Matrix::zeros(4, 4);
        let cost_yy = Matrix::zeros(3, 3);
        let s = Sinkhorn::new(0.1);
        let d = |cxx: &Matrix, cyy: &Matrix, s: &Sinkhorn| {
            sinkhorn_divergence(&a, &b, &cost_xy, cxx, cyy, s)
        };
        assert!(d(&cost_xx, &cost_yy, &s).is_ok());
        assert!(matches!(
            d(&cost_yy, &cost_yy, &s),
            Err(OtError::Shape { .. })
        ));
        assert!(matches!(
            d(&cost_xx, &cost_xx, &s),
            Err(OtError::Shape { .. })
        ));
        assert!(matches!(
            d(&cost_xx, &cost_yy, &Sinkhorn::new(0.0)),
            Err(OtError::InvalidOption { .. })
        ));
        let x = Matrix::zeros(4, 2);
        let y3 = Matrix::zeros(3, 3);
        assert!(matches!(
            sinkhorn_divergence_points(&x, &a, &y3, &b, &s),
            Err(OtError::Shape { .. })
        ));
    }
}

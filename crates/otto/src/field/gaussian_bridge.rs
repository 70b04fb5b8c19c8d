//! The Gaussian Schrödinger bridge as an oracle field (MATH.md §3 and §8): between `N(a, A)` and
//! `N(b, B)` with reference `σW`, the bridge's marginals are `N(μ_t, Σ_t)` and its SDE
//! `dX = f dt + σ dW` has the affine drift `f(x, t) = (b − a) + M_t (x − μ_t)`,
//! `M_t = S_t Σ_t⁻¹` (otto-ot's [`GaussianBridge`], Bunne et al. 2023). As a field it exposes
//! - the score `∇log p_t(x) = −Σ_t⁻¹ (x − μ_t)`;
//! - the probability-flow velocity `u = f − ½σ² ∇log p_t = (b − a) + (M_t + ½σ² Σ_t⁻¹)(x − μ_t)`,
//!   so that [`crate::sampler::EulerMaruyama`] with g = σ (drift `u + ½σ² ∇log p_t = f`) samples
//!   the bridge itself, pairs included, and the ODE transports the same marginals;
//! - its Jacobian `M_t + ½σ² Σ_t⁻¹` for likelihoods ([`Divergence`]).

use nalgebra::{DMatrix, DVector};
use otto_ot::gaussian::{Gaussian, GaussianBridge};
use otto_ot::Matrix;

use super::{Divergence, ScoreField, VectorField};
use crate::error::Result;

/// The Gaussian Schrödinger bridge field (module documentation).
#[derive(Debug, Clone)]
pub struct GaussianBridgeField {
    bridge: GaussianBridge,
    sigma: f64,
    dim: usize,
    shift: Vec<f64>,
}

/// The field's affine pieces at one time: μ_t, M_t and Σ_t⁻¹.
struct Affine {
    mean: DVector<f64>,
    drift: DMatrix<f64>,
    precision: DMatrix<f64>,
}

impl GaussianBridgeField {
    /// The bridge from `source` (t = 0) to `target` (t = 1) with reference noise `sigma > 0`.
    ///
    /// Errors: as [`GaussianBridge::new`] (dimensions, σ, an invertible source covariance).
    pub fn new(source: &Gaussian, target: &Gaussian, sigma: f64) -> Result<Self> {
        let bridge = GaussianBridge::new(source, target, sigma)?;
        let shift = target
            .mean()
            .iter()
            .zip(source.mean())
            .map(|(b, a)| b - a)
            .collect();
        Ok(Self {
            bridge,
            sigma,
            dim: source.dim(),
            shift,
        })
    }

    /// The bridge (its plan's cross-covariance C, marginals, drift).
    pub fn bridge(&self) -> &GaussianBridge {
        &self.bridge
    }

    /// μ_t, M_t (read off the affine drift: column j is f(μ_t + e_j) − f(μ_t)) and Σ_t⁻¹.
    fn affine(&self, t: f64) -> Affine {
        let d = self.dim;
        let mean = DVector::from_vec(self.bridge.mean(t));
        let at_mean = self.bridge.drift(mean.as_slice(), t);
        let drift = DMatrix::from_fn(d, d, |i, j| {
            let mut x = mean.clone();
            x[j] += 1.0;
            self.bridge.drift(x.as_slice(), t)[i] - at_mean[i]
        });
        let cov = self.bridge.cov(t);
        let cov = DMatrix::from_fn(d, d, |i, j| cov.get(i, j));
        let precision = cov
            .try_inverse()
            .unwrap_or_else(|| DMatrix::from_element(d, d, f64::NAN));
        Affine {
            mean,
            drift,
            precision,
        }
    }

    /// Writes `offset + L (x_i − μ_t)` into row i of `out` for every row of `x`.
    fn apply(
        x: &Matrix,
        mean: &DVector<f64>,
        offset: &[f64],
        map: &DMatrix<f64>,
        out: &mut Matrix,
    ) {
        for (i, row) in (0..x.rows()).map(|i| (i, x.row(i))) {
            let centred =
                DVector::from_iterator(row.len(), row.iter().zip(mean.iter()).map(|(x, m)| x - m));
            let value = map * centred;
            for (j, o) in out.row_mut(i).iter_mut().enumerate() {
                *o = offset[j] + value[j];
            }
        }
    }

    /// The velocity's Jacobian `M_t + ½σ² Σ_t⁻¹`.
    fn jacobian(&self, a: &Affine) -> DMatrix<f64> {
        &a.drift + &a.precision * (0.5 * self.sigma * self.sigma)
    }
}

impl VectorField for GaussianBridgeField {
    fn dim(&self) -> usize {
        self.dim
    }

    fn velocity(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        let a = self.affine(t);
        Self::apply(x, &a.mean, &self.shift, &self.jacobian(&a), out);
    }
}

impl ScoreField for GaussianBridgeField {
    fn score(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        let a = self.affine(t);
        Self::apply(x, &a.mean, &vec![0.0; self.dim], &(-a.precision), out);
    }
}

impl Divergence for GaussianBridgeField {
    fn jvp(&self, t: f64, _x: &Matrix, v: &Matrix, out: &mut Matrix) {
        let a = self.affine(t);
        let zero = DVector::zeros(self.dim);
        Self::apply(v, &zero, &vec![0.0; self.dim], &self.jacobian(&a), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{GaussianMixture, Toy};
    use crate::sampler::{Diffusion, EulerMaruyama, Method, OdeSolver, Record};

    fn gaussian(mean: &[f64], cov: &[[f64; 2]; 2]) -> Gaussian {
        let rows: Vec<Vec<f64>> = cov.iter().map(|r| r.to_vec()).collect();
        Gaussian::new(mean, &Matrix::from_rows(&rows).unwrap()).unwrap()
    }

    /// Non-commuting A and B, so that the plan's cross-covariance C is not symmetric and a
    /// C ↔ Cᵀ swap in the drift would show (MATH.md §8).
    fn pair() -> (Gaussian, Gaussian) {
        (
            gaussian(&[0.0, 0.0], &[[2.0, 0.5], [0.5, 1.0]]),
            gaussian(&[1.0, 2.0], &[[1.0, -0.3], [-0.3, 0.5]]),
        )
    }

    /// n draws of `g` from a seeded standard normal (x = m + L z, L L' = Σ).
    fn draw(g: &Gaussian, n: usize, seed: u64) -> Matrix {
        let z = Toy::Gaussian { dim: 2 }.sample(n, seed);
        let cov = g.cov();
        let l = DMatrix::from_fn(2, 2, |i, j| cov.get(i, j))
            .cholesky()
            .unwrap()
            .l();
        Matrix::from_fn(n, 2, |i, j| {
            g.mean()[j] + (0..2).map(|k| l[(j, k)] * z.get(i, k)).sum::<f64>()
        })
    }

    fn cross_cov(x: &Matrix, y: &Matrix) -> [[f64; 2]; 2] {
        let n = x.rows() as f64;
        let mean = |m: &Matrix, j: usize| (0..m.rows()).map(|i| m.get(i, j)).sum::<f64>() / n;
        let mut c = [[0.0; 2]; 2];
        for (a, row) in c.iter_mut().enumerate() {
            for (b, entry) in row.iter_mut().enumerate() {
                let (ma, mb) = (mean(x, a), mean(y, b));
                *entry = (0..x.rows())
                    .map(|i| (x.get(i, a) - ma) * (y.get(i, b) - mb))
                    .sum::<f64>()
                    / n;
            }
        }
        c
    }

    #[test]
    fn euler_maruyama_pairs_reach_the_plans_cross_covariance() {
        // Truth: otto-ot's closed-form C = Cov_π(x0, x1) of the entropic plan (MATH.md §3), which is
        // not symmetric here (|C12 − C21| ≈ 0.3). 20 000 bridge paths by Euler–Maruyama with g = σ
        // (drift u + ½σ²∇log p = f), 400 steps: sampling s.e. of a cross-covariance entry
        // ≈ √(A_ii B_jj/N) ≤ 0.011, Euler bias O(1/400). Tolerance 0.05, well below the asymmetry.
        let (a, b) = pair();
        let sigma = 0.8;
        let field = GaussianBridgeField::new(&a, &b, sigma).unwrap();
        let x0 = draw(&a, 20_000, 1);
        let x1 = EulerMaruyama::new(Diffusion::Constant(sigma))
            .steps(400)
            .seed(2)
            .solve(&field, &x0, 0.0, 1.0)
            .unwrap()
            .x;
        let c = field.bridge().cross_covariance();
        assert!(
            (c.get(0, 1) - c.get(1, 0)).abs() > 0.2,
            "C must be asymmetric for this test"
        );
        let measured = cross_cov(&x0, &x1);
        for (i, row) in measured.iter().enumerate() {
            for (j, m) in row.iter().enumerate() {
                assert!(
                    (m - c.get(i, j)).abs() < 0.05,
                    "Cov(X0, X1)[{i}][{j}] = {m} vs C = {}",
                    c.get(i, j)
                );
            }
        }
    }

    #[test]
    fn the_probability_flow_has_the_bridges_marginals_and_likelihood() {
        // Truth: Σ_t of the closed form. The ODE (RK4, 200 steps, error ≪ MC) pushes 20 000 draws of
        // N(a, A) to N(μ_t, Σ_t) at t = 0.5 and 1 (covariance s.e. ≈ √(2/N)·|Σ| ≈ 0.02 on entries ≤ 2:
        // tolerance 0.06). And the field's divergence gives, through the likelihood ODE, the exact
        // log-density of the target N(b, B) (an independent closed form: GaussianMixture), to 1e-6.
        let (a, b) = pair();
        let field = GaussianBridgeField::new(&a, &b, 0.8).unwrap();
        let x0 = draw(&a, 20_000, 3);
        let sol = OdeSolver::new(Method::Rk4)
            .steps(200)
            .record(Record::Times(vec![0.5, 1.0]))
            .solve(&field, &x0, 0.0, 1.0)
            .unwrap();
        for (state, t) in sol.trajectory.states.iter().zip([0.5, 1.0]) {
            let expected = field.bridge().cov(t);
            let measured = cross_cov(state, state);
            for (i, row) in measured.iter().enumerate() {
                for (j, m) in row.iter().enumerate() {
                    assert!((m - expected.get(i, j)).abs() < 0.06, "t={t} Σ[{i}][{j}]");
                }
            }
        }
        let target = GaussianMixture::new(
            &[1.0],
            &Matrix::from_rows(&[b.mean().to_vec()]).unwrap(),
            &[b.cov()],
        )
        .unwrap();
        let source = GaussianMixture::new(
            &[1.0],
            &Matrix::from_rows(&[a.mean().to_vec()]).unwrap(),
            &[a.cov()],
        )
        .unwrap();
        let x = draw(&b, 50, 4);
        let result = crate::likelihood::Likelihood::default()
            .log_density(&field, &x, 1.0, 0.0, |x0| source.log_density(x0))
            .unwrap();
        for (got, want) in result.log_density.iter().zip(target.log_density(&x)) {
            assert!((got - want).abs() < 1e-6, "log p {got} vs {want}");
        }
    }
}

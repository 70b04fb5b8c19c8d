//! Closed forms of optimal transport between Gaussians N(m, Σ) (MATH.md §3).
//!
//! - Bures–Wasserstein distance (Dowson & Landau 1982; Givens & Shortt 1984):
//!   `W2²(N(m0, A), N(m1, B)) = ‖m0 − m1‖² + tr(A + B − 2 (A^½ B A^½)^½)`.
//! - OT map `x ↦ m1 + T (x − m0)` with `T = A^-½ (A^½ B A^½)^½ A^-½` (symmetric, `T A T = B`), and
//!   McCann's displacement interpolation: `Σ_t = M_t A M_t`, `M_t = (1 − t) I + t T`.
//! - Entropic OT / Schrödinger bridge with reference `σW` (ε = 2σ²) (Janati et al. 2020;
//!   Bunne et al. 2023): `D = (4 A^½ B A^½ + σ⁴ I)^½`, `C = ½ (A^½ D A^-½ − σ² I)`,
//!   `Σ_t = (1−t)² A + t² B + t(1−t)(C + Cᵀ) + σ² t(1−t) I`, drift `f(x, t) = (b − a) + S_t Σ_t^{-1} (x − μ_t)`,
//!   `S_t = t B − (1−t) A + (1−t) Cᵀ − t C − σ² t I`.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::error::{OtError, Result};
use crate::marginal::check_finite;
use crate::matrix::Matrix;

/// A Gaussian `N(mean, cov)` with a symmetric positive semi-definite covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    mean: DVector<f64>,
    cov: DMatrix<f64>,
}

impl Gaussian {
    /// Checks that `cov` is d×d with `d = mean.len()`, finite, symmetric (to 1e-10 relative) and
    /// positive semi-definite; it is symmetrized exactly.
    pub fn new(mean: &[f64], cov: &Matrix) -> Result<Self> {
        let d = mean.len();
        if d == 0 {
            return Err(OtError::Empty { what: "mean" });
        }
        if cov.shape() != (d, d) {
            return Err(OtError::Shape {
                what: "covariance",
                expected: format!("{d}×{d} (the dimension of the mean)"),
                got: format!("{}×{}", cov.rows(), cov.cols()),
            });
        }
        check_finite("mean", mean)?;
        cov.check_finite("covariance")?;
        let c = DMatrix::from_row_slice(d, d, cov.as_slice());
        let scale = c.amax().max(f64::MIN_POSITIVE);
        if (&c - c.transpose()).amax() > 1e-10 * scale {
            return Err(OtError::NotPositiveDefinite {
                what: "covariance (not symmetric)".into(),
                kind: "semi-",
            });
        }
        let c = (&c + c.transpose()) * 0.5;
        let min_eig = SymmetricEigen::new(c.clone()).eigenvalues.min();
        if min_eig < -1e-12 * scale {
            return Err(OtError::NotPositiveDefinite {
                what: "covariance".into(),
                kind: "semi-",
            });
        }
        Ok(Self {
            mean: DVector::from_column_slice(mean),
            cov: c,
        })
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The mean vector.
    pub fn mean(&self) -> &[f64] {
        self.mean.as_slice()
    }

    /// The covariance as a row-major matrix.
    pub fn cov(&self) -> Matrix {
        to_matrix(&self.cov)
    }

    fn same_dim(&self, other: &Gaussian) -> Result<()> {
        if self.dim() != other.dim() {
            return Err(OtError::Shape {
                what: "target Gaussian",
                expected: format!("dimension {}", self.dim()),
                got: format!("dimension {}", other.dim()),
            });
        }
        Ok(())
    }

    fn cov_pd(&self, what: &'static str) -> Result<()> {
        if SymmetricEigen::new(self.cov.clone()).eigenvalues.min() <= 1e-14 * self.cov.amax() {
            return Err(OtError::NotPositiveDefinite {
                what: what.into(),
                kind: "",
            });
        }
        Ok(())
    }
}

fn to_matrix(m: &DMatrix<f64>) -> Matrix {
    Matrix::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
}

/// `f(S)` for a symmetric `S` through its eigendecomposition, `f` applied to the eigenvalues
/// (negative round-off eigenvalues clamped to 0 first).
fn spectral(s: &DMatrix<f64>, f: impl Fn(f64) -> f64) -> DMatrix<f64> {
    let eig = SymmetricEigen::new((s + s.transpose()) * 0.5);
    let vals = eig.eigenvalues.map(|l| f(l.max(0.0)));
    &eig.eigenvectors * DMatrix::from_diagonal(&vals) * eig.eigenvectors.transpose()
}

fn sqrtm(s: &DMatrix<f64>) -> DMatrix<f64> {
    spectral(s, f64::sqrt)
}

/// `W2²(N(m0, A), N(m1, B)) = ‖m0 − m1‖² + tr(A + B − 2 (A^½ B A^½)^½)`.
pub fn w2_squared(g0: &Gaussian, g1: &Gaussian) -> Result<f64> {
    g0.same_dim(g1)?;
    let ra = sqrtm(&g0.cov);
    let cross = sqrtm(&(&ra * &g1.cov * &ra));
    let bures = (g0.cov.trace() + g1.cov.trace() - 2.0 * cross.trace()).max(0.0);
    Ok((&g0.mean - &g1.mean).norm_squared() + bures)
}

/// The Bures–Wasserstein distance `W2 = √W2²`.
pub fn w2(g0: &Gaussian, g1: &Gaussian) -> Result<f64> {
    Ok(w2_squared(g0, g1)?.sqrt())
}

/// The OT (Monge) map between two Gaussians: `x ↦ m1 + T (x − m0)`.
#[derive(Debug, Clone)]
pub struct GaussianMap {
    source_mean: DVector<f64>,
    target_mean: DVector<f64>,
    linear: DMatrix<f64>,
}

impl GaussianMap {
    /// The OT map from `g0` to `g1`; needs the source covariance positive definite.
    pub fn new(g0: &Gaussian, g1: &Gaussian) -> Result<Self> {
        g0.same_dim(g1)?;
        g0.cov_pd("source covariance (the OT map needs it invertible)")?;
        let ra = sqrtm(&g0.cov);
        let ra_inv = spectral(&g0.cov, |l| 1.0 / l.sqrt());
        let linear = &ra_inv * sqrtm(&(&ra * &g1.cov * &ra)) * &ra_inv;
        Ok(Self {
            source_mean: g0.mean.clone(),
            target_mean: g1.mean.clone(),
            linear: (&linear + linear.transpose()) * 0.5,
        })
    }

    /// The symmetric matrix `T`.
    pub fn linear(&self) -> Matrix {
        to_matrix(&self.linear)
    }

    /// `T(x) = m1 + T (x − m0)`.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let v =
            &self.target_mean + &self.linear * (DVector::from_column_slice(x) - &self.source_mean);
        v.as_slice().to_vec()
    }
}

/// McCann's displacement interpolation between two Gaussians: the W2 geodesic
/// `N(m_t, Σ_t)`, `m_t = (1 − t) m0 + t m1`, `Σ_t = M_t A M_t`, `M_t = (1 − t) I + t T`.
#[derive(Debug, Clone)]
pub struct McCannGeodesic {
    source_cov: DMatrix<f64>,
    map: GaussianMap,
}

impl McCannGeodesic {
    /// The geodesic from `g0` (t = 0) to `g1` (t = 1); the source covariance must be invertible.
    pub fn new(g0: &Gaussian, g1: &Gaussian) -> Result<Self> {
        Ok(Self {
            source_cov: g0.cov.clone(),
            map: GaussianMap::new(g0, g1)?,
        })
    }

    fn m_t(&self, t: f64) -> DMatrix<f64> {
        let d = self.source_cov.nrows();
        DMatrix::identity(d, d) * (1.0 - t) + &self.map.linear * t
    }

    fn mean_vec(&self, t: f64) -> DVector<f64> {
        &self.map.source_mean * (1.0 - t) + &self.map.target_mean * t
    }

    /// `m_t = (1 − t) m0 + t m1`.
    pub fn mean(&self, t: f64) -> Vec<f64> {
        self.mean_vec(t).as_slice().to_vec()
    }

    /// `Σ_t = M_t A M_t`.
    pub fn cov(&self, t: f64) -> Matrix {
        let m = self.m_t(t);
        to_matrix(&(&m * &self.source_cov * &m))
    }

    /// The velocity of the geodesic flow at `(x, t)`, `t ∈ [0, 1)`:
    /// `v(x, t) = (m1 − m0) + (T − I) M_t^{-1} (x − m_t)` (differentiate `x_t = m_t + M_t (x0 − m0)`).
    pub fn velocity(&self, x: &[f64], t: f64) -> Vec<f64> {
        let d = self.source_cov.nrows();
        let m = self.m_t(t);
        let y = m
            .lu()
            .solve(&(DVector::from_column_slice(x) - self.mean_vec(t)))
            .unwrap_or_else(|| DVector::zeros(d));
        let v = (&self.map.target_mean - &self.map.source_mean)
            + (&self.map.linear - DMatrix::identity(d, d)) * y;
        v.as_slice().to_vec()
    }
}

/// The entropic OT plan / Schrödinger bridge between `N(a, A)` and `N(b, B)` with reference
/// Brownian motion `σW` (entropic regularization ε = 2σ² for the cost ‖x − y‖²).
#[derive(Debug, Clone)]
pub struct GaussianBridge {
    a: DVector<f64>,
    b: DVector<f64>,
    cov_a: DMatrix<f64>,
    cov_b: DMatrix<f64>,
    sigma: f64,
    cross: DMatrix<f64>,
}

impl GaussianBridge {
    /// Builds the bridge; `sigma > 0` and the source covariance must be invertible.
    pub fn new(g0: &Gaussian, g1: &Gaussian, sigma: f64) -> Result<Self> {
        g0.same_dim(g1)?;
        if !(sigma > 0.0 && sigma.is_finite()) {
            return Err(OtError::InvalidOption {
                name: "sigma",
                value: sigma.to_string(),
                reason: "the reference noise level must be positive and finite",
            });
        }
        g0.cov_pd("source covariance (the bridge needs it invertible)")?;
        let d = g0.dim();
        let id = DMatrix::<f64>::identity(d, d);
        let s2 = sigma * sigma;
        let ra = sqrtm(&g0.cov);
        let ra_inv = spectral(&g0.cov, |l| 1.0 / l.sqrt());
        let dd = sqrtm(&(&ra * &g1.cov * &ra * 4.0 + &id * (s2 * s2)));
        let cross = (&ra * dd * &ra_inv - &id * s2) * 0.5;
        Ok(Self {
            a: g0.mean.clone(),
            b: g1.mean.clone(),
            cov_a: g0.cov.clone(),
            cov_b: g1.cov.clone(),
            sigma,
            cross,
        })
    }

    /// The cross-covariance `C = Cov_π(x0, x1)` of the entropic plan.
    pub fn cross_covariance(&self) -> Matrix {
        to_matrix(&self.cross)
    }

    /// The covariance of the entropic plan as a joint Gaussian of `(x0, x1)`: `[[A, C], [Cᵀ, B]]`.
    pub fn plan_covariance(&self) -> Matrix {
        let d = self.a.len();
        Matrix::from_fn(2 * d, 2 * d, |i, j| match (i < d, j < d) {
            (true, true) => self.cov_a[(i, j)],
            (true, false) => self.cross[(i, j - d)],
            (false, true) => self.cross[(j, i - d)],
            (false, false) => self.cov_b[(i - d, j - d)],
        })
    }

    fn mean_vec(&self, t: f64) -> DVector<f64> {
        &self.a * (1.0 - t) + &self.b * t
    }

    fn cov_mat(&self, t: f64) -> DMatrix<f64> {
        let d = self.a.len();
        let c_sym = &self.cross + self.cross.transpose();
        &self.cov_a * ((1.0 - t) * (1.0 - t))
            + &self.cov_b * (t * t)
            + c_sym * (t * (1.0 - t))
            + DMatrix::identity(d, d) * (self.sigma * self.sigma * t * (1.0 - t))
    }

    /// `μ_t = (1 − t) a + t b`.
    pub fn mean(&self, t: f64) -> Vec<f64> {
        self.mean_vec(t).as_slice().to_vec()
    }

    /// `Σ_t = (1−t)² A + t² B + t(1−t)(C + Cᵀ) + σ² t(1−t) I`.
    pub fn cov(&self, t: f64) -> Matrix {
        to_matrix(&self.cov_mat(t))
    }

    /// The bridge drift `f(x, t) = (b − a) + S_t Σ_t^{-1} (x − μ_t)`, with
    /// `S_t = t B − (1−t) A + (1−t) Cᵀ − t C − σ² t I`; `dX = f dt + σ dW` has marginals `N(μ_t, Σ_t)`.
    pub fn drift(&self, x: &[f64], t: f64) -> Vec<f64> {
        let d = self.a.len();
        let s_t = &self.cov_b * t - &self.cov_a * (1.0 - t) + self.cross.transpose() * (1.0 - t)
            - &self.cross * t
            - DMatrix::identity(d, d) * (self.sigma * self.sigma * t);
        let y = self
            .cov_mat(t)
            .cholesky()
            .map(|c| c.solve(&(DVector::from_column_slice(x) - self.mean_vec(t))))
            .unwrap_or_else(|| DVector::zeros(d));
        let f = (&self.b - &self.a) + s_t * y;
        f.as_slice().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn g(mean: &[f64], cov: &[&[f64]]) -> Gaussian {
        let rows: Vec<Vec<f64>> = cov.iter().map(|r| r.to_vec()).collect();
        Gaussian::new(mean, &Matrix::from_rows(&rows).unwrap()).unwrap()
    }

    fn oracle_pair() -> (Gaussian, Gaussian) {
        (
            g(&[0.0, 0.0], &[&[2.0, 0.5], &[0.5, 1.0]]),
            g(&[1.0, 2.0], &[&[1.0, -0.3], &[-0.3, 0.5]]),
        )
    }

    fn max_abs_diff(x: &Matrix, y: &Matrix) -> f64 {
        x.as_slice()
            .iter()
            .zip(y.as_slice())
            .map(|(u, v)| (u - v).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn bures_oracle() {
        // Truth: MATH.md §3 oracle, computed independently in double precision.
        let (g0, g1) = oracle_pair();
        assert!((w2_squared(&g0, &g1).unwrap() - 5.553301412770).abs() < 1e-11);
        // 1-D closed form (m0 − m1)² + (s0 − s1)².
        let (p, q) = (g(&[0.5], &[&[1.0]]), g(&[-1.0], &[&[4.0]]));
        assert!((w2_squared(&p, &q).unwrap() - 3.25).abs() < 1e-14);
    }

    #[test]
    fn map_pushes_source_covariance_to_target() {
        // Truth: T A T = B and T symmetric (the defining property of the Gaussian OT map), and the
        // map sends m0 to m1.
        let (g0, g1) = oracle_pair();
        let map = GaussianMap::new(&g0, &g1).unwrap();
        let t = DMatrix::from_row_slice(2, 2, map.linear().as_slice());
        let tat = to_matrix(&(&t * &g0.cov * &t));
        assert!(max_abs_diff(&tat, &g1.cov()) < 1e-12);
        assert_eq!(map.apply(&[0.0, 0.0]), vec![1.0, 2.0]);
    }

    #[test]
    fn geodesic_has_constant_speed_and_kinetic_energy_w2_squared() {
        // Truth: a constant-speed geodesic satisfies W2(γ_s, γ_t) = |t − s| W2(γ_0, γ_1) (checked
        // with the Bures formula), and its kinetic energy E‖v(x_t, t)‖² equals W2² at every t
        // (MATH.md §3); the expectation is exact for a linear field: ‖Δm‖² + tr(K Σ_t Kᵀ).
        let (g0, g1) = oracle_pair();
        let geo = McCannGeodesic::new(&g0, &g1).unwrap();
        let w2sq = w2_squared(&g0, &g1).unwrap();
        let at = |t: f64| Gaussian::new(&geo.mean(t), &geo.cov(t)).unwrap();
        assert!(max_abs_diff(&geo.cov(1.0), &g1.cov()) < 1e-12);
        for (s, t) in [(0.0, 0.3), (0.25, 0.75), (0.6, 1.0)] {
            let w = w2(&at(s), &at(t)).unwrap();
            assert!((w - (t - s) * w2sq.sqrt()).abs() < 1e-9, "{s} {t}: {w}");
        }
        for t in [0.0, 0.4, 0.9] {
            let cov = DMatrix::from_row_slice(2, 2, geo.cov(t).as_slice());
            let m = geo.mean(t);
            // Linear part K of the field, by evaluating at the mean and the mean + basis vectors.
            let v0 = geo.velocity(&m, t);
            let k = DMatrix::from_fn(2, 2, |i, j| {
                let mut x = m.clone();
                x[j] += 1.0;
                geo.velocity(&x, t)[i] - v0[i]
            });
            let energy = v0.iter().map(|v| v * v).sum::<f64>() + (&k * cov * k.transpose()).trace();
            assert!((energy - w2sq).abs() < 1e-9, "t = {t}: {energy}");
        }
    }

    #[test]
    fn bridge_oracles() {
        // Truth: MATH.md §3 oracles — 1-D A = 1, B = 4, σ² = 0.5 gives C = 1.7655644370746;
        // A = B = I, σ = 1 gives Σ_½ = 1.059016994 I.
        let bridge =
            GaussianBridge::new(&g(&[0.0], &[&[1.0]]), &g(&[0.0], &[&[4.0]]), 0.5f64.sqrt())
                .unwrap();
        assert!((bridge.cross_covariance().get(0, 0) - 1.7655644370746).abs() < 1e-12);
        let id = g(&[0.0, 0.0], &[&[1.0, 0.0], &[0.0, 1.0]]);
        let bridge = GaussianBridge::new(&id, &id, 1.0).unwrap();
        let cov = bridge.cov(0.5);
        assert!((cov.get(0, 0) - 1.059016994).abs() < 1e-9);
        assert!(cov.get(0, 1).abs() < 1e-15);
    }

    #[test]
    fn bridge_marginals_solve_the_lyapunov_equation_of_the_drift() {
        // Truth: for dX = (K_t X + c_t) dt + σ dW the covariance obeys dΣ/dt = K Σ + Σ Kᵀ + σ² I.
        // With K_t = S_t Σ_t^{-1} read off the drift, a centred finite difference of the closed-form
        // Σ_t (error O(h²) ≈ 1e-10) must match, and Σ_0 = A, Σ_1 = B.
        let (g0, g1) = oracle_pair();
        let bridge = GaussianBridge::new(&g0, &g1, 0.7).unwrap();
        assert!(max_abs_diff(&bridge.cov(0.0), &g0.cov()) < 1e-12);
        assert!(max_abs_diff(&bridge.cov(1.0), &g1.cov()) < 1e-12);
        for t in [0.1, 0.5, 0.8] {
            let h = 1e-5;
            let dcov = Matrix::from_fn(2, 2, |i, j| {
                (bridge.cov(t + h).get(i, j) - bridge.cov(t - h).get(i, j)) / (2.0 * h)
            });
            let m = bridge.mean(t);
            let f0 = bridge.drift(&m, t);
            assert!((f0[0] - 1.0).abs() < 1e-12 && (f0[1] - 2.0).abs() < 1e-12);
            let k = DMatrix::from_fn(2, 2, |i, j| {
                let mut x = m.clone();
                x[j] += 1.0;
                bridge.drift(&x, t)[i] - f0[i]
            });
            let cov = DMatrix::from_row_slice(2, 2, bridge.cov(t).as_slice());
            let rhs = &k * &cov + &cov * k.transpose() + DMatrix::identity(2, 2) * 0.49;
            assert!(max_abs_diff(&to_matrix(&rhs), &dcov) < 1e-7, "t = {t}");
        }
    }

    #[test]
    fn simulated_bridge_reproduces_its_marginals() {
        // Truth: Monte-Carlo simulation of dX = f(X, t) dt + σ dW from X0 ~ N(a, A) with 20 000
        // particles and 400 Euler–Maruyama steps. Sampling error of a covariance entry ≈ √(2/N)·|Σ|
        // ≈ 1.5e-2 relative; the Euler bias O(1/400). Tolerance 0.06 absolute on entries of size ~1.
        let (g0, g1) = oracle_pair();
        let sigma = 0.7;
        let bridge = GaussianBridge::new(&g0, &g1, sigma).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let l = g0.cov.clone().cholesky().unwrap().l();
        let n = 20_000;
        let steps = 400;
        let dt = 1.0 / steps as f64;
        let mut xs: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                let z = DVector::from_fn(2, |_, _| StandardNormal.sample(&mut rng));
                (&l * z).as_slice().to_vec()
            })
            .collect();
        let moments = |xs: &[Vec<f64>]| {
            let mean: Vec<f64> = (0..2)
                .map(|k| xs.iter().map(|x| x[k]).sum::<f64>() / n as f64)
                .collect();
            let cov = Matrix::from_fn(2, 2, |i, j| {
                xs.iter()
                    .map(|x| (x[i] - mean[i]) * (x[j] - mean[j]))
                    .sum::<f64>()
                    / n as f64
            });
            (mean, cov)
        };
        for k in 0..steps {
            let t = k as f64 * dt;
            for x in xs.iter_mut() {
                let f = bridge.drift(x, t);
                for (xi, fi) in x.iter_mut().zip(f) {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    *xi += fi * dt + sigma * dt.sqrt() * z;
                }
            }
            if k + 1 == steps / 2 {
                let (_, cov) = moments(&xs);
                assert!(max_abs_diff(&cov, &bridge.cov(0.5)) < 0.06, "{cov:?}");
            }
        }
        let (mean, cov) = moments(&xs);
        assert!(
            (mean[0] - 1.0).abs() < 0.03 && (mean[1] - 2.0).abs() < 0.03,
            "{mean:?}"
        );
        assert!(max_abs_diff(&cov, &g1.cov()) < 0.06, "{cov:?}");
    }

    #[test]
    fn small_noise_bridge_tends_to_the_ot_coupling() {
        // Truth: as σ → 0 the entropic plan tends to the Monge coupling, whose cross-covariance
        // is Cov(x, T x) = A T; the gap is O(σ²).
        let (g0, g1) = oracle_pair();
        let t = DMatrix::from_row_slice(
            2,
            2,
            GaussianMap::new(&g0, &g1).unwrap().linear().as_slice(),
        );
        let at = to_matrix(&(&g0.cov * t));
        let c = GaussianBridge::new(&g0, &g1, 1e-3)
            .unwrap()
            .cross_covariance();
        assert!(max_abs_diff(&c, &at) < 1e-5);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let bad = Matrix::from_rows(&[vec![1.0, 2.0], vec![2.0, 1.0]]).unwrap();
        assert!(matches!(
            Gaussian::new(&[0.0, 0.0], &bad),
            Err(OtError::NotPositiveDefinite { .. })
        ));
        let asym = Matrix::from_rows(&[vec![1.0, 0.2], vec![0.0, 1.0]]).unwrap();
        assert!(Gaussian::new(&[0.0, 0.0], &asym).is_err());
        assert!(matches!(
            Gaussian::new(&[0.0], &asym),
            Err(OtError::Shape { .. })
        ));
        let singular = g(&[0.0, 0.0], &[&[1.0, 1.0], &[1.0, 1.0]]);
        let (_, g1) = oracle_pair();
        assert!(w2_squared(&singular, &g1).is_ok());
        assert!(GaussianMap::new(&singular, &g1).is_err());
        assert!(GaussianBridge::new(&g1, &g1, 0.0).is_err());
    }
}

//! Closed forms for a quadratic potential `V(x) = ½ (x − c)ᵀ A (x − c)` (A symmetric positive
//! definite) and diffusion `D` (MATH.md §6), where every scheme keeps Gaussians Gaussian:
//!
//! - the exact Fokker–Planck (Ornstein–Uhlenbeck) solution from `N(m0, S0)`:
//!   `m_t = c + e^{−At}(m0 − c)`, `S_t = e^{−At} S0 e^{−At} + D A^{-1}(I − e^{−2At})`,
//!   stationary `N(c, D A^{-1})`;
//! - the exact JKO scheme `ρ_{k+1} = argmin W2²(ρ, ρ_k)/(2h) + F(ρ)`: when `S0` commutes with `A`,
//!   along each common eigenvector (eigenvalue λ of A) the mean and standard deviation follow
//!   `m ← m/(1 + hλ)`, `s ← [s + √(s² + 4hD(1 + hλ))]/(2(1 + hλ))` (minimize
//!   `((m − m_k)² + (s − s_k)²)/(2h) + λ(m² + s²)/2 − D log s` per direction); the covariance
//!   keeps commuting with `A`.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::error::{OtError, Result};
use crate::flow::check_positive;
use crate::flow::energy::{FreeEnergy, Potential};
use crate::gaussian::Gaussian;
use crate::matrix::Matrix;

/// The Ornstein–Uhlenbeck problem: `V(x) = ½ (x − c)ᵀ A (x − c)` with `A` symmetric positive
/// definite, diffusion `D > 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrnsteinUhlenbeck {
    eigenvalues: DVector<f64>,
    eigenvectors: DMatrix<f64>,
    center: DVector<f64>,
    diffusion: f64,
}

impl OrnsteinUhlenbeck {
    /// Checks `A` (d×d, symmetric, positive definite), `c` (length d) and `D > 0`.
    pub fn new(a: &Matrix, center: &[f64], diffusion: f64) -> Result<Self> {
        let potential = Potential::quadratic(center, a)?;
        Self::from_parts(&potential, diffusion)
    }

    /// The OU problem of a free energy `D∫ρ log ρ + ∫Vρ` with a quadratic `V` and no porous term.
    pub fn from_energy(energy: &FreeEnergy) -> Result<Self> {
        energy.validate()?;
        match (energy.potential_term(), energy.porous_term()) {
            (Some(p @ Potential::Quadratic { .. }), None) => {
                Self::from_parts(p, energy.diffusion_coefficient())
            }
            _ => Err(OtError::Unsupported {
                what: "a Gaussian closed form for this free energy",
                reason: "it needs a quadratic potential and no porous term",
            }),
        }
    }

    fn from_parts(potential: &Potential, diffusion: f64) -> Result<Self> {
        check_positive("diffusion", diffusion)?;
        let Potential::Quadratic { center, a } = potential else {
            unreachable!("called with a quadratic potential")
        };
        let d = center.len();
        let eig = SymmetricEigen::new(DMatrix::from_row_slice(d, d, a.as_slice()));
        if eig.eigenvalues.min() <= 0.0 {
            return Err(OtError::NotPositiveDefinite {
                what: "potential matrix A".into(),
                kind: "",
            });
        }
        Ok(Self {
            eigenvalues: eig.eigenvalues,
            eigenvectors: eig.eigenvectors,
            center: DVector::from_column_slice(center),
            diffusion,
        })
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        self.center.len()
    }

    /// `Q f(Λ) Qᵀ` for `A = Q Λ Qᵀ`.
    fn spectral(&self, f: impl Fn(f64) -> f64) -> DMatrix<f64> {
        let q = &self.eigenvectors;
        q * DMatrix::from_diagonal(&self.eigenvalues.map(f)) * q.transpose()
    }

    fn check(&self, g: &Gaussian) -> Result<()> {
        if g.dim() != self.dim() {
            return Err(OtError::Shape {
                what: "initial Gaussian",
                expected: format!("dimension {}", self.dim()),
                got: format!("dimension {}", g.dim()),
            });
        }
        Ok(())
    }

    /// The exact solution at time `t ≥ 0` from `initial = N(m0, S0)`:
    /// `N(c + e^{−At}(m0 − c), e^{−At} S0 e^{−At} + D A^{-1}(I − e^{−2At}))`.
    pub fn fp_solution(&self, initial: &Gaussian, t: f64) -> Result<Gaussian> {
        self.check(initial)?;
        if !(t >= 0.0 && t.is_finite()) {
            return Err(OtError::InvalidOption {
                name: "t",
                value: t.to_string(),
                reason: "must be non-negative and finite",
            });
        }
        let d = self.dim();
        let decay = self.spectral(|l| (-l * t).exp());
        let noise = self.spectral(|l| self.diffusion * (-(-2.0 * l * t).exp_m1()) / l);
        let m0 = DVector::from_column_slice(initial.mean());
        let s0 = DMatrix::from_row_slice(d, d, initial.cov().as_slice());
        let mean = &self.center + &decay * (m0 - &self.center);
        let cov = &decay * s0 * &decay + noise;
        gaussian(&mean, &cov)
    }

    /// The stationary state `N(c, D A^{-1})`.
    pub fn stationary(&self) -> Gaussian {
        let cov = self.spectral(|l| self.diffusion / l);
        gaussian(&self.center, &cov).expect("D A^{-1} is positive definite")
    }
}

fn gaussian(mean: &DVector<f64>, cov: &DMatrix<f64>) -> Result<Gaussian> {
    let d = mean.len();
    let c = Matrix::from_fn(d, d, |i, j| 0.5 * (cov[(i, j)] + cov[(j, i)]));
    Gaussian::new(mean.as_slice(), &c)
}

/// The exact JKO scheme for the Ornstein–Uhlenbeck problem with step `h`; run with
/// [`GaussianJko::run`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianJko {
    h: f64,
}

impl GaussianJko {
    /// The scheme with step `h > 0` (physical time per step).
    pub fn new(h: f64) -> Self {
        Self { h }
    }

    /// `ρ_0, ρ_1, …, ρ_steps` from `initial = N(m0, S0)`, where `S0` must commute with `A`
    /// (to 1e-10 relative; else [`OtError::Unsupported`]: the JKO step of a non-commuting
    /// Gaussian has no per-direction closed form).
    pub fn run(
        &self,
        problem: &OrnsteinUhlenbeck,
        initial: &Gaussian,
        steps: usize,
    ) -> Result<Vec<Gaussian>> {
        check_positive("h", self.h)?;
        problem.check(initial)?;
        let d = problem.dim();
        let s0 = DMatrix::from_row_slice(d, d, initial.cov().as_slice());
        let a = problem.spectral(|l| l);
        let commutator = (&a * &s0 - &s0 * &a).amax();
        if commutator > 1e-10 * a.amax() * s0.amax().max(f64::MIN_POSITIVE) {
            return Err(OtError::Unsupported {
                what: "an exact Gaussian JKO step for a covariance that does not commute with A",
                reason: "the per-eigendirection recursion needs S0 A = A S0",
            });
        }
        // A common eigenbasis: eigenvectors of A + t S0 for a generic t diagonalize both
        // commuting matrices, even where A has repeated eigenvalues.
        let t = 0.5772156649 * a.amax() / s0.amax().max(f64::MIN_POSITIVE);
        let basis = SymmetricEigen::new(&a + &s0 * t).eigenvectors;
        let lambda: Vec<f64> = (0..d)
            .map(|k| (basis.column(k).transpose() * &a * basis.column(k))[(0, 0)])
            .collect();
        let mut sd: Vec<f64> = (0..d)
            .map(|k| {
                (basis.column(k).transpose() * &s0 * basis.column(k))[(0, 0)]
                    .max(0.0)
                    .sqrt()
            })
            .collect();
        let mut mean =
            basis.transpose() * (DVector::from_column_slice(initial.mean()) - &problem.center);
        let (h, diff) = (self.h, problem.diffusion);
        let mut out = vec![initial.clone()];
        for _ in 0..steps {
            for k in 0..d {
                let q = 1.0 + h * lambda[k];
                mean[k] /= q;
                sd[k] = (sd[k] + (sd[k] * sd[k] + 4.0 * h * diff * q).sqrt()) / (2.0 * q);
            }
            let var = DVector::from_iterator(d, sd.iter().map(|s| s * s));
            let cov = &basis * DMatrix::from_diagonal(&var) * basis.transpose();
            out.push(gaussian(&(&problem.center + &basis * &mean), &cov)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ou_1d() -> OrnsteinUhlenbeck {
        OrnsteinUhlenbeck::new(&Matrix::new(1, 1, vec![1.0]).unwrap(), &[0.0], 1.0).unwrap()
    }

    fn start() -> Gaussian {
        Gaussian::new(&[2.0], &Matrix::new(1, 1, vec![0.25]).unwrap()).unwrap()
    }

    #[test]
    fn exact_fp_oracle() {
        // Truth: MATH.md §6, OU from N(2, 0.25) at T = 1: mean 0.735759, variance 0.898499
        // (six digits given, so 1e-6).
        let g = ou_1d().fp_solution(&start(), 1.0).unwrap();
        assert!((g.mean()[0] - 0.735759).abs() < 1e-6);
        assert!((g.cov().get(0, 0) - 0.898499).abs() < 1e-6);
    }

    #[test]
    fn exact_jko_matches_math_md_values() {
        // Truth: MATH.md §6, T = 1: h = 0.05 → (0.753779, 0.885356), h = 0.01 → (0.739422,
        // 0.895830), given to six digits (tolerance 1e-6).
        for (h, steps, m, v) in [
            (0.05, 20, 0.753779, 0.885356),
            (0.01, 100, 0.739422, 0.895830),
        ] {
            let run = GaussianJko::new(h).run(&ou_1d(), &start(), steps).unwrap();
            let last = run.last().unwrap();
            assert!(
                (last.mean()[0] - m).abs() < 1e-6,
                "h = {h}: {:?}",
                last.mean()
            );
            assert!(
                (last.cov().get(0, 0) - v).abs() < 1e-6,
                "h = {h}: {:?}",
                last.cov()
            );
        }
    }

    #[test]
    fn exact_jko_is_first_order() {
        // Truth: JKO is implicit Euler in W2, first order in h. The W2 error at T = 1 against
        // the exact solution, over h = 0.1 … 0.0125, fitted in log-log by least squares, must have
        // slope 1 ± 0.1 (the O(h²) term bends it by a few percent at the coarsest h).
        let p = ou_1d();
        let exact = p.fp_solution(&start(), 1.0).unwrap();
        let hs: [f64; 4] = [0.1, 0.05, 0.025, 0.0125];
        let pts: Vec<(f64, f64)> = hs
            .iter()
            .map(|&h| {
                let steps = (1.0 / h).round() as usize;
                let last = GaussianJko::new(h).run(&p, &start(), steps).unwrap();
                let err = crate::gaussian::w2(last.last().unwrap(), &exact).unwrap();
                (h.ln(), err.ln())
            })
            .collect();
        let n = pts.len() as f64;
        let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let (mx, my) = (sx / n, sy / n);
        let slope = pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
            / pts.iter().map(|(x, _)| (x - mx).powi(2)).sum::<f64>();
        assert!((slope - 1.0).abs() < 0.1, "fitted order {slope}");
    }

    #[test]
    fn multi_d_jko_converges_to_the_stationary_state_and_splits_per_direction() {
        // Truth: (a) the fixed point of the per-direction recursion is m = 0, s² = D/λ, i.e.
        // N(c, D A^{-1}); 400 steps of h = 0.1 contract the error by (1 + hλ_min)^{-400} < 1e-10.
        // (b) With A diagonal the d-dimensional scheme is the product of 1-D schemes (MATH.md
        // recursion with λ = A_kk), checked to round-off.
        let a = Matrix::from_rows(&[vec![2.0, 1.0], vec![1.0, 2.0]]).unwrap();
        let p = OrnsteinUhlenbeck::new(&a, &[1.0, -1.0], 0.5).unwrap();
        // S0 = 0.3 I + 0.1 A commutes with A.
        let s0 = Matrix::from_fn(2, 2, |i, j| {
            0.1 * a.get(i, j) + if i == j { 0.3 } else { 0.0 }
        });
        let g0 = Gaussian::new(&[3.0, 0.0], &s0).unwrap();
        let run = GaussianJko::new(0.1).run(&p, &g0, 400).unwrap();
        let (stat, last) = (p.stationary(), run.last().unwrap());
        for (x, y) in last.mean().iter().zip(stat.mean()) {
            assert!((x - y).abs() < 1e-10, "{x} vs {y}");
        }
        for (x, y) in last.cov().as_slice().iter().zip(stat.cov().as_slice()) {
            assert!((x - y).abs() < 1e-10, "{x} vs {y}");
        }
        let diag = Matrix::from_rows(&[vec![1.0, 0.0], vec![0.0, 3.0]]).unwrap();
        let p2 = OrnsteinUhlenbeck::new(&diag, &[0.0, 0.0], 1.0).unwrap();
        let s = Matrix::from_rows(&[vec![0.25, 0.0], vec![0.0, 0.5]]).unwrap();
        let g = Gaussian::new(&[2.0, 1.0], &s).unwrap();
        let got = GaussianJko::new(0.05).run(&p2, &g, 20).unwrap();
        let last = got.last().unwrap();
        let (mut m, mut sd) = (1.0, 0.5f64.sqrt());
        for _ in 0..20 {
            let q = 1.0 + 0.05 * 3.0;
            m /= q;
            sd = (sd + (sd * sd + 4.0 * 0.05 * q).sqrt()) / (2.0 * q);
        }
        assert!((last.mean()[1] - m).abs() < 1e-12);
        assert!((last.cov().get(1, 1) - sd * sd).abs() < 1e-12);
        assert!(last.cov().get(0, 1).abs() < 1e-12);
    }

    #[test]
    fn non_commuting_covariance_is_rejected() {
        let a = Matrix::from_rows(&[vec![1.0, 0.0], vec![0.0, 2.0]]).unwrap();
        let p = OrnsteinUhlenbeck::new(&a, &[0.0, 0.0], 1.0).unwrap();
        let s = Matrix::from_rows(&[vec![1.0, 0.5], vec![0.5, 1.0]]).unwrap();
        let g = Gaussian::new(&[0.0, 0.0], &s).unwrap();
        assert!(matches!(
            GaussianJko::new(0.1).run(&p, &g, 1),
            Err(OtError::Unsupported { .. })
        ));
        let bad = Matrix::from_rows(&[vec![1.0, 0.0], vec![0.0, -1.0]]).unwrap();
        assert!(OrnsteinUhlenbeck::new(&bad, &[0.0, 0.0], 1.0).is_err());
    }
}

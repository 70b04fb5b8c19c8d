//! Euler–Maruyama for the SDE that shares the marginals p_t of a field, written in otto's time
//! (t = 0 noise, t = 1 data):
//!
//! `dX = [v(t, X) + ½ g(t)² ∇log p_t(X)] dt + g(t) dW`  (integrating forward, t0 < t1).
//!
//! Its Fokker–Planck equation is `∂_t p = −∇·(p v) − ½ g² Δp + ½ g² Δp = −∇·(p v)`, the continuity
//! equation of v, so every g gives the same marginals; g = 0 is the probability-flow ODE (Song et
//! al. 2021, eq. 13; MATH.md §2 SF2M and §4 — the reverse-time diffusion SDE in diffusion time
//! s = 1 − t). Integrating backward (t1 < t0, data to noise) the score term flips sign:
//! `dX = [v − ½ g² ∇log p_t] dt + g dW`, by the same computation with dt < 0.

use std::fmt;
use std::sync::Arc;

use otto_ot::Matrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::{check_problem, fixed_grid, stop_times, Record, Recorder, Solution, Stats, Status};
use crate::error::{ensure, Result};
use crate::field::ScoreField;

/// The diffusion coefficient g(t) of the sampling SDE.
#[derive(Clone)]
pub enum Diffusion {
    /// g(t) = g, constant (SF2M samples with g = σ of its Brownian bridge).
    Constant(f64),
    /// Any g(t) ≥ 0, e.g. one that vanishes near t = 1.
    Function(Arc<dyn Fn(f64) -> f64 + Send + Sync>),
}

impl Diffusion {
    /// g(t).
    pub fn at(&self, t: f64) -> f64 {
        match self {
            Diffusion::Constant(g) => *g,
            Diffusion::Function(g) => g(t),
        }
    }
}

impl fmt::Debug for Diffusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diffusion::Constant(g) => write!(f, "Constant({g})"),
            Diffusion::Function(_) => write!(f, "Function(..)"),
        }
    }
}

/// Options of the Euler–Maruyama sampler; build with [`EulerMaruyama::new`] and the setters, run
/// with [`EulerMaruyama::solve`].
///
/// Each step of size h from (t, X) evaluates v and, where g(t) ≠ 0, the score (NFE counts both),
/// then sets `X ← X + h (v + sign(h) ½ g(t)² ∇log p_t) + g(t) √|h| ξ`, ξ ~ N(0, I) from a ChaCha8
/// stream seeded with `seed` (row-major, one draw per coordinate per step). Weak order 1 (Kloeden &
/// Platen 1992, §14.1): the law's error after `steps` uniform steps is O(1/steps).
#[derive(Debug, Clone)]
pub struct EulerMaruyama {
    diffusion: Diffusion,
    steps: usize,
    seed: u64,
    record: Record,
}

impl Default for EulerMaruyama {
    /// g = 1, 100 steps, seed 0, final state only.
    fn default() -> Self {
        Self {
            diffusion: Diffusion::Constant(1.0),
            steps: 100,
            seed: 0,
            record: Record::Final,
        }
    }
}

impl EulerMaruyama {
    /// The sampler with diffusion coefficient `diffusion`, other options at their defaults.
    pub fn new(diffusion: Diffusion) -> Self {
        Self {
            diffusion,
            ..Self::default()
        }
    }

    /// Number of uniform steps `≥ 1` (default 100).
    pub fn steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// Seed of the Brownian increments (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Which intermediate states to keep (default [`Record::Final`]).
    pub fn record(mut self, record: Record) -> Self {
        self.record = record;
        self
    }

    /// Checks every option, naming the first bad one (a constant g must be finite and ≥ 0; a
    /// function g is checked at every step: a negative or non-finite value diverges the run).
    pub fn validate(&self) -> Result<()> {
        ensure(self.steps >= 1, "steps", 0.0, "at least one step is needed")?;
        if let Diffusion::Constant(g) = self.diffusion {
            ensure(
                g >= 0.0 && g.is_finite(),
                "diffusion",
                g,
                "the diffusion coefficient must be non-negative and finite",
            )?;
        }
        Ok(())
    }

    /// Integrates the SDE (module documentation) for every row of `x` from `t0` to `t1`.
    ///
    /// Errors: as [`crate::sampler::OdeSolver::solve`].
    pub fn solve(&self, field: &dyn ScoreField, x: &Matrix, t0: f64, t1: f64) -> Result<Solution> {
        self.validate()?;
        check_problem(field.dim(), x, t0, t1, &self.record)?;
        let (n, d) = x.shape();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut x = x.clone();
        let (mut velocity, mut score) = (Matrix::zeros(n, d), Matrix::zeros(n, d));
        let mut recorder = Recorder::new(&self.record);
        recorder.visit(t0, &x, true);
        let grid = fixed_grid(self.steps, t0, t1, &stop_times(&self.record, t0, t1));
        let mut stats = Stats::default();
        for pair in grid.windows(2) {
            let ((t, _), (t_next, is_stop)) = (pair[0], pair[1]);
            let h = t_next - t;
            let g = self.diffusion.at(t);
            if !(g >= 0.0 && g.is_finite()) {
                return Ok(diverged(x, t, stats, recorder));
            }
            field.velocity(t, &x, &mut velocity);
            stats.nfe += 1;
            let score_weight = h.signum() * 0.5 * g * g;
            if g > 0.0 {
                field.score(t, &x, &mut score);
                stats.nfe += 1;
            }
            let noise_scale = g * h.abs().sqrt();
            for ((xi, v), s) in x
                .as_mut_slice()
                .iter_mut()
                .zip(velocity.as_slice())
                .zip(score.as_slice())
            {
                let drift = if g > 0.0 { v + score_weight * s } else { *v };
                *xi += h * drift;
                if g > 0.0 {
                    *xi += noise_scale * rng.sample::<f64, _>(StandardNormal);
                }
            }
            stats.accepted_steps += 1;
            if !x.as_slice().iter().all(|v| v.is_finite()) {
                return Ok(diverged(x, t_next, stats, recorder));
            }
            recorder.visit(t_next, &x, is_stop);
        }
        Ok(Solution {
            x,
            t: t1,
            status: Status::Completed,
            stats,
            trajectory: recorder.trajectory,
        })
    }
}

fn diverged(x: Matrix, t: f64, stats: Stats, recorder: Recorder) -> Solution {
    Solution {
        x,
        t,
        status: Status::Diverged,
        stats,
        trajectory: recorder.trajectory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::gmm::tests::three_component;
    use crate::data::Toy;
    use crate::field::GmmField;
    use crate::path::CondOt;

    /// Mean, covariance and the standard errors of each (from the particles' own spread:
    /// s.e. of a mean = sd/√n, of a covariance entry = sd((x_i − μ_i)(x_j − μ_j))/√n).
    fn moments(x: &Matrix) -> (Vec<f64>, Vec<f64>, Matrix, Matrix) {
        let (n, d) = x.shape();
        let nf = n as f64;
        let mean: Vec<f64> = (0..d)
            .map(|j| (0..n).map(|i| x.get(i, j)).sum::<f64>() / nf)
            .collect();
        let mut cov = Matrix::zeros(d, d);
        let mut cov_se = Matrix::zeros(d, d);
        for a in 0..d {
            for b in 0..d {
                let p: Vec<f64> = (0..n)
                    .map(|i| (x.get(i, a) - mean[a]) * (x.get(i, b) - mean[b]))
                    .collect();
                let m = p.iter().sum::<f64>() / nf;
                let var = p.iter().map(|v| (v - m).powi(2)).sum::<f64>() / nf;
                cov.set(a, b, m);
                cov_se.set(a, b, (var / nf).sqrt());
            }
        }
        let mean_se = (0..d).map(|j| (cov.get(j, j) / nf).sqrt()).collect();
        (mean, mean_se, cov, cov_se)
    }

    /// Asserts that the particles' mean and covariance match `mean` and `cov` within `k` standard
    /// errors (estimated from the particles) plus `bias_mean` / `bias_cov` for the step bias.
    fn assert_moments(
        x: &Matrix,
        mean: &[f64],
        cov: &Matrix,
        k: f64,
        bias_mean: f64,
        bias_cov: f64,
    ) {
        let (m, m_se, c, c_se) = moments(x);
        for a in 0..mean.len() {
            let tol = k * m_se[a] + bias_mean;
            assert!(
                (m[a] - mean[a]).abs() < tol,
                "mean {a}: {} vs {} (tol {tol})",
                m[a],
                mean[a]
            );
            for b in 0..mean.len() {
                let tol = k * c_se.get(a, b) + bias_cov;
                let (got, want) = (c.get(a, b), cov.get(a, b));
                assert!(
                    (got - want).abs() < tol,
                    "cov {a}{b}: {got} vs {want} (tol {tol})"
                );
            }
        }
    }

    #[test]
    fn euler_maruyama_transports_noise_to_the_mixture_and_back() {
        // Truth: the mixture's closed-form mean and covariance (law of total covariance) at
        // t = 1, and N(0, I) at t = 0 (CondOT with σ_min = 0 makes both endpoints exact).
        // Tolerance: 4 standard errors of 20 000 particles (s.e. from the particles themselves:
        // ≈ 0.012 for the means, 0.012–0.018 for the covariance entries) plus the step bias.
        // The bias of Euler–Maruyama is O(h) (weak order 1); measured with 200 000 particles and
        // g = 1 it is ≈ −2.4/steps on the largest covariance entry (−0.024 at 100 steps, −0.011
        // at 200) and within sampling error on the means, so 400 steps leave ≲ 0.006; allowed:
        // 0.005 on means, 0.01 on covariances.
        let field = GmmField::new(three_component(), CondOt::default());
        let sde = EulerMaruyama::new(Diffusion::Constant(1.0))
            .steps(400)
            .seed(4);
        let noise = Toy::Gaussian { dim: 2 }.sample(20_000, 21);
        let forward = sde.solve(&field, &noise, 0.0, 1.0).unwrap();
        assert!(forward.status.is_completed());
        assert_eq!(forward.stats.nfe, 800);
        let gmm = field.mixture();
        assert_moments(&forward.x, &gmm.mean(), &gmm.covariance(), 4.0, 0.005, 0.01);
        assert_eq!(forward.x, sde.solve(&field, &noise, 0.0, 1.0).unwrap().x);

        // Backward in time (data to noise) the score term flips sign (module documentation).
        let data = gmm.sample(20_000, 22);
        let backward = sde.solve(&field, &data, 1.0, 0.0).unwrap();
        let identity = Matrix::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 0.0 });
        assert_moments(&backward.x, &[0.0, 0.0], &identity, 4.0, 0.005, 0.01);
    }

    #[test]
    fn probability_flow_ode_has_the_target_moments() {
        // Truth: as above. g = 0 makes Euler–Maruyama the Euler ODE solver, bit for bit; the
        // probability-flow ODE solved by Dopri5 at 1e-8 pushes N(0, I) samples to samples of the
        // mixture (discretization error ≈ 1e-7, negligible), so only the sampling error of 20 000
        // particles remains: 4 standard errors.
        let field = GmmField::new(three_component(), CondOt::default());
        let noise = Toy::Gaussian { dim: 2 }.sample(20_000, 23);
        let em = EulerMaruyama::new(Diffusion::Constant(0.0))
            .steps(50)
            .solve(&field, &noise, 0.0, 1.0)
            .unwrap();
        let euler = crate::sampler::OdeSolver::new(crate::sampler::Method::Euler)
            .steps(50)
            .solve(&field, &noise, 0.0, 1.0)
            .unwrap();
        assert_eq!(em.x, euler.x);
        assert_eq!(em.stats, euler.stats);
        let flow = crate::sampler::OdeSolver::new(crate::sampler::Method::Dopri5)
            .tolerances(1e-8, 1e-8)
            .solve(&field, &noise, 0.0, 1.0)
            .unwrap();
        let gmm = field.mixture();
        assert_moments(&flow.x, &gmm.mean(), &gmm.covariance(), 4.0, 0.0, 0.0);
    }

    #[test]
    fn options_are_validated() {
        let field = GmmField::new(three_component(), CondOt::default());
        let x = Toy::Gaussian { dim: 2 }.sample(4, 0);
        let err = EulerMaruyama::new(Diffusion::Constant(-1.0))
            .solve(&field, &x, 0.0, 1.0)
            .unwrap_err();
        assert!(matches!(
            err,
            crate::error::Error::InvalidOption {
                name: "diffusion",
                ..
            }
        ));
        let negative = Diffusion::Function(Arc::new(|t| 0.5 - t));
        let sol = EulerMaruyama::new(negative)
            .steps(10)
            .solve(&field, &x, 0.0, 1.0)
            .unwrap();
        assert_eq!(sol.status, Status::Diverged);
        assert!(sol.t > 0.5 && sol.t < 0.7, "{}", sol.t);
    }
}

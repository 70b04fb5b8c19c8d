//! Exact likelihoods through the probability-flow ODE (instantaneous change of variables, Chen et
//! al. 2018, Thm. 1; Grathwohl et al., FFJORD, ICLR 2019; Lipman et al. 2023, App. C; MATH.md §7).
//!
//! Along a trajectory of `dx/dt = u_t(x)`, `d log p_t(x_t)/dt = −∇·u_t(x_t)`. So the log-density of
//! a point x at the data end t1 follows from the known law p_{t0} at the source end t0 by
//! integrating the augmented state (x, ℓ) **backward** from t1 to t0 with `dℓ/dt = ∇·u_t(x)`,
//! ℓ(t1) = 0:
//!
//! `log p_{t1}(x) = log p_{t0}(x(t0)) + ℓ(t0)`, `ℓ(t0) = −∫_{t0}^{t1} ∇·u_t(x_t) dt`
//!
//! (flow_matching's `ODESolver.compute_likelihood` convention). The augmented field of dimension
//! d + 1 is integrated by [`OdeSolver`], so every method, step count, tolerance and stopping rule
//! of the samplers applies. The divergence is exact (d Jacobian–vector products per evaluation) or
//! Hutchinson's estimate with K Rademacher probes per point, drawn once per solve and held fixed
//! along the trajectory, which keeps ℓ(t0) an unbiased estimate of the exact integral (FFJORD §3.1).
//! ℓ is a quadrature — no derivative reads it — so a Runge–Kutta stage that neither the step nor
//! the error estimate weighs needs the velocity alone: midpoint (b = (0, 1)) computes the
//! divergence at its second stage only, with the same result as computing it at both.
//!
//! p_{t0} must be the exact law of the path at t0: N(0, I) for an affine path from noise whose
//! α_{t0} = 0, N(0, (1 + σ²) I) for torchcfm's constant-σ interpolant from N(0, I) (the noise
//! widens the source), a Gaussian mixture's closed form for [`crate::field::GmmField`].

use std::ops::Range;

use otto_ot::Matrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{check_finite, ensure, Error, Result};
use crate::field::{Divergence, VectorField};
use crate::sampler::row_blocks::solve_stacked;
use crate::sampler::{Method, OdeSolver, Record, Stats, Status};

/// How the divergence `∇·u_t(x)` is computed along the trajectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DivergenceEstimator {
    /// Exactly, as the trace of the Jacobian from d Jacobian–vector products per evaluation.
    #[default]
    Exact,
    /// Hutchinson's unbiased estimate `(1/K) Σ_k z_kᵀ J z_k` with `probes` = K ≥ 1 Rademacher
    /// vectors per point, drawn once per solve from `seed` and held fixed along the trajectory
    /// (K products per evaluation; worth it when K ≪ d).
    Hutchinson {
        /// K, the number of probes per point.
        probes: usize,
        /// Seed of the probes.
        seed: u64,
    },
}

/// The offset that turns bits per dimension of continuous data into bits per dimension of the
/// 8-bit data it was scaled from, under uniform dequantization (Theis et al. 2016): the density of
/// the dequantized integers in [0, 256)^d is the density of the scaled data divided by the scale's
/// Jacobian, i.e. `+log2(256) = 8` bits for data scaled to [0, 1] and `+log2(128) = 7` for data
/// scaled to [−1, 1] (score_sde's `bits_per_dim` adds 7; Lipman et al. 2023, App. C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dequantization {
    /// Continuous data: no offset (the default).
    #[default]
    None,
    /// 8-bit data scaled to [−1, 1]: +7 bits per dimension.
    SignedByte,
    /// 8-bit data scaled to [0, 1]: +8 bits per dimension.
    UnsignedByte,
}

impl Dequantization {
    /// The offset in bits per dimension (0, 7 or 8).
    pub fn offset_bits(&self) -> f64 {
        match self {
            Dequantization::None => 0.0,
            Dequantization::SignedByte => 7.0,
            Dequantization::UnsignedByte => 8.0,
        }
    }
}

/// Bits per dimension of a mean negative log-likelihood in nats, in dimension d:
/// `BPD = NLL / (d ln 2) + offset` (MATH.md §7).
pub fn bits_per_dim(nll_nats: f64, dim: usize, dequantization: Dequantization) -> f64 {
    nll_nats / (dim as f64 * std::f64::consts::LN_2) + dequantization.offset_bits()
}

/// Options of the likelihood computation; build with [`Likelihood::new`] and the setters, run
/// with [`Likelihood::log_density`].
///
/// ```
/// use otto::data::GaussianMixture;
/// use otto::field::GmmField;
/// use otto::likelihood::Likelihood;
/// use otto::path::CondOt;
/// use otto::sampler::{Method, OdeSolver};
/// let field = GmmField::new(GaussianMixture::eight_gaussians(), CondOt::default());
/// let x = GaussianMixture::eight_gaussians().sample(100, 0);
/// let result = Likelihood::new(OdeSolver::new(Method::Rk4).steps(100))
///     .log_density(&field, &x, 1.0, 0.0, |x0| field.log_density(0.0, x0))
///     .unwrap();
/// let exact = field.mixture().log_density(&x);
/// assert!((result.log_density[0] - exact[0]).abs() < 1e-4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Likelihood {
    ode: OdeSolver,
    divergence: DivergenceEstimator,
}

impl Default for Likelihood {
    /// RK4 with 100 steps (400 evaluations), exact divergence.
    ///
    /// Not Dopri5 (flow_matching's and FFJORD's default, atol = rtol = 1e-5): the divergence of a
    /// network with SELU or ReLU activations jumps where a pre-activation crosses 0, and Dopri5's
    /// error control, which every point of the batch must pass, then shrinks the step at every
    /// crossing of every point. Measured on a trained 3×64 SELU velocity network (gaussian →
    /// 8gaussians, 2000 points): Dopri5 at 1e-5 took 4934 evaluations, RK4 with 100 steps 400, and
    /// the mean NLL of RK4 with 100 and 200 steps agree to 5e-6 nats.
    fn default() -> Self {
        Self::new(OdeSolver::new(Method::Rk4).steps(100))
    }
}

impl Likelihood {
    /// Integrates with `ode` (any method, steps and tolerances; its record option is ignored),
    /// exact divergence.
    pub fn new(ode: OdeSolver) -> Self {
        Self {
            ode: ode.record(Record::Final),
            divergence: DivergenceEstimator::Exact,
        }
    }

    /// How the divergence is computed (default [`DivergenceEstimator::Exact`]).
    pub fn divergence(mut self, divergence: DivergenceEstimator) -> Self {
        self.divergence = divergence;
        self
    }

    /// `log p_{t1}(x_i)` in nats for every row of `x` (the points at time t1, usually the data
    /// end), given `log_p0`, the exact log-density of the law at t0 (module documentation).
    ///
    /// Errors: [`Error::Empty`], [`Error::Shape`] (points not of the field's dimension, or
    /// `log_p0` returning a wrong number of values), [`Error::NonFinite`] (points or times),
    /// [`Error::InvalidOption`] (no probes, or a bad option of the ODE solver).
    pub fn log_density<F: Divergence + Sync + ?Sized>(
        &self,
        field: &F,
        x: &Matrix,
        t1: f64,
        t0: f64,
        log_p0: impl Fn(&Matrix) -> Vec<f64>,
    ) -> Result<LogDensity> {
        let (n, d) = x.shape();
        if n == 0 {
            return Err(Error::Empty { what: "points" });
        }
        if d != field.dim() {
            return Err(Error::Shape {
                what: "points",
                expected: format!("{} columns (the field's dimension)", field.dim()),
                got: format!("{d} columns"),
            });
        }
        check_finite("points", x.as_slice())?;
        let probes = match self.divergence {
            DivergenceEstimator::Exact => None,
            DivergenceEstimator::Hutchinson { probes, seed } => {
                ensure(
                    probes >= 1,
                    "probes",
                    probes as f64,
                    "Hutchinson's estimator needs at least one probe per point",
                )?;
                Some(rademacher(probes, n, d, seed))
            }
        };
        let start = Matrix::from_fn(n, d + 1, |i, j| if j < d { x.get(i, j) } else { 0.0 });
        // Each row's (x, log-density change) evolves on its own, with its own fixed probes: under
        // a fixed-step solver the rows are solved in blocks, each with its rows of the probes.
        let solve = |rows: Range<usize>, start: &Matrix| {
            let probes = probes.as_ref().map(|probes| {
                let rows_of =
                    |p: &Matrix| Matrix::from_fn(rows.len(), d, |i, j| p.get(rows.start + i, j));
                probes.iter().map(rows_of).collect()
            });
            self.ode.solve(&Augmented { field, probes }, start, t1, t0)
        };
        let solution = if self.ode.rows_are_independent() {
            solve_stacked(&start, |first, block| {
                solve(first..first + block.rows(), block)
            })?
        } else {
            solve(0..n, &start)?
        };
        let x0 = Matrix::from_fn(n, d, |i, j| solution.x.get(i, j));
        let log_density = if solution.status.is_completed() {
            let base = log_p0(&x0);
            if base.len() != n {
                return Err(Error::Shape {
                    what: "log-density of the law at t0",
                    expected: format!("{n} values (one per point)"),
                    got: format!("{} values", base.len()),
                });
            }
            base.iter()
                .enumerate()
                .map(|(i, b)| b + solution.x.get(i, d))
                .collect()
        } else {
            vec![f64::NAN; n]
        };
        Ok(LogDensity {
            log_density,
            x0,
            t: solution.t,
            status: solution.status,
            stats: solution.stats,
        })
    }
}

/// The result of [`Likelihood::log_density`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogDensity {
    /// `log p_{t1}(x_i)` in nats, one per point; NaN unless the integration completed.
    pub log_density: Vec<f64>,
    /// The points carried back to time `t` (t0 when completed).
    pub x0: Matrix,
    /// The time the integration reached.
    pub t: f64,
    /// How the integration stopped.
    pub status: Status,
    /// Counts of the ODE solver; one evaluation is one velocity on the whole batch and, unless
    /// the stage's weights never read ℓ's derivative (midpoint's first stage, Dopri5's second:
    /// [`VectorField::velocity_skipping_quadratures`]), d (exact) or K (Hutchinson)
    /// Jacobian–vector products.
    pub stats: Stats,
}

impl LogDensity {
    /// The mean negative log-likelihood `−(1/n) Σ_i log p(x_i)`, in nats.
    pub fn nll(&self) -> f64 {
        -self.log_density.iter().sum::<f64>() / self.log_density.len() as f64
    }

    /// The mean negative log-likelihood in bits per dimension, [`bits_per_dim`] of [`Self::nll`].
    pub fn bits_per_dim(&self, dequantization: Dequantization) -> f64 {
        bits_per_dim(self.nll(), self.x0.cols(), dequantization)
    }
}

/// `probes` matrices n×d of independent Rademacher signs ±1, from `seed`.
fn rademacher(probes: usize, n: usize, d: usize, seed: u64) -> Vec<Matrix> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..probes)
        .map(|_| Matrix::from_fn(n, d, |_, _| if rng.gen::<bool>() { 1.0 } else { -1.0 }))
        .collect()
}

/// The augmented field `(x, ℓ) ↦ (u_t(x), ∇·u_t(x))` of dimension d + 1.
struct Augmented<'a, F: ?Sized> {
    field: &'a F,
    probes: Option<Vec<Matrix>>,
}

impl<F: Divergence + ?Sized> VectorField for Augmented<'_, F> {
    fn dim(&self) -> usize {
        self.field.dim() + 1
    }

    fn velocity(&self, t: f64, state: &Matrix, out: &mut Matrix) {
        self.evaluate(t, state, out, true);
    }

    /// ℓ is a quadrature: the velocity alone, ℓ's derivative 0 (no divergence computed).
    fn velocity_skipping_quadratures(&self, t: f64, state: &Matrix, out: &mut Matrix) {
        self.evaluate(t, state, out, false);
    }
}

impl<F: Divergence + ?Sized> Augmented<'_, F> {
    /// `(u_t(x), ∇·u_t(x))` per row into `out`, or `(u_t(x), 0)` without `divergence`.
    fn evaluate(&self, t: f64, state: &Matrix, out: &mut Matrix, divergence: bool) {
        let (n, d) = (state.rows(), self.field.dim());
        let mut x = Matrix::zeros(n, d);
        for (x, state) in x
            .as_mut_slice()
            .chunks_exact_mut(d)
            .zip(state.as_slice().chunks_exact(d + 1))
        {
            x.iter_mut().zip(state).for_each(|(x, s)| *x = *s);
        }
        let mut u = Matrix::zeros(n, d);
        let mut div = vec![0.0; n];
        match &self.probes {
            _ if !divergence => self.field.velocity(t, &x, &mut u),
            None => self.field.velocity_and_divergence(t, &x, &mut u, &mut div),
            Some(probes) => self
                .field
                .velocity_and_hutchinson(t, &x, probes, &mut u, &mut div),
        }
        // Element by element: a copy_from_slice of d values per row is a call to memmove.
        let rows = out.as_mut_slice().chunks_exact_mut(d + 1);
        for ((row, u), div) in rows.zip(u.as_slice().chunks_exact(d)).zip(div) {
            row.iter_mut().zip(u).for_each(|(o, u)| *o = *u);
            row[d] = div;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::gmm::tests::three_component;
    use crate::field::GmmField;
    use crate::path::{CondOt, Schedule, VpLinear, VpTrig};

    /// 64 draws of the mixture plus three points in its tails.
    fn points() -> Matrix {
        let sample = three_component().sample(64, 5);
        let mut rows: Vec<Vec<f64>> = (0..64).map(|i| sample.row(i).to_vec()).collect();
        rows.extend([vec![4.0, 3.0], vec![-3.5, -3.0], vec![0.3, 4.0]]);
        Matrix::from_rows(&rows).unwrap()
    }

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    /// The largest error of the likelihood against the closed form, over the 64 mixture draws
    /// and over the 3 tail points of [`points`], and the result.
    fn gmm_error<S: Schedule>(schedule: S, ode: OdeSolver) -> ([f64; 2], LogDensity) {
        let field = GmmField::new(three_component(), schedule);
        let x = points();
        let result = Likelihood::new(ode)
            .log_density(&field, &x, 1.0, 0.0, |x0| field.log_density(0.0, x0))
            .unwrap();
        assert!(result.status.is_completed());
        let exact = field.mixture().log_density(&x);
        let (got, exact) = (&result.log_density, &exact);
        let errors = [
            max_abs_diff(&got[..64], &exact[..64]),
            max_abs_diff(&got[64..], &exact[64..]),
        ];
        (errors, result)
    }

    #[test]
    fn gmm_log_density_matches_the_closed_form() {
        // Truth: the mixture's closed-form log-density at t = 1 (data/gmm.rs, itself checked
        // against the hand-written 2×2 formula). On cond-ot (σ_min = 0) both ends are regular:
        // p_1 is the mixture itself (S_k SPD) and p_0 = N(0, I), so the flow runs over the whole
        // of [0, 1] and the closed form at t0 = 0 is exact.
        // The issue's criterion, RK4 with 100 steps within 1e-5 on points of the mixture: measured
        // 1.0e-7 over 64 draws, asserted < 1e-6. The tail points, whose backward paths cross the
        // boundaries between components where the responsibilities switch fast, are the hardest:
        // measured 9.4e-6 (asserted < 2e-5), 4.9e-7 with 200 steps — a 19× drop, RK4's fourth
        // order (asserted > 12×). Other schedules with Dopri5 at 1e-9: within 1e-6 (measured
        // vp-trig 1.3e-8, vp-linear 1.1e-8; VP-linear's α_0 ≈ 6.4e-3 is in the closed form at
        // t0 = 0, so no approximation enters).
        let rk4 = |steps| OdeSolver::new(Method::Rk4).steps(steps);
        let ([data, tails], result) = gmm_error(CondOt::default(), rk4(100));
        assert!(
            data < 1e-6,
            "cond-ot rk4 100 steps, mixture draws: {data:e}"
        );
        assert!(
            tails < 2e-5,
            "cond-ot rk4 100 steps, tail points: {tails:e}"
        );
        assert_eq!(result.stats.nfe, 400);
        assert_eq!(result.t, 0.0);
        let ([_, finer], _) = gmm_error(CondOt::default(), rk4(200));
        assert!(
            tails / finer > 12.0,
            "RK4 100 → 200 steps: {tails:e} → {finer:e}"
        );
        // Midpoint evaluates the divergence at its second stage only (its first stage's weight is
        // 0): still second order on the log-density. Mixture draws: 5.4e-4 with 100 steps,
        // 1.3e-4 with 200 (asserted < 1e-3 and a drop > 3.5×).
        let midpoint = |steps| OdeSolver::new(Method::Midpoint).steps(steps);
        let ([coarse, _], result) = gmm_error(CondOt::default(), midpoint(100));
        let ([fine, _], _) = gmm_error(CondOt::default(), midpoint(200));
        assert!(coarse < 1e-3, "cond-ot midpoint 100 steps: {coarse:e}");
        assert!(
            coarse / fine > 3.5,
            "midpoint 100 → 200 steps: {coarse:e} → {fine:e}"
        );
        assert_eq!(result.stats.nfe, 200);
        let dopri = || OdeSolver::new(Method::Dopri5).tolerances(1e-9, 1e-9);
        for (name, [data, tails]) in [
            ("vp-trig", gmm_error(VpTrig, dopri()).0),
            ("vp-linear", gmm_error(VpLinear::default(), dopri()).0),
        ] {
            assert!(
                data.max(tails) < 1e-6,
                "{name} dopri5 1e-9: {data:e}, {tails:e}"
            );
        }
    }

    #[test]
    fn hutchinson_is_unbiased_with_spread_falling_as_one_over_root_k() {
        // Truth: the exact-divergence solve on the same grid (itself within 1e-7 of the closed
        // form, above). With the probes fixed along the path, x(t) does not depend on them and
        // the estimate of ℓ(0) is zᵀ B z with B = −∫ J dt: unbiased, with variance ∝ 1/K. For
        // S = 60 seeds and each point i, e_is = estimate − exact:
        // (1) unbiased: each point's mean over seeds divided by its standard error is ≈ N(0, 1)
        //     and independent across points; their sum over n points divided by √n must be
        //     within ±4 (measured 1.0 for K = 1, 0.12 for K = 16);
        // (2) spread ∝ 1/√K: log(RMS_s e_is at K = 1 / RMS_s e_is at K = 16) averaged over the
        //     points is log 4, within 4 standard errors of that mean as measured from its spread
        //     over the points, plus 0.01 for the bias of a log of an RMS over 60 seeds
        //     (≈ s.e.²/2 ≈ 0.004). Measured: ratio 4.06, standard error of its log 0.011.
        let field = GmmField::new(three_component(), CondOt::default());
        let x = points();
        let n = x.rows();
        let ode = OdeSolver::new(Method::Rk4).steps(25);
        let solve = |divergence| {
            Likelihood::new(ode.clone())
                .divergence(divergence)
                .log_density(&field, &x, 1.0, 0.0, |x0| field.log_density(0.0, x0))
                .unwrap()
                .log_density
        };
        let exact = solve(DivergenceEstimator::Exact);
        let seeds = 60;
        // errors[i][s] for point i and seed s.
        let errors = |probes: usize| -> Vec<Vec<f64>> {
            let runs: Vec<Vec<f64>> = (0..seeds)
                .map(|seed| solve(DivergenceEstimator::Hutchinson { probes, seed }))
                .collect();
            (0..n)
                .map(|i| runs.iter().map(|run| run[i] - exact[i]).collect())
                .collect()
        };
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (one, sixteen) = (errors(1), errors(16));
        for (probes, errors) in [(1, &one), (16, &sixteen)] {
            let pooled = errors
                .iter()
                .map(|e| {
                    let m = mean(e);
                    let var = e.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (seeds - 1) as f64;
                    m / (var / seeds as f64).sqrt().max(1e-300)
                })
                .sum::<f64>()
                / (n as f64).sqrt();
            assert!(
                pooled.abs() < 4.0,
                "K = {probes}: biased, pooled z = {pooled}"
            );
        }
        let rms = |e: &[f64]| mean(&e.iter().map(|v| v * v).collect::<Vec<_>>()).sqrt();
        let logs: Vec<f64> = one
            .iter()
            .zip(&sixteen)
            .map(|(a, b)| (rms(a) / rms(b)).ln())
            .collect();
        let m = mean(&logs);
        let se = (logs.iter().map(|l| (l - m).powi(2)).sum::<f64>() / ((n - 1) * n) as f64).sqrt();
        assert!(
            (m - 4f64.ln()).abs() < 4.0 * se + 0.01,
            "RMS ratio K=1 / K=16 = {:.3} (s.e. of its log {se:.3}), expected 4",
            m.exp()
        );
    }

    #[test]
    fn bits_per_dim_and_bad_options() {
        // Truth: BPD = NLL/(d ln 2) + offset by definition; a zero-probe estimator, points of the
        // wrong dimension and a wrong-length log p0 are named errors.
        assert!(
            (bits_per_dim(2.0 * std::f64::consts::LN_2, 2, Dequantization::None) - 1.0).abs()
                < 1e-15
        );
        assert_eq!(bits_per_dim(0.0, 3, Dequantization::SignedByte), 7.0);
        assert_eq!(bits_per_dim(0.0, 3, Dequantization::UnsignedByte), 8.0);
        let field = GmmField::new(three_component(), CondOt::default());
        let x = points();
        let log_p0 = |x0: &Matrix| field.log_density(0.0, x0);
        let zero = Likelihood::default()
            .divergence(DivergenceEstimator::Hutchinson { probes: 0, seed: 0 })
            .log_density(&field, &x, 1.0, 0.0, log_p0);
        assert!(matches!(
            zero,
            Err(Error::InvalidOption { name: "probes", .. })
        ));
        let wide = Matrix::zeros(3, 5);
        assert!(matches!(
            Likelihood::default().log_density(&field, &wide, 1.0, 0.0, log_p0),
            Err(Error::Shape { what: "points", .. })
        ));
        let short = Likelihood::default().log_density(&field, &x, 1.0, 0.0, |_| vec![0.0]);
        assert!(matches!(short, Err(Error::Shape { .. })));
        let mut nan = x.clone();
        nan.set(2, 1, f64::NAN);
        assert!(matches!(
            Likelihood::default().log_density(&field, &nan, 1.0, 0.0, log_p0),
            Err(Error::NonFinite { .. })
        ));
    }
}

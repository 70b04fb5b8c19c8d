//! EDM's stochastic Heun sampler (Karras et al. 2022, Alg. 2; NVlabs/edm `generate.py`), on any
//! affine schedule through the variance-exploding variables `y = x/α`, `σ̃ = σ/α` (= e^{−λ}), in
//! which every affine path's probability flow is `dy/dσ̃ = (y − D(y; σ̃))/σ̃` with
//! `D(y; σ̃) = E[x1 | x = α y]` (MATH.md §4). For each step σ̃_i → σ̃_{i+1}:
//! `γ = min(S_churn/N, √2 − 1)` if `S_min ≤ σ̃_i ≤ S_max` else 0, `σ̂ = σ̃_i(1 + γ)`,
//! `ŷ = y + √(σ̂² − σ̃_i²) S_noise z`, `d = (ŷ − D(ŷ; σ̂))/σ̂`, `y' = ŷ + (σ̃_{i+1} − σ̂) d`, and, unless
//! σ̃_{i+1} = 0, the trapezoidal correction `y' = ŷ + (σ̃_{i+1} − σ̂)(d + d')/2` with
//! `d' = (y' − D(y'; σ̃_{i+1}))/σ̃_{i+1}`: NFE = 2N − 1 on a grid ending at σ = 0. The churned
//! level σ̂ is mapped back to a time through the schedule's λ inverse. Without the correction it
//! is EDM's Euler sampler (= DDIM(η = 0) and DPM-Solver++(1), MATH.md §4).
//! Deterministic defaults: S_churn = 0, S_min = 0, S_max = ∞, S_noise = 1; the paper's
//! ImageNet-64 setting is S_churn 40, S_min 0.05, S_max 50, S_noise 1.003.

use otto_ot::Matrix;

use super::diffusion::{noise_and_record_setters, sample, NoiseSource, Run, Update};
use super::{Record, Solution};
use crate::error::{ensure, Result};
use crate::field::Denoiser;
use crate::path::Level;

/// Options of the EDM sampler; build with [`EdmHeun::new`] and the setters, run with
/// [`EdmHeun::solve`].
#[derive(Debug, Clone, PartialEq)]
pub struct EdmHeun {
    second_order: bool,
    s_churn: f64,
    s_min: f64,
    s_max: f64,
    s_noise: f64,
    noise: NoiseSource,
    record: Record,
}

impl Default for EdmHeun {
    /// Heun, deterministic (S_churn = 0), seed 0, final state only.
    fn default() -> Self {
        Self::new()
    }
}

impl EdmHeun {
    /// The deterministic Heun sampler (S_churn = 0, S_min = 0, S_max = ∞, S_noise = 1).
    pub fn new() -> Self {
        Self {
            second_order: true,
            s_churn: 0.0,
            s_min: 0.0,
            s_max: f64::INFINITY,
            s_noise: 1.0,
            noise: NoiseSource::default(),
            record: Record::Final,
        }
    }

    /// EDM's Euler sampler: the same steps without the trapezoidal correction.
    pub fn euler() -> Self {
        Self {
            second_order: false,
            ..Self::new()
        }
    }

    /// The stochasticity S_churn ≥ 0 and the range [S_min, S_max] of σ/α where it applies.
    pub fn churn(mut self, s_churn: f64, s_min: f64, s_max: f64) -> Self {
        (self.s_churn, self.s_min, self.s_max) = (s_churn, s_min, s_max);
        self
    }

    /// The scale S_noise > 0 of the added noise (default 1).
    pub fn s_noise(mut self, s_noise: f64) -> Self {
        self.s_noise = s_noise;
        self
    }

    noise_and_record_setters!();

    /// Steps the rows of `x` (the points at `levels[0]`) through `levels` (noise to data).
    ///
    /// Errors: [`crate::error::Error::InvalidOption`] for a negative or non-finite S_churn, S_min
    /// above S_max, S_noise ≤ 0, or bad levels; bad points as [`super::OdeSolver::solve`].
    pub fn solve(&self, denoiser: &dyn Denoiser, x: &Matrix, levels: &[Level]) -> Result<Solution> {
        ensure(
            self.s_churn >= 0.0 && self.s_churn.is_finite(),
            "s_churn",
            self.s_churn,
            "must be non-negative and finite",
        )?;
        ensure(
            self.s_min <= self.s_max && self.s_min >= 0.0,
            "s_min",
            self.s_min,
            "must be non-negative and at most s_max",
        )?;
        ensure(
            self.s_noise > 0.0 && self.s_noise.is_finite(),
            "s_noise",
            self.s_noise,
            "must be positive and finite",
        )?;
        let run = Run::start(denoiser, x, levels, self.noise, &self.record)?;
        let steps = levels.len() - 1;
        let schedule = denoiser.schedule();
        let (n, d) = x.shape();
        let (mut churned, mut denoised) = (Matrix::zeros(n, d), Matrix::zeros(n, d));
        let gamma_max = (self.s_churn / steps as f64).min(std::f64::consts::SQRT_2 - 1.0);
        Ok(sample(run, levels, |run, _, s, t| {
            let sigma_s = s.sigma_edm();
            let gamma = if (self.s_min..=self.s_max).contains(&sigma_s) {
                gamma_max
            } else {
                0.0
            };
            // The churned level: σ̂ = σ̃_s(1 + γ), its time from λ = −log σ̂.
            let hat = if gamma > 0.0 {
                Level::at(
                    schedule,
                    schedule.time_of_log_snr(-(sigma_s * (1.0 + gamma)).ln()),
                )
            } else {
                *s
            };
            let sigma_hat = hat.sigma_edm();
            // x̂ = α̂ ŷ with ŷ = x/α_s + √(σ̂² − σ̃_s²) S_noise z.
            let spread = (sigma_hat * sigma_hat - sigma_s * sigma_s).max(0.0).sqrt() * self.s_noise;
            if gamma > 0.0 {
                run.draw_noise();
            }
            run.apply(
                Update {
                    x: hat.alpha / s.alpha,
                    m: [0.0; 3],
                    noise: hat.alpha * spread,
                },
                false,
            );
            run.denoise_current(&hat);
            // Euler in (y, σ̃): y' = ŷ + (σ̃_t − σ̂)(ŷ − D)/σ̂ = (σ̃_t/σ̂) ŷ + (1 − σ̃_t/σ̂) D, in x.
            let sigma_t = t.sigma_edm();
            let ratio = sigma_t / sigma_hat;
            let euler = Update {
                x: ratio * t.alpha / hat.alpha,
                m: [t.alpha * (1.0 - ratio), 0.0, 0.0],
                noise: 0.0,
            };
            if !self.second_order || t.sigma == 0.0 {
                run.apply(euler, false);
                return;
            }
            churned.as_mut_slice().copy_from_slice(run.x.as_slice());
            run.apply(euler, false);
            // y'' = ŷ + (σ̃_t − σ̂)(d + d')/2 with d = (ŷ − D̂)/σ̂, d' = (y' − D')/σ̃_t, in x = α y.
            run.denoise_points(t, &mut denoised);
            let step = sigma_t - sigma_hat;
            for (((x, c), m_hat), m_t) in run
                .x
                .as_mut_slice()
                .iter_mut()
                .zip(churned.as_slice())
                .zip(run.m[0].as_slice())
                .zip(denoised.as_slice())
            {
                let y_hat = c / hat.alpha;
                let d = (y_hat - m_hat) / sigma_hat;
                let d_t = (*x / t.alpha - m_t) / sigma_t;
                *x = t.alpha * (y_hat + 0.5 * step * (d + d_t));
            }
        }))
    }
}

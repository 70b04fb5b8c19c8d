//! The predictor–corrector sampler of score-based SDEs (Song et al. 2021, Alg. 1–3;
//! score_sde_pytorch `sampling.py`), on any affine schedule with its forward SDE
//! `dX = f X ds + g dW_s` ([`crate::path::Schedule::drift`], [`crate::path::Schedule::diffusion`])
//! and the score `∇log p = (α x̂1 − x)/σ²` of the denoiser. At each level, first the corrector:
//! `corrector_steps` Langevin steps `x ← x + ε ∇log p + √(2ε) z` with
//! `ε = 2 a (snr ‖z‖/‖∇log p‖)²` (norms per row, averaged over the batch; a = e^{2fΔ}, score_sde's
//! α_i = 1 − β_i for VP/sub-VP and 1 for VE), then the predictor: one Euler–Maruyama step of the
//! reverse SDE, in otto's time `x ← x + (−f x + g² ∇log p) Δt + g √Δt z`. A step to σ = 0 returns
//! x̂1; without one, the last predictor step returns its noise-free mean (score_sde's
//! `noise_removal`). With no corrector steps it is the reverse-SDE Euler–Maruyama sampler.

use otto_ot::Matrix;

use super::diffusion::{noise_and_record_setters, sample, NoiseSource, Run, Update};
use super::{Record, Solution};
use crate::error::{ensure, Result};
use crate::field::Denoiser;
use crate::path::Level;

/// Options of the predictor–corrector sampler; build with [`PredictorCorrector::new`] and the
/// setters, run with [`PredictorCorrector::solve`].
#[derive(Debug, Clone, PartialEq)]
pub struct PredictorCorrector {
    corrector_steps: usize,
    snr: f64,
    noise: NoiseSource,
    record: Record,
}

impl Default for PredictorCorrector {
    /// One corrector step, snr = 0.16 (score_sde's VE setting), seed 0, final state only.
    fn default() -> Self {
        Self::new(1)
    }
}

impl PredictorCorrector {
    /// `corrector_steps` Langevin steps per level (0: plain reverse-SDE Euler–Maruyama), snr 0.16.
    pub fn new(corrector_steps: usize) -> Self {
        Self {
            corrector_steps,
            snr: 0.16,
            noise: NoiseSource::default(),
            record: Record::Final,
        }
    }

    /// The corrector's signal-to-noise ratio (default 0.16).
    pub fn snr(mut self, snr: f64) -> Self {
        self.snr = snr;
        self
    }

    noise_and_record_setters!();

    /// Steps the rows of `x` (the points at `levels[0]`) through `levels` (noise to data):
    /// `corrector_steps + 1` denoiser calls per level.
    ///
    /// Errors: [`crate::error::Error::InvalidOption`] for snr ≤ 0 or bad levels; bad points as
    /// [`super::OdeSolver::solve`].
    pub fn solve(&self, denoiser: &dyn Denoiser, x: &Matrix, levels: &[Level]) -> Result<Solution> {
        ensure(
            self.snr > 0.0 && self.snr.is_finite(),
            "snr",
            self.snr,
            "must be positive and finite",
        )?;
        let run = Run::start(denoiser, x, levels, self.noise, &self.record)?;
        let steps = levels.len() - 1;
        let schedule = denoiser.schedule();
        let d = x.cols();
        Ok(sample(run, levels, |run, k, s, t| {
            let dt = t.t - s.t;
            let (f, g) = (schedule.drift(s.t), schedule.diffusion(s.t));
            // ∇log p = (α m − x)/σ²: affine in x and m.
            let inv_var = 1.0 / (s.sigma * s.sigma);
            for _ in 0..self.corrector_steps {
                run.denoise_current(s);
                let (mut grad_norm, mut noise_norm) = (0.0, 0.0);
                run.draw_noise();
                for ((row_x, row_m), row_z) in run
                    .x
                    .as_slice()
                    .chunks(d)
                    .zip(run.m[0].as_slice().chunks(d))
                    .zip(run.z.as_slice().chunks(d))
                {
                    let score: f64 = row_x
                        .iter()
                        .zip(row_m)
                        .map(|(x, m)| ((s.alpha * m - x) * inv_var).powi(2))
                        .sum();
                    grad_norm += score.sqrt();
                    noise_norm += row_z.iter().map(|v| v * v).sum::<f64>().sqrt();
                }
                let a = (2.0 * f * dt.abs()).exp();
                let eps = 2.0 * a * (self.snr * noise_norm / grad_norm).powi(2);
                run.apply(
                    Update {
                        x: 1.0 - eps * inv_var,
                        m: [eps * s.alpha * inv_var, 0.0, 0.0],
                        noise: (2.0 * eps).sqrt(),
                    },
                    false,
                );
            }
            run.denoise_current(s);
            if t.sigma == 0.0 {
                run.apply(
                    Update {
                        x: 0.0,
                        m: [t.alpha, 0.0, 0.0],
                        noise: 0.0,
                    },
                    false,
                );
                return;
            }
            let last = k + 1 == steps;
            run.apply(
                Update {
                    x: 1.0 + (-f - g * g * inv_var) * dt,
                    m: [g * g * s.alpha * inv_var * dt, 0.0, 0.0],
                    noise: if last { 0.0 } else { g * dt.sqrt() },
                },
                true,
            );
        }))
    }
}

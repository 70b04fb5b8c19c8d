//! DDIM (Song, Meng & Ermon 2021, eq. 12) on any affine schedule: from the denoised
//! x̂1 = D(x_s, s) and ε̂ = (x_s − α_s x̂1)/σ_s,
//! `x_t = α_t x̂1 + √(σ_t² − σ_η²) ε̂ + σ_η z`, `σ_η = η σ_t √(1 − e^{−2h})`.
//! In the VP case σ_η is diffusers' `η (σ_t/σ_s)√(1 − α_s²/α_t²)`; written through h it holds for
//! every schedule. η = 0 is deterministic and equals DPM-Solver++(1) and Euler in EDM's σ/α
//! (MATH.md §4); η = 1 is ancestral DDPM:
//! `x_t = (σ_t/σ_s)e^{−h} x_s + α_t(1 − e^{−2h}) x̂1 + σ_t √(1 − e^{−2h}) z`.

use otto_ot::Matrix;

use super::diffusion::{exp_neg_h, noise_and_record_setters, sample, NoiseSource, Run, Update};
use super::{Record, Solution};
use crate::error::{ensure, Result};
use crate::field::Denoiser;
use crate::path::Level;

/// Options of DDIM; build with [`Ddim::new`] and the setters, run with [`Ddim::solve`].
#[derive(Debug, Clone, PartialEq)]
pub struct Ddim {
    eta: f64,
    noise: NoiseSource,
    record: Record,
}

impl Default for Ddim {
    /// η = 0 (deterministic), seed 0, final state only.
    fn default() -> Self {
        Self::new(0.0)
    }
}

impl Ddim {
    /// DDIM with stochasticity `eta` ∈ [0, 1] (0: deterministic; 1: ancestral DDPM).
    pub fn new(eta: f64) -> Self {
        Self {
            eta,
            noise: NoiseSource::default(),
            record: Record::Final,
        }
    }

    noise_and_record_setters!();

    /// Steps the rows of `x` (the points at `levels[0]`) through `levels` (noise to data), one
    /// denoiser call per step.
    ///
    /// Errors: [`crate::error::Error::InvalidOption`] for η outside [0, 1] or bad levels; bad
    /// points as [`super::OdeSolver::solve`].
    pub fn solve(&self, denoiser: &dyn Denoiser, x: &Matrix, levels: &[Level]) -> Result<Solution> {
        ensure(
            (0.0..=1.0).contains(&self.eta),
            "eta",
            self.eta,
            "η must lie in [0, 1]",
        )?;
        let run = Run::start(denoiser, x, levels, self.noise, &self.record)?;
        Ok(sample(run, levels, |run, _, s, t| {
            run.denoise_current(s);
            let r = exp_neg_h(s, t);
            let sigma_eta = self.eta * t.sigma * (1.0 - r * r).max(0.0).sqrt();
            // √(σ_t² − σ_η²) ε̂ with ε̂ = (x − α_s x̂1)/σ_s.
            let carry = (t.sigma * t.sigma - sigma_eta * sigma_eta).max(0.0).sqrt() / s.sigma;
            run.apply(
                Update {
                    x: carry,
                    m: [t.alpha - carry * s.alpha, 0.0, 0.0],
                    noise: sigma_eta,
                },
                true,
            );
        }))
    }
}

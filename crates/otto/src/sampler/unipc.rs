//! UniPC (Zhao, Bai, Rao, Zhou & Lu 2023, "UniPC: a unified predictor–corrector framework for
//! fast sampling of diffusion models", Alg. 1–2), data prediction, B(h) = e^{−h} − 1 ("bh2"),
//! second order — diffusers' `UniPCMultistepScheduler` defaults. With m₀ the denoised estimate at
//! the current level s, m₁ the one before (λ₁ < λ_s), `h = λ_t − λ_s`, `r = (λ₁ − λ_s)/h`,
//! `D = (m₁ − m₀)/r` and `x̃ = (σ_t/σ_s) x − α_t (e^{−h} − 1) m₀`:
//! - UniP (predictor), order 2: `x_t = x̃ − α_t B(h) ½ D`; order 1: `x_t = x̃`;
//! - UniC (corrector), applied at the next level once its estimate m_t = D(x_t) is known (no extra
//!   evaluation: m_t is the next step's m₀): order 1 `x_t = x̃ − α_t B(h) ½ (m_t − m₀)`; order 2
//!   `x_t = x̃ − α_t B(h)(ρ₁ D + ρ₂ (m_t − m₀))` with (ρ₁, ρ₂) solving `[[1, 1], [r, 1]] ρ = (b₁, b₂)`,
//!   `b_k = k! h φ_{k+1}(h)/B(h)`, `φ`'s by the recursion `hφ₁ = (e^{−h} − 1)/(−h) − 1`,
//!   `hφ_{k+1} = hφ_k/(−h) − 1/(k+1)!` (the paper's eq. 8 with −h for data prediction).
//!
//! UniC raises the order by one (Zhao et al. 2023, §3.2): UniPC-2 is third order, measured on the
//! mixture oracle (`sampler::diffusion::tests`). Orders climb from 1 as history accrues; with
//! `lower_order_final` the last step is first order, and a step to σ = 0 always is (it returns
//! α_t x̂1). The corrector uses the estimate at the uncorrected point, as the reference
//! implementation does.

use otto_ot::Matrix;

use super::diffusion::{sample, NoiseSource, Run, Update};
use super::{Record, Solution};
use crate::error::Result;
use crate::field::Denoiser;
use crate::path::Level;

/// Options of UniPC-bh2 (order 2); build with [`UniPc::new`] and the setters, run with
/// [`UniPc::solve`].
#[derive(Debug, Clone, PartialEq)]
pub struct UniPc {
    corrector: bool,
    lower_order_final: bool,
    record: Record,
}

impl Default for UniPc {
    fn default() -> Self {
        Self::new()
    }
}

/// The bh2 coefficients of a step with log-SNR increment h: (e^{−h} − 1, B(h), b₁, b₂).
fn coefficients(h: f64) -> (f64, f64, f64, f64) {
    let hh = -h;
    let phi_1 = hh.exp_m1();
    let b_h = phi_1;
    let mut h_phi = phi_1 / hh - 1.0;
    let b1 = h_phi / b_h;
    h_phi = h_phi / hh - 0.5;
    let b2 = 2.0 * h_phi / b_h;
    (phi_1, b_h, b1, b2)
}

impl UniPc {
    /// UniPC-bh2 with its corrector and lower-order final steps, final state only.
    pub fn new() -> Self {
        Self {
            corrector: true,
            lower_order_final: true,
            record: Record::Final,
        }
    }

    /// Use the UniC corrector (default true; false is UniP alone).
    pub fn corrector(mut self, corrector: bool) -> Self {
        self.corrector = corrector;
        self
    }

    /// First order on the last step (default true; diffusers' `lower_order_final`).
    pub fn lower_order_final(mut self, lower_order_final: bool) -> Self {
        self.lower_order_final = lower_order_final;
        self
    }

    /// Which states to keep ([`Record::Final`] or [`Record::EveryStep`]).
    pub fn record(mut self, record: Record) -> Self {
        self.record = record;
        self
    }

    /// Steps the rows of `x` (the points at `levels[0]`) through `levels` (noise to data), one
    /// denoiser call per step.
    ///
    /// Errors: [`crate::error::Error::InvalidOption`] for bad levels; bad points as
    /// [`super::OdeSolver::solve`].
    pub fn solve(&self, denoiser: &dyn Denoiser, x: &Matrix, levels: &[Level]) -> Result<Solution> {
        let run = Run::start(denoiser, x, levels, NoiseSource::default(), &self.record)?;
        let steps = levels.len() - 1;
        let mut last = x.clone();
        let mut last_order = 0;
        Ok(sample(run, levels, |run, k, s, t| {
            run.denoise_current(s);
            // UniC: correct the point at s from the previous level with the new estimate m₀.
            if self.corrector && k > 0 {
                let p = &levels[k - 1];
                let h = s.log_snr() - p.log_snr();
                let (phi_1, b_h, b1, b2) = coefficients(h);
                let ratio = s.sigma / p.sigma;
                // m slots: [m_s (new), m_p, m_pp]; x̃ = ratio·x_p − α_s φ₁ m_p.
                let mut m = [0.0, -s.alpha * phi_1, 0.0];
                if last_order >= 2 {
                    let r = (levels[k - 2].log_snr() - p.log_snr()) / h;
                    let (rho1, rho2) = {
                        // [[1, 1], [r, 1]] ρ = b.
                        let det = 1.0 - r;
                        ((b1 - b2) / det, (b2 - r * b1) / det)
                    };
                    let c = s.alpha * b_h;
                    m[0] -= c * rho2;
                    m[1] += c * (rho2 + rho1 / r);
                    m[2] -= c * rho1 / r;
                } else {
                    let c = 0.5 * s.alpha * b_h;
                    m[0] -= c;
                    m[1] += c;
                }
                run.x.as_mut_slice().copy_from_slice(last.as_slice());
                run.apply(
                    Update {
                        x: ratio,
                        m,
                        noise: 0.0,
                    },
                    false,
                );
            }
            last.as_mut_slice().copy_from_slice(run.x.as_slice());
            // UniP from s to t.
            let mut order = 2.min(k + 1);
            if (self.lower_order_final && k + 1 == steps) || t.sigma == 0.0 {
                order = 1;
            }
            let h = t.log_snr() - s.log_snr();
            let (phi_1, b_h, _, _) = coefficients(h);
            let mut m = [-t.alpha * phi_1, 0.0, 0.0];
            if order == 2 {
                let r = (levels[k - 1].log_snr() - s.log_snr()) / h;
                let c = 0.5 * t.alpha * b_h / r;
                m[0] += c;
                m[1] -= c;
            }
            last_order = order;
            run.apply(
                Update {
                    x: t.sigma / s.sigma,
                    m,
                    noise: 0.0,
                },
                false,
            );
        }))
    }
}

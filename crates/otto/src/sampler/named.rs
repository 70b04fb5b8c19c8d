//! The diffusion samplers by name, with the options users set on them: the one place where a name
//! (`ddim`, `dpmpp-2m`, `edm-heun`, …) becomes a configured sampler, shared by the command line
//! and the Python bindings.

use std::str::FromStr;

use otto_ot::Matrix;

use super::{
    row_blocks::solve_stacked, Ddim, Discretization, DpmSolverPp, DpmVariant, EdmHeun,
    PredictorCorrector, Solution, TimeGrid, UniPc,
};
use crate::error::{Error, Result};
use crate::field::Denoiser;
use crate::path::{Level, Schedule};

/// A diffusion sampler: it steps a [`Denoiser`] through a grid of noise levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffusionSampler {
    /// DDIM with η (0 deterministic, 1 ancestral DDPM).
    Ddim,
    /// DPM-Solver++ first order (= DDIM with η = 0).
    Dpmpp1,
    /// DPM-Solver++(2M), multistep second order.
    Dpmpp2m,
    /// DPM-Solver++(3M), multistep third order.
    Dpmpp3m,
    /// DPM-Solver++(2S), singlestep second order (2 NFE a step).
    Dpmpp2s,
    /// SDE-DPM-Solver++(2M), stochastic.
    Dpmpp2mSde,
    /// EDM's Heun sampler (2 NFE a step; with churn, its stochastic form).
    EdmHeun,
    /// EDM's Euler sampler.
    EdmEuler,
    /// Euler–Maruyama of the reverse SDE with the schedule's g.
    Em,
    /// Predictor–corrector: reverse-SDE Euler–Maruyama and a Langevin corrector.
    Pc,
    /// UniPC-bh2 (second-order predictor + UniC corrector), 1 NFE a step.
    Unipc,
}

impl DiffusionSampler {
    /// Every sampler, in the order of the command line's help.
    pub const ALL: [DiffusionSampler; 11] = [
        DiffusionSampler::Ddim,
        DiffusionSampler::Dpmpp1,
        DiffusionSampler::Dpmpp2m,
        DiffusionSampler::Dpmpp3m,
        DiffusionSampler::Dpmpp2s,
        DiffusionSampler::Dpmpp2mSde,
        DiffusionSampler::EdmHeun,
        DiffusionSampler::EdmEuler,
        DiffusionSampler::Em,
        DiffusionSampler::Pc,
        DiffusionSampler::Unipc,
    ];

    /// The name, as parsed by [`FromStr`] (`otto sample --solver`, `Run.sample(solver=…)`).
    pub fn name(self) -> &'static str {
        match self {
            DiffusionSampler::Ddim => "ddim",
            DiffusionSampler::Dpmpp1 => "dpmpp-1",
            DiffusionSampler::Dpmpp2m => "dpmpp-2m",
            DiffusionSampler::Dpmpp3m => "dpmpp-3m",
            DiffusionSampler::Dpmpp2s => "dpmpp-2s",
            DiffusionSampler::Dpmpp2mSde => "dpmpp-2m-sde",
            DiffusionSampler::EdmHeun => "edm-heun",
            DiffusionSampler::EdmEuler => "edm-euler",
            DiffusionSampler::Em => "em",
            DiffusionSampler::Pc => "pc",
            DiffusionSampler::Unipc => "unipc",
        }
    }

    /// The grid the sampler's authors use: Karras ρ = 7 for EDM's samplers, uniform in t for the
    /// reverse SDE (score_sde), uniform in log-SNR for DDIM, DPM-Solver++ and UniPC.
    pub fn default_grid(self) -> TimeGrid {
        match self {
            DiffusionSampler::EdmHeun | DiffusionSampler::EdmEuler => TimeGrid::Karras { rho: 7.0 },
            DiffusionSampler::Em | DiffusionSampler::Pc => TimeGrid::Uniform,
            _ => TimeGrid::LogSnr,
        }
    }
}

impl FromStr for DiffusionSampler {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        DiffusionSampler::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| Error::InvalidOption {
                name: "sampler",
                value: s.to_string(),
                reason: "expected one of ddim, dpmpp-1, dpmpp-2m, dpmpp-3m, dpmpp-2s, dpmpp-2m-sde, edm-heun, edm-euler, em, pc, unipc",
            })
    }
}

/// The options of the diffusion samplers; each sampler reads its own and ignores the others.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffusionOptions {
    /// The grid of noise levels (`None`: the sampler's [`DiffusionSampler::default_grid`]).
    pub grid: Option<TimeGrid>,
    /// DDIM's η (0: deterministic; 1: ancestral DDPM).
    pub eta: f64,
    /// EDM's S_churn (0: deterministic).
    pub churn: f64,
    /// EDM's S_min: churn applies where σ/α ≥ S_min.
    pub s_min: f64,
    /// EDM's S_max: churn applies where σ/α ≤ S_max.
    pub s_max: f64,
    /// EDM's S_noise.
    pub s_noise: f64,
    /// Predictor–corrector: Langevin corrector steps per level.
    pub corrector_steps: usize,
    /// Predictor–corrector: the corrector's signal-to-noise ratio.
    pub snr: f64,
    /// DPM-Solver++ multistep and UniPC: lower the order on the last steps (diffusers'
    /// `lower_order_final=True`).
    pub lower_order_final: bool,
}

impl Default for DiffusionOptions {
    /// The deterministic settings of the samplers' papers: η = 0, no churn (S_max = ∞,
    /// S_noise = 1), one corrector step at snr 0.16 (score_sde), lower-order final steps.
    fn default() -> Self {
        Self {
            grid: None,
            eta: 0.0,
            churn: 0.0,
            s_min: 0.0,
            s_max: f64::INFINITY,
            s_noise: 1.0,
            corrector_steps: 1,
            snr: 0.16,
            lower_order_final: true,
        }
    }
}

impl DiffusionOptions {
    /// The grid `sampler` runs on.
    pub fn grid_for(&self, sampler: DiffusionSampler) -> TimeGrid {
        self.grid.unwrap_or(sampler.default_grid())
    }

    /// The levels of `steps` steps of `sampler` on `schedule`'s sampling interval
    /// (`denoise_final`: the last step goes to σ = 0 and returns x̂1).
    pub fn levels(
        &self,
        sampler: DiffusionSampler,
        schedule: &dyn Schedule,
        steps: usize,
        denoise_final: bool,
    ) -> Result<Vec<Level>> {
        Discretization::new(steps)
            .grid(self.grid_for(sampler))
            .denoise_final(denoise_final)
            .levels(schedule)
    }

    /// Whether the rows of a batch evolve independently under `sampler` with these options, given
    /// their noise (drawn per row index): every sampler but the predictor–corrector with corrector
    /// steps, whose Langevin step size follows norms over the whole batch.
    pub fn rows_are_independent(&self, sampler: DiffusionSampler) -> bool {
        sampler != DiffusionSampler::Pc || self.corrector_steps == 0
    }

    /// Runs `sampler` from `x` (the points at `levels[0]`), its noise drawn from `seed` per row
    /// index. Where the rows evolve independently ([`Self::rows_are_independent`]) the sampler runs
    /// on blocks of rows in parallel ([`super::solve_by_row_blocks`]), with the same result as on
    /// the whole batch, whatever the thread count.
    pub fn run(
        &self,
        sampler: DiffusionSampler,
        denoiser: &(dyn Denoiser + Sync),
        x: &Matrix,
        levels: &[Level],
        seed: u64,
    ) -> Result<Solution> {
        if !self.rows_are_independent(sampler) {
            return self.run_batch(sampler, denoiser, x, levels, seed, 0);
        }
        solve_stacked(x, |first_row, x| {
            self.run_batch(sampler, denoiser, x, levels, seed, first_row)
        })
    }

    /// [`DiffusionOptions::run`] on `x`, the rows from `first_row` of a batch.
    fn run_batch(
        &self,
        sampler: DiffusionSampler,
        denoiser: &dyn Denoiser,
        x: &Matrix,
        levels: &[Level],
        seed: u64,
        first_row: usize,
    ) -> Result<Solution> {
        let dpm = |variant| {
            DpmSolverPp::new(variant)
                .lower_order_final(self.lower_order_final)
                .seed(seed)
                .first_row(first_row)
                .solve(denoiser, x, levels)
        };
        let edm = |sampler: EdmHeun| {
            sampler
                .churn(self.churn, self.s_min, self.s_max)
                .s_noise(self.s_noise)
                .seed(seed)
                .first_row(first_row)
                .solve(denoiser, x, levels)
        };
        let pc = |corrector_steps| {
            PredictorCorrector::new(corrector_steps)
                .snr(self.snr)
                .seed(seed)
                .first_row(first_row)
                .solve(denoiser, x, levels)
        };
        match sampler {
            DiffusionSampler::Ddim => Ddim::new(self.eta)
                .seed(seed)
                .first_row(first_row)
                .solve(denoiser, x, levels),
            DiffusionSampler::Dpmpp1 => dpm(DpmVariant::One),
            DiffusionSampler::Dpmpp2m => dpm(DpmVariant::TwoM),
            DiffusionSampler::Dpmpp3m => dpm(DpmVariant::ThreeM),
            DiffusionSampler::Dpmpp2s => dpm(DpmVariant::TwoS),
            DiffusionSampler::Dpmpp2mSde => dpm(DpmVariant::SdeTwoM),
            DiffusionSampler::EdmHeun => edm(EdmHeun::new()),
            DiffusionSampler::EdmEuler => edm(EdmHeun::euler()),
            DiffusionSampler::Unipc => UniPc::new()
                .lower_order_final(self.lower_order_final)
                .solve(denoiser, x, levels),
            DiffusionSampler::Em => pc(0),
            DiffusionSampler::Pc => pc(self.corrector_steps),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for sampler in DiffusionSampler::ALL {
            assert_eq!(sampler.name().parse::<DiffusionSampler>().unwrap(), sampler);
        }
        let message = "dpm2".parse::<DiffusionSampler>().unwrap_err().to_string();
        for sampler in DiffusionSampler::ALL {
            assert!(message.contains(sampler.name()), "{message}");
        }
    }
}

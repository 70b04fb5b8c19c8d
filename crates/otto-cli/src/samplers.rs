//! The `--solver` names shared by `otto sample` and `otto solvers`: the ODE solvers, which
//! integrate a velocity field in t, and the diffusion samplers, which step a denoiser through a
//! grid of noise levels ending at σ = 0, with their options as flags.

use std::path::Path;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use otto::field::{Denoiser, VectorField};
use otto::path::Level;
use otto::sampler::{
    DiffusionOptions as LibraryOptions, DiffusionSampler, Method, OdeSolver, Solution, TimeGrid,
};
use otto_ot::{Matrix, OtError};

use crate::npy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Solver {
    /// ODE: explicit Euler in t (order 1).
    Euler,
    /// ODE: explicit midpoint (order 2).
    Midpoint,
    /// ODE: Heun (order 2).
    Heun,
    /// ODE: classic Runge–Kutta (order 4).
    Rk4,
    /// ODE: adaptive Dormand–Prince 5(4) (--atol, --rtol).
    Dopri5,
    /// Diffusion: DDIM with --eta (0 deterministic, 1 ancestral DDPM).
    Ddim,
    /// Diffusion: DPM-Solver++ first order (= DDIM with η = 0).
    #[value(name = "dpmpp-1")]
    Dpmpp1,
    /// Diffusion: DPM-Solver++(2M), multistep second order.
    #[value(name = "dpmpp-2m")]
    Dpmpp2m,
    /// Diffusion: DPM-Solver++(3M), multistep third order.
    #[value(name = "dpmpp-3m")]
    Dpmpp3m,
    /// Diffusion: DPM-Solver++(2S), singlestep second order (2 NFE a step).
    #[value(name = "dpmpp-2s")]
    Dpmpp2s,
    /// Diffusion: SDE-DPM-Solver++(2M), stochastic.
    #[value(name = "dpmpp-2m-sde")]
    Dpmpp2mSde,
    /// Diffusion: EDM's Heun sampler (2 NFE a step; --churn for its stochastic form).
    EdmHeun,
    /// Diffusion: EDM's Euler sampler.
    EdmEuler,
    /// Diffusion: Euler–Maruyama of the reverse SDE with the schedule's g (or, with --g, of the
    /// marginal-preserving SDE with constant g).
    Em,
    /// Diffusion: predictor–corrector (reverse-SDE Euler–Maruyama + Langevin corrector).
    Pc,
    /// Diffusion: UniPC-bh2 (second-order predictor + UniC corrector, third order), 1 NFE a step.
    Unipc,
    /// SDE: Euler–Maruyama of dX = [v + ½g²∇log p] dt + g dW with a constant g (--g; default the
    /// bridge's σ of an sf2m run); g = 0 is the probability-flow ODE.
    Sde,
}

impl Solver {
    /// The command-line name.
    pub fn name(&self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The order of a deterministic sampler's global error (None for the stochastic ones).
    pub fn order(&self) -> Option<usize> {
        match self {
            Solver::Euler | Solver::Ddim | Solver::Dpmpp1 | Solver::EdmEuler => Some(1),
            Solver::Midpoint | Solver::Heun | Solver::Dpmpp2m | Solver::Dpmpp2s => Some(2),
            Solver::EdmHeun => Some(2),
            Solver::Dpmpp3m | Solver::Unipc => Some(3),
            Solver::Rk4 => Some(4),
            Solver::Dopri5 => Some(5),
            Solver::Dpmpp2mSde | Solver::Em | Solver::Pc | Solver::Sde => None,
        }
    }

    /// The diffusion sampler, for the solvers that step a denoiser through noise levels.
    pub fn diffusion(&self) -> Option<DiffusionSampler> {
        match self {
            Solver::Ddim => Some(DiffusionSampler::Ddim),
            Solver::Dpmpp1 => Some(DiffusionSampler::Dpmpp1),
            Solver::Dpmpp2m => Some(DiffusionSampler::Dpmpp2m),
            Solver::Dpmpp3m => Some(DiffusionSampler::Dpmpp3m),
            Solver::Dpmpp2s => Some(DiffusionSampler::Dpmpp2s),
            Solver::Dpmpp2mSde => Some(DiffusionSampler::Dpmpp2mSde),
            Solver::EdmHeun => Some(DiffusionSampler::EdmHeun),
            Solver::EdmEuler => Some(DiffusionSampler::EdmEuler),
            Solver::Em => Some(DiffusionSampler::Em),
            Solver::Pc => Some(DiffusionSampler::Pc),
            Solver::Unipc => Some(DiffusionSampler::Unipc),
            _ => None,
        }
    }

    /// The ODE method, for the solvers that integrate a velocity in t.
    pub fn ode_method(&self) -> Option<Method> {
        match self {
            Solver::Euler => Some(Method::Euler),
            Solver::Midpoint => Some(Method::Midpoint),
            Solver::Heun => Some(Method::Heun),
            Solver::Rk4 => Some(Method::Rk4),
            Solver::Dopri5 => Some(Method::Dopri5),
            _ => None,
        }
    }
}

/// The options of the diffusion samplers as flags (defaults: [`LibraryOptions::default`]).
#[derive(Args, Debug, Clone)]
pub struct DiffusionOptions {
    /// Grid of noise levels of the diffusion samplers: uniform (in t), logsnr (uniform in
    /// log(α/σ)) or karras[:RHO] [default: karras for edm-*, uniform for em/pc, logsnr otherwise].
    #[arg(long, value_parser = parse_grid)]
    pub grid: Option<TimeGrid>,
    /// DDIM's η (0: deterministic; 1: ancestral DDPM).
    #[arg(long, default_value_t = LibraryOptions::default().eta)]
    pub eta: f64,
    /// EDM's S_churn (0: deterministic).
    #[arg(long, default_value_t = LibraryOptions::default().churn)]
    pub churn: f64,
    /// EDM's S_min: churn applies where σ/α ≥ S_min.
    #[arg(long, default_value_t = LibraryOptions::default().s_min)]
    pub s_min: f64,
    /// EDM's S_max: churn applies where σ/α ≤ S_max.
    #[arg(long, default_value_t = LibraryOptions::default().s_max)]
    pub s_max: f64,
    /// EDM's S_noise.
    #[arg(long, default_value_t = LibraryOptions::default().s_noise)]
    pub s_noise: f64,
    /// Predictor–corrector: Langevin corrector steps per level.
    #[arg(long, default_value_t = LibraryOptions::default().corrector_steps)]
    pub corrector_steps: usize,
    /// Predictor–corrector: the corrector's signal-to-noise ratio.
    #[arg(long, default_value_t = LibraryOptions::default().snr)]
    pub snr: f64,
    /// DPM-Solver++ multistep: keep the full order on the last steps (diffusers'
    /// lower_order_final=False).
    #[arg(long)]
    pub no_lower_order_final: bool,
}

fn parse_grid(s: &str) -> Result<TimeGrid, String> {
    s.parse().map_err(|e: otto::error::Error| e.to_string())
}

impl DiffusionOptions {
    /// The options as the library takes them.
    pub fn options(&self) -> LibraryOptions {
        LibraryOptions {
            grid: self.grid,
            eta: self.eta,
            churn: self.churn,
            s_min: self.s_min,
            s_max: self.s_max,
            s_noise: self.s_noise,
            corrector_steps: self.corrector_steps,
            snr: self.snr,
            lower_order_final: !self.no_lower_order_final,
        }
    }

    /// The diffusion sampler `solver` names, or an error for the ODE and SDE solvers.
    fn sampler(solver: Solver) -> Result<DiffusionSampler> {
        solver
            .diffusion()
            .ok_or_else(|| anyhow::anyhow!("{} is not a diffusion sampler", solver.name()))
    }

    /// The grid `solver` uses.
    pub fn grid_for(&self, solver: Solver) -> Result<TimeGrid> {
        Ok(self.options().grid_for(Self::sampler(solver)?))
    }

    /// The levels of `steps` steps of `solver` on the denoiser's schedule (`denoise_final`: end
    /// with the step to σ = 0).
    pub fn levels(
        &self,
        solver: Solver,
        denoiser: &dyn Denoiser,
        steps: usize,
        denoise_final: bool,
    ) -> Result<Vec<Level>> {
        let sampler = Self::sampler(solver)?;
        Ok(self
            .options()
            .levels(sampler, denoiser.schedule(), steps, denoise_final)?)
    }

    /// Runs the diffusion sampler `solver` from `x` (the points at `levels[0]`).
    pub fn run(
        &self,
        solver: Solver,
        denoiser: &dyn Denoiser,
        x: &Matrix,
        levels: &[Level],
        seed: u64,
    ) -> Result<Solution> {
        let sampler = Self::sampler(solver)?;
        Ok(self.options().run(sampler, denoiser, x, levels, seed)?)
    }
}

/// Reads noise levels from a (K+1) × 3 .npy file of rows (t, α, σ), noise to data (K ≥ 1 steps;
/// t is the network's time input). The values are checked by the samplers themselves (finite,
/// α > 0, σ > 0 except σ = 0 on the last row, λ = log(α/σ) increasing): see [`level_error`].
pub fn read_levels(path: &Path) -> Result<Vec<Level>> {
    let (shape, data) = npy::read_array(path)?;
    match shape.as_slice() {
        [rows, 3] if *rows >= 2 => {}
        other => bail!(
            "{}: expected a (K+1) × 3 array of rows (t, α, σ) with K ≥ 1 steps, got shape {other:?}",
            path.display()
        ),
    }
    Ok(data
        .chunks_exact(3)
        .map(|row| Level {
            t: row[0],
            alpha: row[1],
            sigma: row[2],
        })
        .collect())
}

/// A sampler's error, prefixed with the levels file when it is about the levels it read from it.
pub fn level_error(error: anyhow::Error, levels_file: Option<&Path>) -> anyhow::Error {
    let about_levels = matches!(
        error.downcast_ref::<OtError>(),
        Some(OtError::InvalidOption { name: "levels", .. })
    );
    match levels_file {
        Some(path) if about_levels => error.context(path.display().to_string()),
        _ => error,
    }
}

/// The ODE solver `method` with `steps` fixed steps, or Dopri5's `tolerance` (atol, rtol).
pub fn ode_solver(method: Method, steps: usize, tolerance: (f64, f64)) -> OdeSolver {
    let solver = OdeSolver::new(method).steps(steps);
    if method == Method::Dopri5 {
        solver.tolerances(tolerance.0, tolerance.1)
    } else {
        solver
    }
}

/// Integrates a velocity field from `t0` to `t1` with the ODE solver `method`.
pub fn run_ode(
    method: Method,
    field: &(dyn VectorField + Sync),
    x: &Matrix,
    t0: f64,
    t1: f64,
    steps: usize,
    tolerance: (f64, f64),
) -> Result<Solution> {
    Ok(ode_solver(method, steps, tolerance).solve_by_rows(field, x, t0, t1)?)
}

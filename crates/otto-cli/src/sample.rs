//! `otto sample`: draws points from a trained run by integrating its field from the source
//! (t = 0) to the target (t = 1) with a chosen ODE solver, or with Euler–Maruyama for the SDE that
//! shares its marginals (runs that know their score: ddpm).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use otto::field::VectorField;
use otto::sampler::{Diffusion, EulerMaruyama, Method, OdeSolver, Solution};
use otto::train::{Method as TrainMethod, RunDir, TrainedRun};
use otto_ot::Matrix;

use crate::npy;
use crate::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Solver {
    /// Explicit Euler (order 1).
    Euler,
    /// Explicit midpoint (order 2).
    Midpoint,
    /// Heun (order 2).
    Heun,
    /// Classic Runge–Kutta (order 4).
    Rk4,
    /// Adaptive Dormand–Prince 5(4) (--atol, --rtol).
    Dopri5,
    /// Euler–Maruyama for the marginal-preserving SDE (needs a score: ddpm runs).
    Em,
}

#[derive(Args)]
pub struct SampleArgs {
    /// The run directory written by `otto train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Number of points.
    #[arg(long, default_value_t = 10_000)]
    pub n: usize,
    /// Integrator.
    #[arg(long, value_enum, default_value_t = Solver::Euler)]
    pub solver: Solver,
    /// Steps of the fixed-step solvers.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Absolute tolerance of dopri5.
    #[arg(long, default_value_t = 1e-5)]
    pub atol: f64,
    /// Relative tolerance of dopri5.
    #[arg(long, default_value_t = 1e-5)]
    pub rtol: f64,
    /// Constant diffusion g for --solver em [default: the VP schedule's √β(t)].
    #[arg(long)]
    pub g: Option<f64>,
    /// Seed of the source points (and of the SDE noise).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Use the EMA weights (ema.safetensors).
    #[arg(long)]
    pub ema: bool,
    /// Output .npy (n × d float64) [default: DIR/samples.npy].
    #[arg(long, value_name = "FILE.npy")]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Integrates the run's field from `x0` with the chosen solver.
pub fn integrate(trained: &TrainedRun, x0: &Matrix, args: &SampleArgs) -> Result<Solution> {
    let t1 = trained.end_time();
    let method = match args.solver {
        Solver::Euler => Method::Euler,
        Solver::Midpoint => Method::Midpoint,
        Solver::Heun => Method::Heun,
        Solver::Rk4 => Method::Rk4,
        Solver::Dopri5 => Method::Dopri5,
        Solver::Em => {
            let Some(score_field) = trained.field.with_score() else {
                bail!(
                    "--solver em needs the score of the marginals, which a {} run does not learn; use an ODE solver or a ddpm run",
                    trained.config.method.name()
                );
            };
            let diffusion = match (args.g, trained.config.method) {
                (Some(g), _) => Diffusion::Constant(g),
                (None, TrainMethod::Ddpm) => {
                    // VP linear-β in diffusion time s = 1 − t: g(t)² = β(s) = β0 + s (β1 − β0).
                    Diffusion::Function(Arc::new(|t: f64| (0.1 + (1.0 - t) * (20.0 - 0.1)).sqrt()))
                }
                (None, _) => Diffusion::Constant(1.0),
            };
            let em = EulerMaruyama::new(diffusion)
                .steps(args.steps)
                .seed(args.seed);
            return Ok(em.solve(score_field, x0, 0.0, t1)?);
        }
    };
    let mut solver = OdeSolver::new(method).steps(args.steps);
    if method == Method::Dopri5 {
        solver = solver.tolerances(args.atol, args.rtol);
    }
    Ok(solver.solve(&trained.field as &dyn VectorField, x0, 0.0, t1)?)
}

pub fn run(args: SampleArgs) -> Result<()> {
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    let run = RunDir::open(&args.run)?;
    let trained = TrainedRun::load(&run, args.ema)?;
    let x0 = trained.recipe.source.draw_fresh(args.n, args.seed);
    let start = Instant::now();
    let solution = integrate(&trained, &x0, &args)?;
    let time = start.elapsed().as_secs_f64();
    if !solution.status.is_completed() {
        bail!("the solver stopped early: {:?}", solution.status);
    }
    let out = args.out.clone().unwrap_or_else(|| run.file("samples.npy"));
    npy::write_matrix(&out, &solution.x)?;
    let mut r = Report::default();
    r.set("run", args.run.display().to_string())
        .set("n", args.n)
        .set("solver", format!("{:?}", args.solver).to_lowercase())
        .set("nfe", solution.stats.nfe)
        .set("time_s", time)
        .set("out", out.display().to_string());
    r.print(args.json);
    Ok(())
}

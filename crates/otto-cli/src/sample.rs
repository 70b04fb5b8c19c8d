//! `otto sample`: draws points from a trained run, either by integrating its velocity from the
//! source (t = 0) to the target (t = 1) with an ODE solver, or — for runs on an affine Gaussian
//! path (diffusion: ddpm) — with a diffusion sampler stepping its denoiser through noise levels
//! (DDIM, DPM-Solver++, EDM, reverse SDE, predictor–corrector), or with Euler–Maruyama of the
//! marginal-preserving SDE with a constant `--g`. `--levels` and `--x0` hand it the noise levels
//! and start points of another implementation, for point-by-point comparisons (bench/peers/).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use otto::path::Level;
use otto::sampler::{Diffusion, EulerMaruyama, Record, Solution};
use otto::train::{Method as TrainMethod, RunDir, TrainConfig, TrainedGenerator, TrainedRun};
use otto_ot::Matrix;

use crate::npy;
use crate::report::Report;
use crate::samplers::{level_error, ode_solver, read_levels, DiffusionOptions, Solver};

#[derive(Args)]
pub struct SampleArgs {
    /// The run directory written by `otto train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Number of points.
    #[arg(long, default_value_t = 10_000)]
    pub n: usize,
    /// Start points (n × d .npy), used as they are: at the first noise level by the diffusion
    /// samplers, at the run's start time by the ODE solvers and em --g [default: --n points of the
    /// run's prior; fresh source points scaled by σ at the first level for the diffusion samplers].
    #[arg(long, value_name = "FILE.npy", conflicts_with = "n")]
    pub x0: Option<PathBuf>,
    /// Noise levels of the diffusion samplers instead of --grid and --steps: a (K+1) × 3 .npy of
    /// rows (t, α, σ) from noise to data, t the network's time input, α > 0, log(α/σ)
    /// increasing, σ = 0 allowed on the last row only; K steps.
    #[arg(long, value_name = "FILE.npy", conflicts_with_all = ["grid", "steps"])]
    pub levels: Option<PathBuf>,
    /// Integrator: an ODE solver for any run; a diffusion sampler for runs on an affine Gaussian
    /// path (ddpm).
    #[arg(long, value_enum, default_value_t = Solver::Euler)]
    pub solver: Solver,
    /// Steps (ODE solvers and diffusion samplers; a diffusion sampler's last step goes to σ = 0).
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Absolute tolerance of dopri5.
    #[arg(long, default_value_t = 1e-5)]
    pub atol: f64,
    /// Relative tolerance of dopri5.
    #[arg(long, default_value_t = 1e-5)]
    pub rtol: f64,
    /// With --solver em: a constant diffusion g of the marginal-preserving SDE
    /// dX = [v + ½g²∇log p] dt + g dW, from t = 0 to the run's end time [default: the reverse SDE
    /// of the run's schedule].
    #[arg(long)]
    pub g: Option<f64>,
    #[command(flatten)]
    pub diffusion: DiffusionOptions,
    /// Seed of the source points (and of the samplers' noise).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A class-conditional drifting run: sample this class only [default: every class in equal
    /// shares, rows in class order; the classes go to FILE.labels.npy beside --out].
    #[arg(long, value_name = "C")]
    pub class: Option<usize>,
    /// A class-conditional drifting run: the guidance scale α ≥ 1 (1: no guidance).
    #[arg(long, default_value_t = 1.0, value_name = "ALPHA")]
    pub cfg: f64,
    /// Use the EMA weights (ema.safetensors).
    #[arg(long)]
    pub ema: bool,
    /// Output .npy (n × d float64) [default: DIR/samples.npy].
    #[arg(long, value_name = "FILE.npy")]
    pub out: Option<PathBuf>,
    /// Also write every step's state: a (steps + 1) × n × d float64 .npy, its times t_k (otto's
    /// time, 0 source → 1 target) in FILE.times.npy beside it. The fixed-step ODE solvers and the
    /// constant-g SDE (sde, em --g) only.
    #[arg(long, value_name = "FILE.npy")]
    pub trajectory: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What `otto sample` reads from files before it starts the clock: `--x0` and `--levels`.
pub struct Inputs {
    /// The start points, used as they are.
    pub x0: Option<Matrix>,
    /// The noise levels of the diffusion samplers.
    pub levels: Option<Vec<Level>>,
}

impl Inputs {
    /// Reads `--x0` and `--levels`; `--levels` only goes with a diffusion sampler.
    pub fn read(args: &SampleArgs) -> Result<Self> {
        let constant_g =
            args.solver == Solver::Sde || (args.solver == Solver::Em && args.g.is_some());
        let diffusion = args.solver.ode_method().is_none() && !constant_g;
        if args.trajectory.is_some() && (diffusion || args.solver == Solver::Dopri5) {
            bail!(
                "--trajectory records the fixed-step ODE solvers (euler, midpoint, heun, rk4) and the constant-g SDE (sde, em --g), not --solver {}",
                args.solver.name()
            );
        }
        if args.levels.is_some() && !diffusion {
            bail!(
                "--levels sets the noise levels of the diffusion samplers (ddim, dpmpp-*, edm-*, unipc, em without --g, pc), not of --solver {}{}",
                args.solver.name(),
                if constant_g { " --g" } else { "" }
            );
        }
        Ok(Self {
            x0: args.x0.as_deref().map(npy::read_matrix).transpose()?,
            levels: args.levels.as_deref().map(read_levels).transpose()?,
        })
    }
}

/// Samples points from the trained run with the chosen solver, starting from `inputs.x0` as given
/// or from `args.n` points drawn with `args.seed` — the run's prior at its start time for the ODE
/// solvers, fresh source points scaled to the first noise level for the diffusion samplers —
/// through `inputs.levels` or the grid of `--steps`.
pub fn integrate(trained: &TrainedRun, args: &SampleArgs, inputs: Inputs) -> Result<Solution> {
    let (t0, t1) = trained.interval();
    let record = if args.trajectory.is_some() {
        Record::EveryStep
    } else {
        Record::Final
    };
    let given = inputs.x0;
    let prior = |given: Option<Matrix>| given.unwrap_or_else(|| trained.prior(args.n, args.seed));
    if let Some(method) = args.solver.ode_method() {
        return Ok(ode_solver(method, args.steps, (args.atol, args.rtol))
            .record(record)
            .solve_by_rows(&trained.field, &prior(given), t0, t1)?);
    }
    if args.solver == Solver::Sde || (args.solver == Solver::Em && args.g.is_some()) {
        let Some(score_field) = trained.field.with_score() else {
            bail!(
                "--solver {} needs the score of the marginals, which this {} run does not learn; use an ODE solver, or a diffusion or sf2m run",
                args.solver.name(),
                trained.config.method.name()
            );
        };
        // SF2M samples with the bridge's own noise level by default (Tong et al. 2024).
        let g = match (args.g, trained.config.method) {
            (Some(g), _) => g,
            (None, TrainMethod::Sf2m) => trained.config.sigma,
            (None, _) => bail!(
                "--solver sde needs --g (the diffusion coefficient) for a {} run",
                trained.config.method.name()
            ),
        };
        // A Brownian bridge's score −ε/σ_t is singular where σ_t = 0: start just after t = 0
        // (Euler–Maruyama evaluates at the left end of each step, so t = 1 is never evaluated).
        let start = if trained.config.method == TrainMethod::Sf2m {
            t0.max(1e-3)
        } else {
            t0
        };
        return Ok(EulerMaruyama::new(Diffusion::Constant(g))
            .steps(args.steps)
            .seed(args.seed)
            .record(record)
            .solve(score_field, &prior(given), start, t1)?);
    }
    let Some(denoiser) = trained.field.with_denoiser() else {
        bail!(
            "--solver {} steps a denoiser on an affine Gaussian path, which this {} run (a velocity on torchcfm's interpolant) does not have; use euler, midpoint, heun, rk4 or dopri5",
            args.solver.name(),
            trained.config.method.name()
        );
    };
    let levels = match inputs.levels {
        Some(levels) => levels,
        None => args
            .diffusion
            .levels(args.solver, &denoiser, args.steps, true)?,
    };
    // The prior at the first level: x = σ_0 z (the α_0 x1 part is negligible where σ_0 ≫ α_0).
    let x = given.unwrap_or_else(|| trained.prior_at(args.n, args.seed, levels[0].sigma));
    args.diffusion
        .run(args.solver, &denoiser, &x, &levels, args.seed)
        .map_err(|e| level_error(e, args.levels.as_deref()))
}

/// True when the run in `run` is a drifting generator.
pub fn is_drifting(run: &RunDir) -> Result<bool> {
    let text = run.read_to_string("config.toml")?;
    let config = TrainConfig::from_toml(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", run.file("config.toml").display()))?;
    Ok(config.method == TrainMethod::Drifting)
}

/// A drifting run's samples: one network evaluation of its generator.
fn sample_generator(run: &RunDir, args: &SampleArgs) -> Result<()> {
    if args.x0.is_some() || args.levels.is_some() {
        bail!("--x0 and --levels start an integration; a drifting run is a one-step generator f(ε) with no time axis");
    }
    let generator = TrainedGenerator::load(run, args.ema)?;
    let start = Instant::now();
    let (x, labels) = generator.sample_guided(args.n, args.seed, args.class, args.cfg)?;
    let time = start.elapsed().as_secs_f64();
    let out = args.out.clone().unwrap_or_else(|| run.file("samples.npy"));
    npy::write_matrix(&out, &x)?;
    let mut r = Report::default();
    if generator.classes().is_some() {
        let path = out.with_extension("labels.npy");
        let classes: Vec<f64> = labels.iter().map(|&c| c as f64).collect();
        npy::write(&path, &[classes.len()], &classes)?;
        r.set("labels", path.display().to_string())
            .set("cfg", args.cfg);
    }
    r.set("run", args.run.display().to_string())
        .set("n", x.rows())
        .set("solver", "generator")
        .set("nfe", 1)
        .set("time_s", time)
        .set("out", out.display().to_string());
    r.print(args.json);
    Ok(())
}

/// Writes the recorded states as one (K + 1) × n × d array at `path` and their times beside it
/// (`FILE.times.npy`), which it returns.
fn write_trajectory(path: &std::path::Path, solution: &Solution) -> Result<PathBuf> {
    let states = &solution.trajectory.states;
    let (n, d) = solution.x.shape();
    let mut data = Vec::with_capacity(states.len() * n * d);
    for state in states {
        data.extend_from_slice(state.as_slice());
    }
    npy::write(path, &[states.len(), n, d], &data)?;
    let times = path.with_extension("times.npy");
    npy::write(&times, &[states.len()], &solution.trajectory.times)?;
    Ok(times)
}

pub fn run(args: SampleArgs) -> Result<()> {
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    let run = RunDir::open(&args.run)?;
    if is_drifting(&run)? {
        return sample_generator(&run, &args);
    }
    if args.class.is_some() || args.cfg != 1.0 {
        bail!("--class and --cfg apply to class-conditional drifting runs");
    }
    let trained = TrainedRun::load(&run, args.ema)?;
    let inputs = Inputs::read(&args)?;
    // In a pool, so that the network's blocks run on its threads (see `eval::run`).
    let pool = rayon::ThreadPoolBuilder::new().build()?;
    let start = Instant::now();
    let solution = pool.install(|| integrate(&trained, &args, inputs))?;
    let time = start.elapsed().as_secs_f64();
    if !solution.status.is_completed() {
        bail!("the solver stopped early: {:?}", solution.status);
    }
    let out = args.out.clone().unwrap_or_else(|| run.file("samples.npy"));
    npy::write_matrix(&out, &solution.x)?;
    let mut r = Report::default();
    if let Some(path) = &args.trajectory {
        let path_times = write_trajectory(path, &solution)?;
        r.set("trajectory", path.display().to_string())
            .set("trajectory_times", path_times.display().to_string());
    }
    r.set("run", args.run.display().to_string())
        .set("n", solution.x.rows())
        .set("solver", args.solver.name())
        .set("nfe", solution.stats.nfe)
        .set("time_s", time)
        .set("out", out.display().to_string());
    r.print(args.json);
    Ok(())
}

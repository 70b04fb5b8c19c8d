//! `otto solvers`: every sampler, ODE and diffusion, on the closed-form marginal field of the affine
//! path from N(0, I) to a Gaussian mixture (MATH.md §1: it satisfies the continuity equation
//! exactly, so no training is involved).
//!
//! With `--solver NAME` it runs that one sampler from given (`--x0`) or drawn start points and
//! writes the end points (`--out`). Without it, it measures the discretization error of every
//! deterministic sampler against the exact flow versus the number of field evaluations, with
//! fitted convergence orders, a table and a PNG. All samplers run over the schedule's sampling
//! interval [t_start, t_end] there (the diffusion samplers without their final step to σ = 0 and
//! without lowering the order of their last steps);
//! the reference flow map is RK4 with 8192 steps, whose own error is reported (RK4 with 4096 steps
//! against it).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use otto::data::{GaussianMixture, Toy};
use otto::field::GmmField;
use otto::path::{Level, Schedule};
use otto::sampler::{convergence_order, Method};
use otto_ot::Matrix;
use serde_json::{json, Value};

use crate::npy;
use crate::plot;
use crate::report::Report;
use crate::samplers::{run_ode, DiffusionOptions, Solver};
use crate::schedule;

#[derive(Args)]
pub struct SolversArgs {
    /// Schedule of the affine path: cond-ot, vp-trig, vp-linear, vp-cosine, sub-vp, ve, edm.
    #[arg(long, default_value = "cond-ot")]
    schedule: String,
    /// The target mixture, `{"weights": [...], "means": [[...]], "covariances": [[[...]]]}` in any
    /// dimension [default: torchcfm's 8gaussians].
    #[arg(long, value_name = "FILE.json")]
    gmm: Option<PathBuf>,
    /// Run this one sampler (and write --out) instead of the error-versus-NFE study.
    #[arg(long, value_enum)]
    solver: Option<Solver>,
    #[command(flatten)]
    diffusion: DiffusionOptions,
    /// Steps: one count with --solver [default 100]; the counts of the study, comma-separated
    /// [default 16,32,64,128,256,512].
    #[arg(long, value_delimiter = ',')]
    steps: Option<Vec<usize>>,
    /// Start points (n × d .npy) at the sampler's first time [default: --n points of
    /// N(0, σ_start² I)].
    #[arg(long, value_name = "FILE.npy")]
    x0: Option<PathBuf>,
    /// End points of --solver (.npy, float64).
    #[arg(long, value_name = "FILE.npy")]
    out: Option<PathBuf>,
    /// Number of particles drawn when --x0 is not given.
    #[arg(long, default_value_t = 256)]
    n: usize,
    /// Tolerances (atol = rtol) of dopri5 in the study, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1e-3,1e-4,1e-5,1e-6,1e-7,1e-8"
    )]
    tolerances: Vec<f64>,
    /// Seed of the drawn particles and of the samplers' noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Absolute and relative tolerance of dopri5 with --solver.
    #[arg(long, default_value_t = 1e-6)]
    tol: f64,
    /// Where to write the error-versus-NFE plot.
    #[arg(long, default_value = "out/solvers.png")]
    png: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// The largest Euclidean distance between corresponding rows.
fn max_error(a: &Matrix, b: &Matrix) -> f64 {
    (0..a.rows())
        .map(|i| {
            otto_ot::GroundCost::SquaredEuclidean
                .eval(a.row(i), b.row(i))
                .sqrt()
        })
        .fold(0.0, f64::max)
}

/// The start points: `--x0`, or `n` draws of N(0, σ² I) with σ the schedule's σ at `t_start`.
fn start_points(args: &SolversArgs, dim: usize, sigma: f64) -> Result<Matrix> {
    let x = match &args.x0 {
        Some(path) => npy::read_matrix(path)?,
        None => {
            if args.n == 0 {
                bail!("--n must be positive");
            }
            let z = Toy::Gaussian { dim }.sample(args.n, args.seed);
            Matrix::from_fn(z.rows(), dim, |i, j| sigma * z.get(i, j))
        }
    };
    if let Some(bad) = x.as_slice().iter().find(|v| !v.is_finite()) {
        bail!(
            "{}: the start points hold a non-finite value ({bad})",
            args.x0
                .as_ref()
                .map_or("--x0".into(), |p| p.display().to_string())
        );
    }
    if x.cols() != dim {
        bail!(
            "{}: points of dimension {} for a mixture of dimension {dim}",
            args.x0
                .as_ref()
                .map_or("--x0".into(), |p| p.display().to_string()),
            x.cols()
        );
    }
    Ok(x)
}

pub fn run(args: SolversArgs) -> Result<()> {
    if args.solver.is_none() {
        if let Some(out) = &args.out {
            bail!(
                "--out {} writes the end points of one --solver; the error-versus-NFE study writes its plot to --png",
                out.display()
            );
        }
    }
    let mixture = match &args.gmm {
        Some(path) => GaussianMixture::from_json_file(path)?,
        None => GaussianMixture::eight_gaussians(),
    };
    let field = GmmField::new(mixture, schedule::parse(&args.schedule)?);
    match args.solver {
        Some(solver) => single(&args, solver, &field),
        None => study(&args, &field),
    }
}

/// One sampler from the start points to the data end.
fn single(args: &SolversArgs, solver: Solver, field: &GmmField<Box<dyn Schedule>>) -> Result<()> {
    let steps = match args.steps.as_deref() {
        None => 100,
        Some([steps]) => *steps,
        Some(_) => bail!("--steps takes one count with --solver"),
    };
    let schedule = field.schedule();
    let started = Instant::now();
    let (solution, t_start, t_end) = match solver.ode_method() {
        Some(method) => {
            let x = start_points(args, field.mixture().dim(), schedule.sigma(0.0))?;
            let tolerance = (args.tol, args.tol);
            let sol = run_ode(method, field, &x, 0.0, 1.0, steps, tolerance)?;
            (sol, 0.0, 1.0)
        }
        None => {
            let levels = args.diffusion.levels(solver, field, steps, true)?;
            let x = start_points(args, field.mixture().dim(), levels[0].sigma)?;
            let sol = args.diffusion.run(solver, field, &x, &levels, args.seed)?;
            (sol, levels[0].t, levels[levels.len() - 1].t)
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    if !solution.status.is_completed() {
        bail!("{} stopped early: {:?}", solver.name(), solution.status);
    }
    if let Some(out) = &args.out {
        npy::write_matrix(out, &solution.x).with_context(|| out.display().to_string())?;
    }
    let mut r = Report::default();
    r.set("schedule", args.schedule.as_str())
        .set("solver", solver.name())
        .set("n", solution.x.rows())
        .set("steps", steps)
        .set("nfe", solution.stats.nfe)
        .set("t_start", t_start)
        .set("t_end", t_end)
        .set("final_step_to_sigma_0", solver.ode_method().is_none())
        .set("time_s", seconds);
    if let Some(out) = &args.out {
        r.set("out", out.display().to_string());
    }
    r.print(args.json);
    Ok(())
}

/// The error-versus-NFE study of every deterministic sampler.
fn study(args: &SolversArgs, field: &GmmField<Box<dyn Schedule>>) -> Result<()> {
    let steps = args
        .steps
        .clone()
        .unwrap_or_else(|| vec![16, 32, 64, 128, 256, 512]);
    if steps.len() < 2 || steps.contains(&0) {
        bail!("--steps must list at least two positive step counts for the study");
    }
    let schedule = field.schedule();
    let (t_start, t_end) = schedule.sampling_interval();
    let x0 = start_points(
        args,
        field.mixture().dim(),
        Level::at(schedule, t_start).sigma,
    )?;
    let rk4 = |n: usize| run_ode(Method::Rk4, field, &x0, t_start, t_end, n, (0.0, 0.0));
    let reference = rk4(8192)?.x;
    let reference_error = max_error(&rk4(4096)?.x, &reference);
    // The study measures each method's order: no lowered final steps (a few-step heuristic).
    let full_order = DiffusionOptions {
        no_lower_order_final: true,
        ..args.diffusion.clone()
    };
    let mut rows: Vec<Value> = Vec::new();
    let mut series = Vec::new();
    let samplers = [
        Solver::Euler,
        Solver::Midpoint,
        Solver::Heun,
        Solver::Rk4,
        Solver::Ddim,
        Solver::Dpmpp2m,
        Solver::Dpmpp3m,
        Solver::Dpmpp2s,
        Solver::EdmHeun,
        Solver::Unipc,
    ];
    for solver in samplers {
        let (mut errors, mut points) = (Vec::new(), Vec::new());
        for &n in &steps {
            let sol = match solver.ode_method() {
                Some(m) => run_ode(m, field, &x0, t_start, t_end, n, (0.0, 0.0))?,
                None => {
                    let levels = otto::sampler::Discretization::new(n)
                        .grid(args.diffusion.grid_for(solver)?)
                        .interval(t_start, t_end)
                        .denoise_final(false)
                        .levels(schedule)?;
                    full_order.run(solver, field, &x0, &levels, args.seed)?
                }
            };
            let err = max_error(&sol.x, &reference);
            errors.push(err.max(f64::MIN_POSITIVE));
            points.push((sol.stats.nfe as f64, err));
            rows.push(json!({"solver": solver.name(), "steps": n, "nfe": sol.stats.nfe, "max_error": err}));
        }
        let order = convergence_order(&errors, &steps);
        rows.push(json!({"solver": solver.name(), "fitted_order": order, "theoretical_order": solver.order()}));
        series.push((format!("{} (order {order:.2})", solver.name()), points));
    }
    let mut points = Vec::new();
    for &tol in &args.tolerances {
        let sol = run_ode(Method::Dopri5, field, &x0, t_start, t_end, 1, (tol, tol))?;
        let err = max_error(&sol.x, &reference);
        points.push((sol.stats.nfe as f64, err));
        rows.push(json!({"solver": "dopri5", "tolerance": tol, "nfe": sol.stats.nfe, "max_error": err, "status": format!("{:?}", sol.status)}));
    }
    series.push(("dopri5 (adaptive)".to_string(), points));
    let title = format!(
        "max error vs NFE, {} on [{t_start}, {t_end}]",
        args.schedule
    );
    plot::save_png(&args.png, (1000, 700), |root| {
        plot::loglog_panel(root, &title, "NFE", "max error", &series)
    })?;
    if args.json {
        println!(
            "{}",
            json!({"schedule": args.schedule, "t_start": t_start, "t_end": t_end, "reference": "rk4, 8192 steps", "reference_error": reference_error, "n": x0.rows(), "rows": rows, "png": args.png.display().to_string()})
        );
        return Ok(());
    }
    println!(
        "{:<10} {:>8} {:>8} {:>14} {:>8}",
        "solver", "steps", "NFE", "max error", "order"
    );
    for r in &rows {
        let name = r["solver"].as_str().unwrap_or("");
        if let Some(order) = r["fitted_order"].as_f64() {
            println!(
                "{name:<10} {:>8} {:>8} {:>14} {order:>8.3}  (theory {})",
                "", "", "", r["theoretical_order"]
            );
        } else {
            let steps = r["steps"].as_u64().map_or_else(
                || format!("tol {:.0e}", r["tolerance"].as_f64().unwrap_or(0.0)),
                |s| s.to_string(),
            );
            println!(
                "{name:<10} {steps:>8} {:>8} {:>14.3e}",
                r["nfe"].as_u64().unwrap_or(0),
                r["max_error"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    println!(
        "{} on [{t_start}, {t_end}]; reference: RK4 with 8192 steps (its own error ≈ {reference_error:.1e}); plot: {}",
        args.schedule,
        args.png.display()
    );
    Ok(())
}

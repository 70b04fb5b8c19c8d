//! `otto eval`: sample quality of a trained run against held-out points — exact W2 (the published
//! protocol: 10 000 samples, 100 Euler steps, W2 = √(exact OT cost)), MMD, energy distance, and the
//! path kinetic energy with its normalized path energy (NPE), and the test negative log-likelihood
//! when the run's source density is known.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use otto::data::DataSource;
use otto::likelihood::Likelihood;
use otto::metric::{energy_distance, kinetic_energy, npe, Estimator, Mmd};
use otto::sampler::{Method, OdeSolver, Record};
use otto::train::{RunDir, TrainedGenerator, TrainedRun};
use otto_ot::marginal::uniform;
use otto_ot::wasserstein::w2_exact;
use otto_ot::Matrix;
use serde_json::Value;

use crate::likelihood::run_log_density;
use crate::report::Report;

#[derive(Args)]
pub struct EvalArgs {
    /// The run directory written by `otto train`.
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// Held-out points: a built-in name (drawn with --test-seed) or a .npy/.csv file
    /// [default: the run's target].
    #[arg(long)]
    test: Option<String>,
    /// Number of generated and held-out points.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Euler steps of the probability-flow ODE.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Seed of the source points.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seed of built-in held-out points (differs from training's draws).
    #[arg(long, default_value_t = 987_654_321)]
    test_seed: u64,
    /// Held-out points whose mean negative log-likelihood is reported (the first ones; 0 skips
    /// it). Needs a source with a known density (gaussian, 8gaussians, dsb-8gaussians, torchdyn-8gaussians).
    #[arg(long, default_value_t = 2000)]
    nll_points: usize,
    /// A class-conditional drifting run: the guidance scale α ≥ 1 of the per-class metrics.
    #[arg(long, default_value_t = 1.0, value_name = "ALPHA")]
    cfg: f64,
    /// Use the EMA weights.
    #[arg(long)]
    ema: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Exact W2 between generated and held-out points (uniform weights), after checking that their
/// dimensions agree.
fn w2_to_held_out(generated: &Matrix, held_out: &Matrix) -> Result<f64> {
    if generated.cols() != held_out.cols() {
        bail!(
            "the run generates {}-dimensional points but the test data has dimension {}",
            generated.cols(),
            held_out.cols()
        );
    }
    Ok(w2_exact(
        generated,
        &uniform(generated.rows()),
        held_out,
        &uniform(held_out.rows()),
    )?)
}

/// The metrics of a trained run against `held_out` points, from `n` samples of the probability-flow
/// ODE (Euler, `steps` steps) started at source points drawn with `seed`. Returns the metrics as a
/// report and the generated points.
pub fn evaluate(
    trained: &TrainedRun,
    held_out: &Matrix,
    n: usize,
    steps: usize,
    seed: u64,
    test_seed: u64,
) -> Result<(Report, Matrix)> {
    let x0 = trained.prior(n, seed);
    let (t0, t1) = trained.interval();
    let solution = OdeSolver::new(Method::Euler)
        .steps(steps)
        .record(Record::EveryStep)
        .solve(&trained.field, &x0, t0, t1)?;
    let generated = solution.x;
    let w2 = w2_to_held_out(&generated, held_out)?;
    // The law at t_start: held-out source points, or a diffusion run's prior N(0, σ² I).
    let source_test = match trained.recipe.schedule {
        Some(_) => trained.prior(n, test_seed ^ 1),
        None => trained.recipe.source.held_out(n, test_seed ^ 1),
    };
    let w2_endpoints = w2_exact(
        &source_test,
        &uniform(n),
        held_out,
        &uniform(held_out.rows()),
    )?;
    let kinetic = kinetic_energy(&solution.trajectory);
    // Liu et al. 2023's straightness S = E∫‖ẋ‖² dt − E‖x1 − x0‖² (0 for straight paths).
    let displacement = (0..n)
        .map(|i| otto_ot::GroundCost::SquaredEuclidean.eval(generated.row(i), x0.row(i)))
        .sum::<f64>()
        / n as f64;
    let mmd = Mmd::default().squared(&generated, held_out)?;
    let energy = energy_distance(&generated, held_out, Estimator::V)?;
    let mut r = Report::default();
    r.set("n", n)
        .set("euler_steps", steps)
        .set("w2", w2)
        .set("mmd2_rbf", mmd)
        .set("energy_distance", energy)
        .set("kinetic_energy", kinetic)
        .set("straightness", kinetic - displacement)
        .set("w2_squared_source_target", w2_endpoints * w2_endpoints)
        .set("npe", npe(kinetic, w2_endpoints * w2_endpoints));
    Ok((r, generated))
}

/// The mean negative log-likelihood (nats) of the first `points` held-out points through the
/// probability-flow ODE (RK4 with 100 steps, exact divergence: [`Likelihood::default`]), or a note saying why it is
/// skipped: the run's source has no known density.
pub fn test_nll(trained: &TrainedRun, held_out: &Matrix, points: usize) -> Result<Report> {
    let mut r = Report::default();
    if points == 0 {
        return Ok(r);
    }
    match trained.source_density() {
        Ok(source) => {
            let n = points.min(held_out.rows());
            let x = Matrix::from_fn(n, held_out.cols(), |i, j| held_out.get(i, j));
            let result = run_log_density(trained, &source, &x, &Likelihood::default())?;
            r.set("test_nll_nats", result.nll())
                .set("test_nll_points", n)
                .set("test_nll_nfe", result.stats.nfe);
        }
        Err(e) => {
            r.set("test_nll_nats", Value::Null)
                .set("test_nll_note", format!("skipped: {e}"));
        }
    }
    Ok(r)
}

/// Sample-quality metrics of a drifting generator (one network evaluation per sample): W2,
/// MMD² and energy distance to `held_out`. A generator has no path and no density: no kinetic
/// energy, straightness or likelihood.
pub fn evaluate_generator(
    generator: &TrainedGenerator,
    held_out: &Matrix,
    n: usize,
    seed: u64,
) -> Result<(Report, Matrix)> {
    let generated = generator.sample(n, seed)?;
    let w2 = w2_to_held_out(&generated, held_out)?;
    let mut r = Report::default();
    r.set("n", n)
        .set("nfe", 1)
        .set("w2", w2)
        .set("mmd2_rbf", Mmd::default().squared(&generated, held_out)?)
        .set(
            "energy_distance",
            energy_distance(&generated, held_out, Estimator::V)?,
        );
    Ok((r, generated))
}

/// Per-class metrics of a class-conditional generator at guidance scale `alpha`: for each class,
/// W2 between n/K samples of it and its held-out rows, and the spread of the samples (mean
/// squared distance to their mean, the quantity guidance shrinks).
pub fn evaluate_classes(
    generator: &TrainedGenerator,
    n: usize,
    seed: u64,
    alpha: f64,
) -> Result<Report> {
    let (Some(k), Some(drift)) = (generator.classes(), generator.recipe.drift.as_ref()) else {
        bail!("--cfg applies to class-conditional drifting runs");
    };
    let test = &drift.classes.as_ref().expect("a conditional run").test;
    let per_class = (n / k).max(2);
    let (mut w2s, mut spreads) = (Vec::new(), Vec::new());
    for c in 0..k {
        let (x, _) = generator.sample_guided(per_class, seed + c as u64, Some(c), alpha)?;
        let held_out = test.class(c);
        if held_out.rows() == 0 {
            bail!("class {c} has no held-out rows");
        }
        w2s.push(w2_exact(
            &x,
            &uniform(per_class),
            &held_out,
            &uniform(held_out.rows()),
        )?);
        let mean: Vec<f64> = (0..x.cols())
            .map(|j| (0..per_class).map(|i| x.get(i, j)).sum::<f64>() / per_class as f64)
            .collect();
        let spread = (0..per_class)
            .map(|i| {
                (0..x.cols())
                    .map(|j| (x.get(i, j) - mean[j]).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / per_class as f64;
        spreads.push(spread);
    }
    let mut r = Report::default();
    r.set("cfg", alpha)
        .set("w2_class_mean", w2s.iter().sum::<f64>() / k as f64)
        .set("class_spread_mean", spreads.iter().sum::<f64>() / k as f64)
        .set("w2_per_class", w2s)
        .set("class_spread", spreads);
    Ok(r)
}

pub fn run(args: EvalArgs) -> Result<()> {
    // Inside a pool the network's blocks split by `rayon::join` between the pool's own threads;
    // from the main thread each pass would hand a block to a third thread and wake it.
    let pool = rayon::ThreadPoolBuilder::new().build()?;
    pool.install(|| evaluate_run(args))
}

fn evaluate_run(args: EvalArgs) -> Result<()> {
    if args.n < 2 {
        bail!("--n must be at least 2");
    }
    let run = RunDir::open(&args.run)?;
    if crate::sample::is_drifting(&run)? {
        let generator = TrainedGenerator::load(&run, args.ema)?;
        let held_out = match &args.test {
            Some(t) => t.parse::<DataSource>()?.dataset(args.n, args.test_seed)?,
            None => generator.recipe.target.held_out(args.n, args.test_seed),
        };
        let (mut report, _) = evaluate_generator(&generator, &held_out, args.n, args.seed)?;
        if generator.classes().is_some() {
            report.extend(evaluate_classes(&generator, args.n, args.seed, args.cfg)?);
        } else if args.cfg != 1.0 {
            bail!("--cfg applies to class-conditional drifting runs; this one was trained without labels");
        }
        run.write("metrics.json", &report.to_json_pretty())?;
        report.print(args.json);
        return Ok(());
    }
    let trained = TrainedRun::load(&run, args.ema)?;
    // A named test set: n fresh points of a built-in distribution, or every row of a file.
    let held_out = match &args.test {
        Some(t) => t.parse::<DataSource>()?.dataset(args.n, args.test_seed)?,
        None => trained.recipe.target.held_out(args.n, args.test_seed),
    };
    let (mut report, _) = evaluate(
        &trained,
        &held_out,
        args.n,
        args.steps,
        args.seed,
        args.test_seed,
    )?;
    report.extend(test_nll(&trained, &held_out, args.nll_points)?);
    run.write("metrics.json", &report.to_json_pretty())?;
    report.print(args.json);
    Ok(())
}

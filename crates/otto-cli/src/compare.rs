//! `otto compare`: several methods on one task, trained and evaluated under one protocol — the
//! table (W2, MMD², test NLL, NFE, sampling and training wall time, path kinetic energy, NPE) of
//! [`crate::eval::evaluate`] (100 Euler steps of the probability-flow ODE on fresh source points
//! against held-out target points) for every method, W2 versus NFE for each method's samplers, a
//! figure of the samples side by side and the W2–NFE curves, written as JSON and Markdown.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
use otto::field::Denoiser;
use otto::sampler::{DiffusionOptions, DiffusionSampler, Solution};
use otto::train::{self, Method, RunDir, TrainConfig, TrainedGenerator, TrainedRun};
use otto_ot::marginal::uniform;
use otto_ot::wasserstein::w2_exact;
use otto_ot::Matrix;
use serde_json::{json, Value};

use crate::eval::{evaluate, evaluate_generator, test_nll};
use crate::npy;
use crate::plot;
use crate::samplers::{run_ode, Solver};
use crate::train::Progress;

#[derive(Args)]
pub struct CompareArgs {
    /// Methods to train and compare, comma-separated (i-cfm, ot-cfm, sb-cfm, sf2m, reflow — after
    /// i-cfm, its teacher — ddpm, score-ve, edm, vp-v, and drifting, a one-step generator
    /// trained with its own recipe: --drift-steps).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ddpm,score-ve,edm,i-cfm,ot-cfm,sb-cfm,sf2m,reflow"
    )]
    methods: Vec<String>,
    /// Source of the flow-matching methods (the diffusion methods start from N(0, I) of the
    /// target's dimension).
    #[arg(long, default_value = "gaussian")]
    source: String,
    /// Target data: a built-in name or a .npy/.csv file.
    #[arg(long, default_value = "moons")]
    target: String,
    /// Training steps of every method.
    #[arg(long, default_value_t = 10_000)]
    steps: usize,
    /// Minibatch size of every method.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Training steps of drifting, which follows the authors' toy recipe (2048 + 2048 points per
    /// step, a 3×256 SiLU generator, the paper's field at τ = 0.05) instead of --steps/--batch.
    #[arg(long, default_value_t = 2000)]
    drift_steps: usize,
    /// Generated and held-out points of the evaluation.
    #[arg(long, default_value_t = 2000)]
    n: usize,
    /// NFE budgets of the W2-versus-NFE curves, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "4,10,20,50,100")]
    nfe: Vec<usize>,
    /// Seed of every run and of the evaluation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory: one run per method, compare.json, compare.md, compare.png.
    #[arg(long, default_value = "runs/compare")]
    out: PathBuf,
    /// Continue an interrupted comparison in --out: a method whose run there has this
    /// comparison's configuration is not trained again — a finished one is evaluated as it is, an
    /// unfinished one resumes from its last checkpoint (bit for bit as `otto train --resume`) —
    /// and its training time is the one its checkpoints recorded.
    #[arg(long)]
    resume: bool,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Seed of the held-out points (apart from every training draw).
const TEST_SEED: u64 = 987_654_321;

/// One labelled W2–NFE curve: (method, [(NFE, W2)]).
type Curve = (String, Vec<(f64, f64)>);

/// The samplers of the W2–NFE curves, one panel each: Euler for every method; DPM-Solver++(2M)
/// and EDM's Heun for the methods with a denoiser.
const SAMPLERS: [Solver; 3] = [Solver::Euler, Solver::Dpmpp2m, Solver::EdmHeun];

fn samplers(trained: &TrainedRun) -> &'static [Solver] {
    match trained.field.with_denoiser() {
        Some(_) => &SAMPLERS,
        None => &SAMPLERS[..1],
    }
}

/// `n` samples of the run with `solver` at about `nfe` evaluations (EDM Heun: 2N − 1 ≤ nfe).
fn draw(trained: &TrainedRun, solver: Solver, nfe: usize, n: usize, seed: u64) -> Result<Solution> {
    let (t0, t1) = trained.interval();
    if let Some(method) = solver.ode_method() {
        let x = trained.prior(n, seed);
        return run_ode(method, &trained.field, &x, t0, t1, nfe, (0.0, 0.0));
    }
    let (Some(denoiser), Some(sampler)) = (trained.field.with_denoiser(), solver.diffusion())
    else {
        bail!("{} needs a denoiser", solver.name());
    };
    let steps = if sampler == DiffusionSampler::EdmHeun {
        nfe.div_ceil(2).max(1)
    } else {
        nfe
    };
    let options = DiffusionOptions::default();
    let levels = options.levels(sampler, denoiser.schedule(), steps, true)?;
    let x = trained.prior_at(n, seed, levels[0].sigma);
    Ok(options.run(sampler, &denoiser, &x, &levels, seed)?)
}

pub fn run(args: CompareArgs) -> Result<()> {
    if args.methods.is_empty() || args.n < 2 || args.nfe.is_empty() || args.nfe.contains(&0) {
        bail!("--methods must name at least one method, --n be at least 2 and --nfe list positive budgets");
    }
    let methods: Vec<Method> = args
        .methods
        .iter()
        .map(|m| m.parse::<Method>().map_err(anyhow::Error::msg))
        .collect::<Result<_>>()?;
    // A reflow straightens the flow of the i-cfm run trained before it (its teacher).
    if let Some(r) = methods.iter().position(|m| *m == Method::Reflow) {
        if !methods[..r].contains(&Method::ICfm) {
            bail!("reflow in --methods needs i-cfm before it: the reflow trains on the i-cfm run's ODE pairs");
        }
    }
    std::fs::create_dir_all(&args.out)?;
    let pool = rayon::ThreadPoolBuilder::new().build()?;
    let mut rows: Vec<Value> = Vec::new();
    let mut curves: Vec<Vec<Curve>> = vec![Vec::new(); SAMPLERS.len()];
    let mut panels: Vec<(String, Matrix)> = Vec::new();
    let mut held_out = None;
    let mut time_curves: Vec<Curve> = Vec::new();
    for method in &methods {
        if *method == Method::Drifting {
            let row = compare_generator(&args, &pool, &mut held_out, &mut panels)?;
            let (w2, time) = (row["w2"].as_f64(), row["sample_time_s"].as_f64());
            if let (Some(w2), Some(time)) = (w2, time) {
                curves[0].push((method.name().into(), vec![(1.0, w2)]));
                time_curves.push((method.name().into(), vec![(time, w2)]));
            }
            rows.push(row);
            continue;
        }
        let config = TrainConfig {
            method: *method,
            sigma: method.default_sigma(),
            source: args.source.clone(),
            target: args.target.clone(),
            steps: args.steps,
            batch: args.batch,
            seed: args.seed,
            checkpoint_every: args.steps.div_ceil(4).max(1),
            from: args.out.join(Method::ICfm.name()).display().to_string(),
            ..TrainConfig::default()
        };
        let (run, train_time) = train_run(&args, &pool, &config)?;
        let trained = TrainedRun::load(&run, false)?;
        let test = held_out
            .get_or_insert_with(|| trained.recipe.target.held_out(args.n, TEST_SEED))
            .clone();
        let (mut report, generated) =
            pool.install(|| evaluate(&trained, &test, args.n, 100, 1, TEST_SEED))?;
        // Sampling wall time of the table's sampler (Euler, 100 steps), warm.
        let (sample_time, _) =
            fastest(|| pool.install(|| draw(&trained, Solver::Euler, 100, args.n, 1)))?;
        report.extend(pool.install(|| test_nll(&trained, &test, args.n))?);
        npy::write_matrix(&run.file("samples.npy"), &generated)?;
        let mut row = report.to_json();
        row["method"] = json!(method.name());
        row["nfe"] = json!(100);
        row["sample_time_s"] = json!(sample_time);
        row["train_time_s"] = json!(train_time);
        let mut measured = Vec::new();
        for &solver in samplers(&trained) {
            let mut points = Vec::new();
            for &nfe in &args.nfe {
                let (time, solution) =
                    fastest(|| pool.install(|| draw(&trained, solver, nfe, args.n, 1)))?;
                let w2 = w2_exact(&solution.x, &uniform(args.n), &test, &uniform(test.rows()))?;
                points.push((solution.stats.nfe as f64, w2));
                measured.push(json!({"solver": solver.name(), "nfe": solution.stats.nfe, "w2": w2, "time_s": time}));
            }
            let index = SAMPLERS
                .iter()
                .position(|s| *s == solver)
                .expect("a listed sampler");
            curves[index].push((method.name().to_string(), points));
        }
        time_curves.push((
            method.name().to_string(),
            measured
                .iter()
                .filter(|m| m["solver"] == Solver::Euler.name())
                .filter_map(|m| Some((m["time_s"].as_f64()?, m["w2"].as_f64()?)))
                .collect(),
        ));
        row["w2_vs_nfe"] = json!(measured);
        panels.push((method.name().to_string(), generated));
        rows.push(row);
    }
    let test = held_out.expect("at least one method ran");
    let figure = args.out.join("compare.png");
    let width = 360 * panels.len() as u32;
    // One pair of axes for every method's samples, so that spreads compare at a glance.
    let mut clouds: Vec<&Matrix> = panels.iter().map(|(_, points)| points).collect();
    clouds.push(&test);
    let ranges = plot::bounds(&clouds);
    plot::save_png(&figure, (width.max(1500), 760), |root| {
        let (top, bottom) = root.split_vertically(380);
        for (area, (name, points)) in top.split_evenly((1, panels.len())).iter().zip(&panels) {
            plot::clouds_panel_within(
                area,
                name,
                ranges.clone(),
                &[
                    ("held out", &test, plot::MUTED),
                    ("generated", points, plot::TARGET),
                ],
            )?;
        }
        // One panel per sampler that some method used, then W2 against wall time.
        let used: Vec<(Solver, &Vec<Curve>)> = SAMPLERS
            .into_iter()
            .zip(&curves)
            .filter(|(_, series)| !series.is_empty())
            .collect();
        let areas = bottom.split_evenly((1, used.len() + 1));
        for (area, (solver, series)) in areas.iter().zip(&used) {
            let title = format!("W2 vs NFE, {}", solver.name());
            plot::loglog_panel(area, &title, "NFE", "W2 to held-out points", series)?;
        }
        // The panel's title names drifting's one network pass only when drifting is in the table.
        let time_title = if methods.contains(&Method::Drifting) {
            "W2 vs time (euler; drifting: 1 pass)"
        } else {
            "W2 vs sampling time, euler"
        };
        plot::loglog_panel(
            &areas[used.len()],
            time_title,
            "seconds",
            "W2 to held-out points",
            &time_curves,
        )?;
        Ok(())
    })?;
    let markdown = markdown_table(&rows, &args);
    npy::write_atomic(&args.out.join("compare.md"), markdown.as_bytes())?;
    let document = json!({
        "task": format!("{} -> {}", args.source, args.target),
        "steps": args.steps, "batch": args.batch, "n": args.n, "seed": args.seed,
        "protocol": "W2, MMD, energy, kinetic energy and NPE from 100 Euler steps of the probability-flow ODE; test NLL by RK4 (100 steps, exact divergence)",
        "methods": rows, "figure": figure.display().to_string(),
    });
    npy::write_atomic(
        &args.out.join("compare.json"),
        serde_json::to_string_pretty(&document)?.as_bytes(),
    )?;
    if args.json {
        println!("{document}");
    } else {
        print!("{markdown}");
        println!("\nfigure: {}", figure.display());
    }
    Ok(())
}

/// The shortest wall time of three runs of `f` (sampling times are noisy on a shared machine) and
/// the last result.
fn fastest<T>(mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..3 {
        let start = Instant::now();
        last = Some(f()?);
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok((best, last.expect("three runs")))
}

/// Trains `config` into the comparison's directory of its method, with progress (with
/// `--resume`, continues or keeps the run there when it has this configuration); returns the run
/// and its training wall time (`None`: resumed from a checkpoint of an otto that did not keep it).
fn train_run(
    args: &CompareArgs,
    pool: &rayon::ThreadPool,
    config: &TrainConfig,
) -> Result<(RunDir, Option<f64>)> {
    let dir = args.out.join(config.method.name());
    let run = RunDir::create(&dir)?;
    let resume = args.resume && resumable(&run, config)?;
    if !args.quiet {
        let verb = if resume { "resuming" } else { "training" };
        eprintln!("{verb} {} → {}", config.method.name(), dir.display());
    }
    let mut progress = Progress::new(config.steps, args.quiet);
    let state = pool.install(|| train::train(config, &run, resume, &mut progress))?;
    Ok((run, state.train_seconds))
}

/// Whether `run` holds a checkpoint of a run configured as `config` (no run there, or one stopped
/// before its first checkpoint: no, train it afresh). A run of another configuration is an error:
/// `--resume` must not mix two protocols in one table.
fn resumable(run: &RunDir, config: &TrainConfig) -> Result<bool> {
    if !run.file("config.toml").is_file() {
        return Ok(false);
    }
    let (there, here) = (run.read_to_string("config.toml")?, config.to_toml());
    if there != here {
        let differing = |a: &str, b: &str| -> String {
            let other: Vec<&str> = b.lines().collect();
            let lines: Vec<&str> = a.lines().filter(|l| !other.contains(l)).collect();
            lines.join(", ")
        };
        bail!(
            "--resume: {} holds a run of another configuration (there: {}; here: {}); run without --resume to train it again, or choose another --out",
            run.root().display(),
            differing(&there, &here),
            differing(&here, &there)
        );
    }
    Ok(run.file("checkpoint.json").is_file())
}

/// Trains and evaluates the drifting run of a comparison: the authors' toy recipe for
/// `drift_steps` steps, samples in one network evaluation. Returns its table row.
fn compare_generator(
    args: &CompareArgs,
    pool: &rayon::ThreadPool,
    held_out: &mut Option<Matrix>,
    panels: &mut Vec<(String, Matrix)>,
) -> Result<Value> {
    let method = Method::Drifting;
    // The notebook's τ = 0.05 is for data of mean pairwise distance ≈ 1 (its checkerboard:
    // 1.04); scaled to the target's mean distance so that the kernel lives at the data's scale.
    if held_out.is_none() {
        let source: otto::data::DataSource = args.target.parse()?;
        let data =
            otto::data::Dataset::new(&source, TrainConfig::default().test_fraction, args.seed)?;
        *held_out = Some(data.held_out(args.n, TEST_SEED));
    }
    let test = held_out.clone().expect("set above");
    let temperature = 0.05 * mean_distance(&test);
    let config = TrainConfig {
        target: args.target.clone(),
        temperatures: vec![temperature],
        steps: args.drift_steps,
        seed: args.seed,
        checkpoint_every: args.drift_steps.div_ceil(4).max(1),
        ..TrainConfig::defaults_for(method)
    };
    let (run, train_time) = train_run(args, pool, &config)?;
    let generator = TrainedGenerator::load(&run, false)?;
    let (report, generated) = pool.install(|| evaluate_generator(&generator, &test, args.n, 1))?;
    let (sample_time, _) = fastest(|| Ok(pool.install(|| generator.sample(args.n, 1))?))?;
    npy::write_matrix(&run.file("samples.npy"), &generated)?;
    let mut row = report.to_json();
    row["method"] = json!(method.name());
    row["sample_time_s"] = json!(sample_time);
    row["train_time_s"] = json!(train_time);
    row["temperature"] = json!(temperature);
    row["w2_vs_nfe"] = json!([{"solver": "generator", "nfe": 1, "w2": report.to_json()["w2"], "time_s": sample_time}]);
    panels.push((method.name().to_string(), generated));
    Ok(row)
}

/// The mean Euclidean distance between distinct rows of `x`.
fn mean_distance(x: &Matrix) -> f64 {
    let n = x.rows();
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..i {
            total += otto_ot::GroundCost::SquaredEuclidean
                .eval(x.row(i), x.row(j))
                .sqrt();
        }
    }
    total / (n * (n - 1) / 2).max(1) as f64
}

/// The table as Markdown.
fn markdown_table(rows: &[Value], args: &CompareArgs) -> String {
    let number = |v: &Value, precision: usize| {
        v.as_f64()
            .map_or_else(|| "—".to_string(), |x| format!("{x:.precision$}"))
    };
    let mut out = format!(
        "{} → {}, {} steps at batch {}, {} points; Euler 100 NFE for W2/MMD/kinetic energy/NPE\n\n",
        args.source, args.target, args.steps, args.batch, args.n
    );
    out.push_str("| method | W2 | MMD² | test NLL (nats) | NFE | sampling s | training s | kinetic energy | NPE | best W2 at ≤ 20 NFE |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let best = r["w2_vs_nfe"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["nfe"].as_u64().is_some_and(|n| n <= 20))
            .min_by(|a, b| {
                a["w2"]
                    .as_f64()
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&b["w2"].as_f64().unwrap_or(f64::INFINITY))
            })
            .map_or_else(
                || "—".to_string(),
                |p| {
                    format!(
                        "{:.3} ({}, {})",
                        p["w2"].as_f64().unwrap_or(f64::NAN),
                        p["solver"].as_str().unwrap_or(""),
                        p["nfe"]
                    )
                },
            );
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r["method"].as_str().unwrap_or(""),
            number(&r["w2"], 3),
            number(&r["mmd2_rbf"], 4),
            number(&r["test_nll_nats"], 3),
            r["nfe"],
            number(&r["sample_time_s"], 3),
            number(&r["train_time_s"], 1),
            number(&r["kinetic_energy"], 3),
            number(&r["npe"], 3),
            best
        ));
    }
    out
}

//! `otto bench`: times otto's solvers on the standard benchmark problems, in-process, without any
//! Python. The peer comparison on identical inputs lives in `bench/peers/` (see BENCHMARKS.md).

use std::time::Instant;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use otto_ot::entropic::Sinkhorn;
use otto_ot::exact::{self, ExactSolver};
use otto_ot::marginal::uniform;
use otto_ot::{squared_euclidean, Matrix};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::json;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Training steps per second of I-CFM and OT-CFM (8gaussians → moons, torchcfm's MLP) and
    /// the time to sample 10 000 points with 100 Euler steps — the workloads of
    /// bench/peers/torchcfm_bench.py.
    Train(BenchTrainArgs),
    /// The drifting toy's training step (the authors' recipe) and the drift field alone at
    /// N = M = 2048 and 16 384 with its peak memory.
    Drift(crate::bench_drift::BenchDriftArgs),
    /// Exact and entropic OT between two seeded 2-D standard Gaussian clouds (the second shifted
    /// by (1, 1)), uniform weights, squared-Euclidean cost.
    Ot(BenchOtArgs),
}

#[derive(Args)]
pub struct BenchOtArgs {
    /// Cloud sizes n (n × n problems), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "256,1000,2000")]
    sizes: Vec<usize>,
    /// Timed repetitions per case; the median and the best are reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Sinkhorn regularization relative to the mean cost (ε = eps_rel · mean C).
    #[arg(long, default_value_t = 0.05)]
    eps_rel: f64,
    /// Sinkhorn tolerance on the marginal violation ‖πᵀ1 − b‖₂.
    #[arg(long, default_value_t = 1e-6)]
    tol: f64,
    /// Seed of the clouds.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct BenchTrainArgs {
    /// Timed training steps per configuration (after 20 warm-up steps).
    #[arg(long, default_value_t = 500)]
    steps: usize,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Ot(args) => ot(args),
        BenchCommand::Train(args) => train_steps(args),
        BenchCommand::Drift(args) => crate::bench_drift::run(args),
    }
}

fn train_steps(args: BenchTrainArgs) -> Result<()> {
    use otto::field::VectorField;
    use otto::sampler::{Method as OdeMethod, OdeSolver};
    use otto::train::{train, Method, RunDir, Silent, TrainConfig, TrainedRun};

    let dir = std::env::temp_dir().join(format!("otto-bench-{}", std::process::id()));
    let pool = rayon::ThreadPoolBuilder::new().build()?;
    let emit = |fields: serde_json::Value| {
        if args.json {
            println!("{fields}");
        } else {
            println!(
                "{:<10} {:>6} {:>6} {:>12.3} ms",
                fields["bench"].as_str().unwrap_or(""),
                fields["width"].as_u64().unwrap_or(0),
                fields["batch"].as_u64().unwrap_or(0),
                fields["ms"].as_f64().unwrap_or(f64::NAN)
            );
        }
    };
    if !args.json {
        println!(
            "{:<10} {:>6} {:>6} {:>15}",
            "bench", "width", "batch", "time"
        );
    }
    for (width, batch) in [(64, 512), (256, 1024)] {
        for method in [Method::ICfm, Method::OtCfm] {
            let steps = if method == Method::OtCfm {
                (args.steps / 5).max(20)
            } else {
                args.steps
            };
            let time_steps = |total: usize| -> Result<f64> {
                let config = TrainConfig {
                    method,
                    width,
                    batch,
                    steps: total,
                    log_every: total,
                    checkpoint_every: total,
                    ..TrainConfig::default()
                };
                let run = RunDir::create(&dir)?;
                let start = Instant::now();
                pool.install(|| train(&config, &run, false, &mut Silent))?;
                Ok(start.elapsed().as_secs_f64())
            };
            // Subtract a 20-step run: start-up and the final checkpoint write are not steps.
            let per_step = (time_steps(20 + steps)? - time_steps(20)?) / steps as f64;
            emit(
                json!({"bench": method.name(), "width": width, "batch": batch, "ms": per_step * 1e3, "steps": steps}),
            );
        }
    }
    // Sampling time does not depend on the weights: a one-step 3×64 run is the model sampled.
    let run = RunDir::create(&dir)?;
    let config = TrainConfig {
        method: Method::ICfm,
        steps: 1,
        log_every: 1,
        checkpoint_every: 1,
        ..TrainConfig::default()
    };
    pool.install(|| train(&config, &run, false, &mut Silent))?;
    let small = TrainedRun::load(&run, false)?;
    let x0 = small.recipe.source.draw(10_000, 1);
    let (median, _, _) = time(3, || {
        Ok(pool.install(|| {
            OdeSolver::new(OdeMethod::Euler).steps(100).solve(
                &small.field as &dyn VectorField,
                &x0,
                0.0,
                1.0,
            )
        })?)
    })?;
    emit(
        json!({"bench": "sample", "width": 64, "batch": 10_000, "ms": median * 1e3, "euler_steps": 100}),
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Times `f` `repeats` times; returns (median, best) seconds and the last result.
fn time<T>(repeats: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, f64, T)> {
    let mut times = Vec::with_capacity(repeats);
    let mut last = None;
    for _ in 0..repeats {
        let start = Instant::now();
        last = Some(f()?);
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let last = last.expect("repeats ≥ 1");
    Ok((times[times.len() / 2], times[0], last))
}

fn ot(args: BenchOtArgs) -> Result<()> {
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    if args.sizes.iter().any(|&n| n < 2) {
        bail!(
            "every size in --sizes must be at least 2, got {:?}",
            args.sizes
        );
    }
    if !args.json {
        println!(
            "{:<8} {:<26} {:>11} {:>11} {:>16} {:>8}",
            "n", "solver", "median ms", "best ms", "cost", "iters"
        );
    }
    for &n in &args.sizes {
        let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
        let mut cloud = |shift: f64| {
            Matrix::from_fn(n, 2, |_, _| {
                let z: f64 = StandardNormal.sample(&mut rng);
                shift + z
            })
        };
        let x = cloud(0.0);
        let y = cloud(1.0);
        let cost = squared_euclidean(&x, &y)?;
        let w = uniform(n);
        let eps = args.eps_rel * cost.as_slice().iter().sum::<f64>() / (n * n) as f64;
        let rows = [
            {
                let (med, best, sol) = time(args.repeats, || {
                    Ok(exact::solve_with(&w, &w, &cost, ExactSolver::Assignment)?)
                })?;
                (
                    "assignment".to_string(),
                    med,
                    best,
                    sol.cost,
                    sol.status.iterations(),
                )
            },
            {
                let (med, best, sol) = time(args.repeats, || Ok(exact::solve(&w, &w, &cost)?))?;
                (
                    "network_simplex".to_string(),
                    med,
                    best,
                    sol.cost,
                    sol.status.iterations(),
                )
            },
            {
                let solver = Sinkhorn::new(eps).tolerance(args.tol);
                let (med, best, sol) = time(args.repeats, || Ok(solver.solve(&w, &w, &cost)?))?;
                (
                    format!("sinkhorn (eps {eps:.3})"),
                    med,
                    best,
                    sol.transport_cost,
                    sol.status.iterations(),
                )
            },
        ];
        for (solver, med, best, value, iters) in rows {
            if args.json {
                println!(
                    "{}",
                    json!({"n": n, "solver": solver, "median_s": med, "best_s": best, "cost": value, "iterations": iters})
                );
            } else {
                println!(
                    "{n:<8} {solver:<26} {:>11.2} {:>11.2} {value:>16.10} {iters:>8}",
                    med * 1e3,
                    best * 1e3
                );
            }
        }
    }
    Ok(())
}

//! `otto bench drift`: the drifting toy's training step (the authors' notebook recipe) and the
//! drift field alone at growing batch sizes, with the field's peak memory — the workloads of
//! bench/peers/drifting_toy.py.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use otto::data::Toy;
use otto::drift::{DriftField, Variant};
use otto::train::{train, Method, RunDir, Silent, TrainConfig};
use serde_json::json;

#[derive(Args)]
pub struct BenchDriftArgs {
    /// Timed training steps (after 10 warm-up steps).
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Batch sizes N = M of the field-alone timings, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2048,16384")]
    sizes: Vec<usize>,
    /// Timed repetitions of each field evaluation (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

/// The process's peak resident memory so far (VmHWM, Linux), in MiB.
fn peak_resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(args: BenchDriftArgs) -> Result<()> {
    anyhow::ensure!(
        args.steps >= 1 && args.repeats >= 1,
        "--steps and --repeats must be at least 1"
    );
    let emit = |fields: serde_json::Value| {
        if args.json {
            println!("{fields}");
        } else {
            println!(
                "{:<12} {:>6} {:>10.2} ms  {}",
                fields["bench"].as_str().unwrap_or(""),
                fields["n"].as_u64().unwrap_or(0),
                fields["ms"].as_f64().unwrap_or(f64::NAN),
                fields["note"].as_str().unwrap_or("")
            );
        }
    };
    let pool = rayon::ThreadPoolBuilder::new().build()?;
    // The field alone first (its peak memory is read before the training step's).
    for &n in &args.sizes {
        let toy = Toy::DriftingCheckerboard;
        let to_f32 = |seed| -> Vec<f32> {
            toy.sample(n, seed)
                .as_slice()
                .iter()
                .map(|&v| (0.9 * v) as f32)
                .collect()
        };
        let (x, positives) = (to_f32(1), to_f32(2));
        let field = DriftField::new(Variant::Deng);
        let before = peak_resident_mib();
        let mut times = Vec::with_capacity(args.repeats);
        for _ in 0..args.repeats {
            let start = Instant::now();
            pool.install(|| field.evaluate(&x, &positives, None, 2))?;
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let extra = before.zip(peak_resident_mib()).map(|(b, a)| a - b);
        emit(json!({
            "bench": "field-deng", "n": n, "m": n, "ms": times[times.len() / 2] * 1e3,
            "peak_extra_mib": extra,
            "note": extra.map_or(String::new(), |e| format!("peak memory +{e:.1} MiB")),
        }));
    }
    let dir = std::env::temp_dir().join(format!("otto-bench-drift-{}", std::process::id()));
    let time_steps = |total: usize| -> Result<f64> {
        let config = TrainConfig {
            target: "drifting-checkerboard".into(),
            drift: "deng".into(),
            steps: total,
            log_every: total,
            checkpoint_every: total,
            ..TrainConfig::defaults_for(Method::Drifting)
        };
        let run = RunDir::create(&dir)?;
        let start = Instant::now();
        pool.install(|| train(&config, &run, false, &mut Silent))?;
        Ok(start.elapsed().as_secs_f64())
    };
    // Subtract a 10-step run: start-up and the final checkpoint write are not steps.
    let per_step = (time_steps(10 + args.steps)? - time_steps(10)?) / args.steps as f64;
    emit(json!({
        "bench": "toy-step", "n": 2048, "ms": per_step * 1e3, "steps": args.steps,
        "note": "MLP 32→256→256→256→2 SiLU, Adam, 2048 generated + 2048 data, deng τ = 0.05",
    }));
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

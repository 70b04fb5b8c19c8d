//! Times the exact assignment solver on squared-Euclidean costs between two seeded 2-D standard
//! Gaussian clouds of n points each (the uniform n×n exact OT problem).
//!
//! Usage: `cargo run --release -p otto-ot --example assignment_timing -- [n] [repeats]`
//! (defaults: n = 1000, 5 repeats). Only the solve is timed; the best and median times are printed.

use std::time::Instant;

use otto_ot::exact::Assignment;
use otto_ot::{squared_euclidean, Matrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn gaussian_cloud(rng: &mut ChaCha8Rng, n: usize) -> Matrix {
    Matrix::from_fn(n, 2, |_, _| rng.sample(StandardNormal))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1000), |s| s.parse())?;
    let repeats: usize = args.next().map_or(Ok(5), |s| s.parse())?;
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let x = gaussian_cloud(&mut rng, n);
    let y = gaussian_cloud(&mut rng, n);
    let cost = squared_euclidean(&x, &y)?;
    let solver = Assignment::new();
    let mut times = Vec::with_capacity(repeats);
    let mut solution = None;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let s = solver.solve(&cost)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        solution = Some(s);
    }
    let solution = solution.expect("at least one repeat");
    times.sort_by(f64::total_cmp);
    println!(
        "n = {n}  best = {:.2} ms  median = {:.2} ms  cost (W2²) = {:.10}  status = {} ({} rounds, error {:.2e})",
        times[0],
        times[times.len() / 2],
        solution.total_cost / n as f64,
        solution.status.name(),
        solution.status.iterations(),
        solution.status.error(),
    );
    Ok(())
}

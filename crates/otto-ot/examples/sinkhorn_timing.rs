//! Times stabilized Sinkhorn on the benchmark of `bench/peers` (POT `sinkhorn_log` there):
//! two seeded 2-D standard Gaussian clouds of n points, the target shifted by `shift` in each
//! coordinate, uniform weights, squared Euclidean cost, ε = 0.05 · mean(C), tolerance 1e-6.
//!
//! ```sh
//! cargo run --release -p otto-ot --example sinkhorn_timing -- 1000            # shift 0
//! cargo run --release -p otto-ot --example sinkhorn_timing -- 1000 1.0 5      # shift 1, 5 repeats
//! ```
//! Prints one line per repeat: n, milliseconds, iterations, transport cost ⟨π, C⟩, final error.

use std::time::Instant;

use otto_ot::entropic::Sinkhorn;
use otto_ot::{marginal, squared_euclidean, Matrix};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn cloud(rng: &mut ChaCha8Rng, n: usize, shift: f64) -> Matrix {
    Matrix::from_fn(n, 2, |_, _| {
        let z: f64 = StandardNormal.sample(rng);
        z + shift
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(Ok(1000), |s| s.parse())?;
    let shift: f64 = args.get(1).map_or(Ok(0.0), |s| s.parse())?;
    let repeats: usize = args.get(2).map_or(Ok(3), |s| s.parse())?;

    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = cloud(&mut rng, n, 0.0);
    let y = cloud(&mut rng, n, shift);
    let cost = squared_euclidean(&x, &y)?;
    let mean = cost.as_slice().iter().sum::<f64>() / (n * n) as f64;
    let eps = 0.05 * mean;
    let w = marginal::uniform(n);
    let solver = Sinkhorn::new(eps).tolerance(1e-6).max_iter(100_000);
    println!("# n = {n}, shift = {shift}, eps = {eps:.6} (0.05 mean C), tolerance 1e-6");
    println!("n\tms\titerations\ttransport_cost\terror\tstatus");
    for _ in 0..repeats {
        let start = Instant::now();
        let sol = solver.solve(&w, &w, &cost)?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        println!(
            "{n}\t{ms:.1}\t{}\t{:.12}\t{:.3e}\t{}",
            sol.status.iterations(),
            sol.transport_cost,
            sol.status.error(),
            sol.status.name()
        );
    }
    Ok(())
}

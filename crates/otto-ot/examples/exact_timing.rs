//! Times the exact OT solver on two seeded 2-D standard Gaussian clouds with squared-Euclidean
//! cost; only the solve is timed, not the cost matrix.
//!
//! ```text
//! cargo run --release -p otto-ot --example exact_timing -- N [M] [uniform|dirichlet] [REPEATS]
//! ```
//! prints `n m weights ms cost pivots status`, one line per repeat.

use std::time::Instant;

use otto_ot::exact::NetworkSimplex;
use otto_ot::{marginal, squared_euclidean, Matrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal};

fn gaussian_cloud(rng: &mut ChaCha8Rng, n: usize) -> Matrix {
    Matrix::from_fn(n, 2, |_, _| rng.sample(StandardNormal))
}

/// Dirichlet(1, …, 1) weights: normalized standard exponentials.
fn dirichlet(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    let w: Vec<f64> = (0..n).map(|_| rng.sample::<f64, _>(Exp1)).collect();
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let m: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(n);
    let weights = args.get(2).map_or("uniform", String::as_str);
    let repeats: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);

    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let x = gaussian_cloud(&mut rng, n);
    let y = gaussian_cloud(&mut rng, m);
    let (a, b) = match weights {
        "dirichlet" => (dirichlet(&mut rng, n), dirichlet(&mut rng, m)),
        _ => (marginal::uniform(n), marginal::uniform(m)),
    };
    let cost = squared_euclidean(&x, &y).expect("valid clouds");
    for _ in 0..repeats {
        let start = Instant::now();
        let sol = NetworkSimplex::default()
            .solve(&a, &b, &cost)
            .expect("valid problem");
        let ms = start.elapsed().as_secs_f64() * 1e3;
        println!(
            "{n} {m} {weights} {ms:.2} ms cost {:.15e} pivots {} {}",
            sol.cost,
            sol.status.iterations(),
            sol.status.name()
        );
    }
}

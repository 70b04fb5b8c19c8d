//! Times the exact OT solver (uniform weights) on the inputs it is tuned for, best and median of
//! R repeats, one line per case; only the solve is timed, not the cost matrix.
//!
//! ```text
//! cargo run --release -p otto-ot --example exact_cases -- [REPEATS] [CASE …]
//! ```
//! Cases: `gauss_N` (two seeded 2-D standard Gaussian clouds, the second shifted by (1, 1), as
//! `bench/peers/make_ot_inputs.py`), `moons_N` (torchcfm's 8 Gaussians of scale 5 → moons
//! minibatches, the source of an OT-CFM coupling; a fresh minibatch per repeat) and `ij_N`
//! (`C_ij = i·j/N²`). Default: `gauss_256 gauss_512 moons_512 gauss_1000 ij_1000`, 21 repeats.

use std::f64::consts::PI;
use std::time::Instant;

use otto_ot::exact::NetworkSimplex;
use otto_ot::{marginal, squared_euclidean, Matrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// `N` standard Gaussian points in 2-D, shifted by `(shift, shift)`.
fn gaussian_cloud(rng: &mut ChaCha8Rng, n: usize, shift: f64) -> Matrix {
    Matrix::from_fn(n, 2, |_, _| rng.sample::<f64, _>(StandardNormal) + shift)
}

/// torchcfm's `sample_8gaussians`: centres 5·(cos kπ/4, sin kπ/4), covariance √0.1·I.
fn eight_gaussians(rng: &mut ChaCha8Rng, n: usize) -> Matrix {
    let sd = 0.1f64.sqrt().sqrt();
    let mut x = Matrix::zeros(n, 2);
    for i in 0..n {
        let angle = rng.gen_range(0..8) as f64 * PI / 4.0;
        let (ex, ey): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
        x.set(i, 0, 5.0 * angle.cos() + sd * ex);
        x.set(i, 1, 5.0 * angle.sin() + sd * ey);
    }
    x
}

/// torchcfm's `sample_moons`: torchdyn's two moons (both coordinates of a point shifted by one
/// uniform draw times 0.2), scaled by 3 and shifted by −1.
fn moons(rng: &mut ChaCha8Rng, n: usize) -> Matrix {
    let (outer, inner) = (n / 2, n - n / 2);
    let angle = |k: usize, len: usize| {
        if len > 1 {
            PI * k as f64 / (len - 1) as f64
        } else {
            0.0
        }
    };
    let mut x = Matrix::zeros(n, 2);
    for i in 0..n {
        let (px, py) = if i < outer {
            let t = angle(i, outer);
            (t.cos(), t.sin())
        } else {
            let t = angle(i - outer, inner);
            (1.0 - t.cos(), 0.5 - t.sin())
        };
        let noise = 0.2 * rng.gen::<f64>();
        x.set(i, 0, 3.0 * (px + noise) - 1.0);
        x.set(i, 1, 3.0 * (py + noise) - 1.0);
    }
    x
}

/// The cost matrix of case `name` for repeat `r`.
fn cost_of(name: &str, r: u64) -> Matrix {
    let (kind, n) = name.split_once('_').expect("cases are KIND_N");
    let n: usize = n.parse().expect("N is a number");
    match kind {
        "gauss" => {
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            let (x, y) = (
                gaussian_cloud(&mut rng, n, 0.0),
                gaussian_cloud(&mut rng, n, 1.0),
            );
            squared_euclidean(&x, &y).expect("valid clouds")
        }
        "moons" => {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + r);
            let (x, y) = (eight_gaussians(&mut rng, n), moons(&mut rng, n));
            squared_euclidean(&x, &y).expect("valid clouds")
        }
        "ij" => Matrix::from_fn(n, n, |i, j| (i * j) as f64 / (n * n) as f64),
        _ => panic!("unknown case {name}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeats: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(21);
    let default = [
        "gauss_256",
        "gauss_512",
        "moons_512",
        "gauss_1000",
        "ij_1000",
    ];
    let cases: Vec<&str> = if args.len() > 1 {
        args[1..].iter().map(String::as_str).collect()
    } else {
        default.to_vec()
    };
    for name in cases {
        let mut ms = Vec::with_capacity(repeats);
        let mut pivots = 0;
        let mut cost_sum = 0.0;
        for r in 0..repeats {
            let cost = cost_of(name, r as u64);
            let (a, b) = (
                marginal::uniform(cost.rows()),
                marginal::uniform(cost.cols()),
            );
            let start = Instant::now();
            let sol = NetworkSimplex::default()
                .solve(&a, &b, &cost)
                .expect("valid problem");
            ms.push(start.elapsed().as_secs_f64() * 1e3);
            assert!(sol.status.is_converged(), "{name}: {}", sol.status.name());
            pivots += sol.status.iterations();
            cost_sum += sol.cost;
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{name:>11}  best {:7.2} ms  median {:7.2} ms  pivots/solve {:6}  mean cost {:.12e}",
            ms[0],
            ms[ms.len() / 2],
            pivots / repeats.max(1),
            cost_sum / repeats.max(1) as f64
        );
    }
}

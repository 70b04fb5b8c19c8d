//! Independent reference computations for the tests of the entropic solvers: random problems,
//! the primal objective entry by entry, exact OT by brute force, and textbook log-domain Sinkhorn.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::EntropicSolution;
use crate::cost::squared_euclidean;
use crate::matrix::Matrix;

/// Random n×d points in [0, 1)^d and normalized weights in [0.5, 1.5), seeded.
pub(crate) fn random_problem(n: usize, m: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Matrix) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut points = |k: usize| Matrix::from_fn(k, 2, |_, _| rng.gen::<f64>());
    let (x, y) = (points(n), points(m));
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
    let mut weights = |k: usize| {
        let w: Vec<f64> = (0..k).map(|_| rng.gen_range(0.5..1.5)).collect();
        let s: f64 = w.iter().sum();
        w.into_iter().map(|v| v / s).collect::<Vec<f64>>()
    };
    let (a, b) = (weights(n), weights(m));
    (a, b, squared_euclidean(&x, &y).unwrap())
}

/// The primal objective evaluated entry by entry from the plan, independently of the
/// potentials: `⟨π, C⟩ + ε KL(π ‖ a⊗b) (+ ρ KL(π1 ‖ a) + ρ KL(πᵀ1 ‖ b))`.
pub(crate) fn primal_objective(
    sol: &EntropicSolution,
    a: &[f64],
    b: &[f64],
    cost: &Matrix,
    eps: f64,
    rho: Option<f64>,
) -> f64 {
    let mut value = 0.0;
    for (i, &ai) in a.iter().enumerate() {
        for (j, &bj) in b.iter().enumerate() {
            let p = sol.plan.get(i, j);
            let entropy = if p > 0.0 {
                p * (p / (ai * bj)).ln()
            } else {
                0.0
            };
            value += p * cost.get(i, j) + eps * (entropy - p + ai * bj);
        }
    }
    if let Some(rho) = rho {
        value += rho * (super::kl(&sol.plan.row_sums(), a) + super::kl(&sol.plan.col_sums(), b));
    }
    value
}

pub(crate) fn max_abs_diff(x: &[f64], y: &[f64]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

pub(crate) fn l2_diff(x: &[f64], y: &[f64]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        .sqrt()
}

/// The exact OT cost between n uniform points by enumerating all permutations (Birkhoff).
pub(crate) fn brute_force_ot(cost: &Matrix) -> f64 {
    fn go(cost: &Matrix, row: usize, used: &mut Vec<bool>, acc: f64, best: &mut f64) {
        let n = cost.rows();
        if row == n {
            *best = best.min(acc);
            return;
        }
        for j in 0..n {
            if !used[j] {
                used[j] = true;
                go(cost, row + 1, used, acc + cost.get(row, j), best);
                used[j] = false;
            }
        }
    }
    let mut best = f64::INFINITY;
    go(cost, 0, &mut vec![false; cost.rows()], 0.0, &mut best);
    best / cost.rows() as f64
}

/// `ε log n` plus the slack for a column marginal off by `error` in ℓ2: moving the ℓ1 excess
/// `‖πᵀ1 − b‖₁ ≤ √n error` changes a cost by at most `max C` per unit of mass.
pub(crate) fn entropic_gap_bound(cost: &Matrix, eps: f64, error: f64) -> f64 {
    let n = cost.rows() as f64;
    let max = cost.as_slice().iter().fold(0.0f64, |m, &c| m.max(c));
    eps * n.ln() + max * n.sqrt() * error + 1e-12
}

/// Textbook log-domain Sinkhorn (Peyré & Cuturi 2019, §4.4; Chizat et al. 2018 for the
/// exponent λ = ρ/(ρ+ε)), one logsumexp per entry and no stabilization tricks, for `iterations`
/// (g, f) updates from zero potentials; returns (f, g).
pub(crate) fn log_domain_reference(
    a: &[f64],
    b: &[f64],
    cost: &Matrix,
    eps: f64,
    rho: Option<f64>,
    iterations: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (n, m) = cost.shape();
    let lambda = rho.map_or(1.0, |r| r / (r + eps));
    let lse = |z: Vec<f64>| {
        let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
    };
    let (mut f, mut g) = (vec![0.0; n], vec![0.0; m]);
    for _ in 0..iterations {
        g = (0..m)
            .map(|j| {
                -lambda
                    * eps
                    * lse((0..n)
                        .map(|i| a[i].ln() + (f[i] - cost.get(i, j)) / eps)
                        .collect())
            })
            .collect();
        f = (0..n)
            .map(|i| {
                -lambda
                    * eps
                    * lse((0..m)
                        .map(|j| b[j].ln() + (g[j] - cost.get(i, j)) / eps)
                        .collect())
            })
            .collect();
    }
    (f, g)
}

pub(crate) fn plan(
    a: &[f64],
    b: &[f64],
    cost: &Matrix,
    eps: f64,
    f: &[f64],
    g: &[f64],
) -> Vec<f64> {
    let (n, m) = cost.shape();
    (0..n * m)
        .map(|k| {
            let (i, j) = (k / m, k % m);
            a[i] * b[j] * ((f[i] + g[j] - cost.get(i, j)) / eps).exp()
        })
        .collect()
}

//! Exact optimal transport on the real line by sorting.
//!
//! For a cost `c(x, y) = h(x − y)` with `h` convex, the monotone (north-west-corner on sorted
//! supports) coupling is optimal for any weights (Santambrogio 2015, *Optimal Transport for Applied
//! Mathematicians*, Thm 2.9), so `W_p^p(α, β) = ∫₀¹ |F_α^{-1}(s) − F_β^{-1}(s)|^p ds`. This module
//! computes that coupling in `O((n + m) log(n + m))`.

use crate::error::{OtError, Result};
use crate::marginal::{check_balanced, check_finite};
use crate::plan::SparsePlan;

/// The exact 1-D coupling between weighted point sets, with its cost for `|x − y|^p`.
#[derive(Debug, Clone)]
pub struct OneDSolution {
    /// The monotone plan, at most n + m − 1 nonzeros, in the original (unsorted) indices.
    pub plan: SparsePlan,
    /// `Σ π_ij |x_i − y_j|^p`: W_p^p for unit mass.
    pub cost: f64,
}

/// The optimal (monotone) coupling of `(x, a)` and `(y, b)` on the line and its cost for
/// `c(x, y) = |x − y|^p`, `p ≥ 1`. Weights need equal mass (to 1e-6 relative); `b` is rescaled to the
/// mass of `a` exactly.
pub fn solve(x: &[f64], a: &[f64], y: &[f64], b: &[f64], p: f64) -> Result<OneDSolution> {
    if !(p >= 1.0 && p.is_finite()) {
        return Err(OtError::InvalidOption {
            name: "p",
            value: p.to_string(),
            reason: "the cost |x − y|^p is convex only for p ≥ 1",
        });
    }
    check_points(x, y)?;
    let mass = check_balanced(a, x.len(), b, y.len())?;
    let scale_b = mass / b.iter().sum::<f64>();
    let ix = argsort(x);
    let iy = argsort(y);
    let cum_a = prefix_sums(ix.iter().map(|&i| a[i]));
    let mut cum_b = prefix_sums(iy.iter().map(|&j| b[j] * scale_b));
    // Both cumulative distributions end at the same total, exactly.
    *cum_b.last_mut().expect("non-empty") = *cum_a.last().expect("non-empty");
    let (mut i, mut j, mut position) = (0, 0, 0.0);
    let mut entries = Vec::with_capacity(x.len() + y.len());
    let mut cost = 0.0;
    // Walk the quantile levels s ∈ [0, mass]: on [position, min(F_a, F_b)] sorted point i of x is
    // matched with sorted point j of y.
    while i < x.len() && j < y.len() {
        let end = cum_a[i].min(cum_b[j]);
        let moved = end - position;
        if moved > 0.0 {
            entries.push((ix[i], iy[j], moved));
            cost += moved * (x[ix[i]] - y[iy[j]]).abs().powf(p);
            position = end;
        }
        if cum_a[i] <= cum_b[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    Ok(OneDSolution {
        plan: SparsePlan {
            rows: x.len(),
            cols: y.len(),
            entries,
        },
        cost,
    })
}

/// `W2²` between two weighted point sets on the line (equal mass): the optimal cost for `(x − y)²`.
pub fn w2_squared(x: &[f64], a: &[f64], y: &[f64], b: &[f64]) -> Result<f64> {
    Ok(solve(x, a, y, b, 2.0)?.cost)
}

fn check_points(x: &[f64], y: &[f64]) -> Result<()> {
    if x.is_empty() {
        return Err(OtError::Empty {
            what: "source points x",
        });
    }
    if y.is_empty() {
        return Err(OtError::Empty {
            what: "target points y",
        });
    }
    check_finite("source points x", x)?;
    check_finite("target points y", y)
}

fn prefix_sums(values: impl Iterator<Item = f64>) -> Vec<f64> {
    values
        .scan(0.0, |acc, v| {
            *acc += v;
            Some(*acc)
        })
        .collect()
}

/// Indices that sort `v` ascending (`v` is finite).
pub(crate) fn argsort(v: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_unstable_by(|&i, &j| v[i].total_cmp(&v[j]));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marginal::uniform;

    /// Brute force over all permutations: the exact optimum for uniform n = m.
    fn brute_force(x: &[f64], y: &[f64], p: f64) -> f64 {
        fn rec(
            k: usize,
            used: &mut Vec<bool>,
            x: &[f64],
            y: &[f64],
            p: f64,
            acc: f64,
            best: &mut f64,
        ) {
            if k == x.len() {
                *best = best.min(acc);
                return;
            }
            for j in 0..y.len() {
                if !used[j] {
                    used[j] = true;
                    rec(
                        k + 1,
                        used,
                        x,
                        y,
                        p,
                        acc + (x[k] - y[j]).abs().powf(p),
                        best,
                    );
                    used[j] = false;
                }
            }
        }
        let mut best = f64::INFINITY;
        rec(0, &mut vec![false; y.len()], x, y, p, 0.0, &mut best);
        best / x.len() as f64
    }

    #[test]
    fn matches_brute_force_on_permutations() {
        // Truth: enumeration of all 6! couplings of uniform 6-point sets, for p = 1, 2, 3.
        let x = [0.3, -1.2, 2.5, 0.0, 0.7, -0.4];
        let y = [1.1, 0.2, -2.0, 0.9, 0.2, 3.3];
        let w = uniform(6);
        for p in [1.0, 2.0, 3.0] {
            let got = solve(&x, &w, &y, &w, p).unwrap().cost;
            let want = brute_force(&x, &y, p);
            assert!((got - want).abs() < 1e-12, "p = {p}: {got} vs {want}");
        }
    }

    #[test]
    fn quantile_formula_for_weighted_points() {
        // Truth: W2² computed by integrating |F⁻¹ − G⁻¹|² over s ∈ [0, 1] piecewise by hand.
        // α = 0.25 δ0 + 0.75 δ2, β = 0.5 δ1 + 0.5 δ3: on [0, .25] 0→1, [.25, .5] 2→1, [.5, 1] 2→3.
        let got = w2_squared(&[2.0, 0.0], &[0.75, 0.25], &[3.0, 1.0], &[0.5, 0.5]).unwrap();
        assert!((got - (0.25 + 0.25 + 0.5)).abs() < 1e-15);
    }

    #[test]
    fn plan_has_exact_marginals_and_at_most_n_plus_m_minus_1_entries() {
        // Truth: the marginal constraints and the basic-solution bound of the transport LP.
        let x: Vec<f64> = (0..37).map(|i| ((i * 7919) % 101) as f64 / 10.0).collect();
        let y: Vec<f64> = (0..23).map(|i| ((i * 104729) % 89) as f64 / 7.0).collect();
        let a: Vec<f64> = (0..37).map(|i| 1.0 + (i % 5) as f64).collect();
        let sa: f64 = a.iter().sum();
        let b: Vec<f64> = (0..23).map(|j| 1.0 + (j % 3) as f64).collect();
        let sb: f64 = b.iter().sum();
        let b: Vec<f64> = b.iter().map(|v| v * sa / sb).collect();
        let sol = solve(&x, &a, &y, &b, 2.0).unwrap();
        assert!(sol.plan.entries.len() < 37 + 23);
        for (r, want) in sol.plan.row_sums().iter().zip(&a) {
            assert!((r - want).abs() < 1e-12 * sa);
        }
        for (c, want) in sol.plan.col_sums().iter().zip(&b) {
            assert!((c - want).abs() < 1e-12 * sa);
        }
    }

    /// Points on a uniform grid over mean ± 8 sd with weights ∝ the Gaussian density.
    fn gaussian_grid(mean: f64, sd: f64, n: usize) -> (Vec<f64>, Vec<f64>) {
        let x: Vec<f64> = (0..n)
            .map(|k| mean + sd * (-8.0 + 16.0 * k as f64 / (n - 1) as f64))
            .collect();
        let w: Vec<f64> = x
            .iter()
            .map(|v| (-0.5 * ((v - mean) / sd).powi(2)).exp())
            .collect();
        let s: f64 = w.iter().sum();
        (x, w.iter().map(|v| v / s).collect())
    }

    #[test]
    fn gaussian_grids_give_the_closed_form() {
        // Truth: W2²(N(m0, s0²), N(m1, s1²)) = (m0 − m1)² + (s0 − s1)² (MATH.md §3). The two
        // Gaussians are discretized on different grids (3001 and 2000 points), so the merge of the
        // two cumulative distributions is exercised; the discretization error is O(grid step) ≈ 1e-2
        // in the quantile functions, and the test shows it shrinking with refinement.
        let error = |n: usize| {
            let (x, a) = gaussian_grid(0.5, 1.0, 3 * n / 2 + 1);
            let (y, b) = gaussian_grid(-1.0, 2.0, n);
            (w2_squared(&x, &a, &y, &b).unwrap() - 3.25).abs()
        };
        let (coarse, fine) = (error(200), error(2000));
        assert!(fine < 2e-3, "{fine}");
        assert!(fine < coarse / 4.0, "{coarse} → {fine}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let w = uniform(2);
        assert!(matches!(
            solve(&[], &[], &[1.0], &[1.0], 2.0),
            Err(OtError::Empty { .. })
        ));
        assert!(matches!(
            solve(&[0.0, f64::NAN], &w, &[0.0, 1.0], &w, 2.0),
            Err(OtError::NonFinite { .. })
        ));
        assert!(matches!(
            solve(&[0.0, 1.0], &w, &[0.0, 1.0], &[0.5, 0.6], 2.0),
            Err(OtError::MassMismatch { .. })
        ));
        assert!(solve(&[0.0, 1.0], &w, &[0.0, 1.0], &w, 0.5).is_err());
    }
}

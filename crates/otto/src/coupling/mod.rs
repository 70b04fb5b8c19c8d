//! The coupling axis: how a minibatch of source points x0 and target points x1 is paired before a
//! path is drawn between them (Tong et al. 2024, "Improving and generalizing flow-based generative
//! models with minibatch optimal transport", TMLR; MATH.md §2).
//!
//! - [`Coupling::Independent`]: x0 and x1 are independent draws, paired row by row (I-CFM).
//! - [`Coupling::ExactOt`]: the exact OT plan π between the two minibatches (uniform weights,
//!   squared-Euclidean cost) is computed, and n index pairs (i, j) are drawn from π with replacement,
//!   as torchcfm's `OTPlanSampler.sample_plan` does (OT-CFM): some points repeat, others drop out.
//! - [`Coupling::ExactOtPermutation`]: the same plan used without replacement — between uniform
//!   n-point clouds it is a permutation (a vertex of the Birkhoff polytope), so every x0 and every
//!   x1 appears exactly once.
//! - [`Coupling::Entropic`]: the entropic plan (log-domain Sinkhorn at ε, cost ‖x0 − x1‖²; ε = 2σ²
//!   makes it the Schrödinger bridge's static coupling, Tong et al. 2024 Prop. 3.4), n pairs drawn
//!   from it with replacement (SB-CFM). A solve that does not converge is an error that says which
//!   ε would work — never a silent fallback to the independent coupling, as torchcfm's is.
//!
//! [`Coupling::pair_labelled`] carries class labels along with their points (torchcfm's
//! `sample_plan_with_labels`); [`Coupling::pair_indices`] gives the drawn index pairs themselves.

use std::fmt;

use otto_ot::entropic::Sinkhorn;
use otto_ot::exact;
use otto_ot::marginal::uniform;
use otto_ot::plan::sample_pairs_dense;
use otto_ot::{squared_euclidean, Matrix, OtError};
use rand::Rng;

use crate::data::Labelled;

/// How a minibatch is paired.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Coupling {
    /// Independent pairing (I-CFM).
    #[default]
    Independent,
    /// Pairs drawn from the exact minibatch OT plan with replacement (OT-CFM, torchcfm).
    ExactOt,
    /// The exact minibatch OT plan's permutation (no replacement).
    ExactOtPermutation,
    /// Pairs drawn from the entropic plan at regularization `eps` (absolute, cost units).
    Entropic {
        /// ε > 0.
        eps: f64,
    },
}

/// Why a minibatch could not be paired.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CouplingError {
    /// Bad input (shapes, NaN) or a solver error.
    #[error(transparent)]
    Ot(#[from] OtError),
    /// Sinkhorn stopped before its marginals matched.
    #[error("the entropic coupling did not converge at ε = {eps:e} ({status} after {iterations} iterations, marginal error {error:.2e}); the minibatch's median squared distance is {median_cost:.3e} — use ε ≥ {suggested:.2e} (e.g. a larger σ, ε = 2σ²)")]
    NotConverged {
        /// The regularization used.
        eps: f64,
        /// How Sinkhorn stopped.
        status: &'static str,
        /// Iterations run.
        iterations: usize,
        /// The final marginal error.
        error: f64,
        /// The median of the minibatch's cost matrix.
        median_cost: f64,
        /// An ε that converges comfortably: 1 % of the median cost.
        suggested: f64,
    },
}

impl fmt::Display for Coupling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Coupling::Entropic { eps } => write!(f, "sinkhorn (ε = {eps})"),
            other => f.write_str(other.name()),
        }
    }
}

impl Coupling {
    /// The names [`Coupling::parse`] accepts.
    pub const NAMES: [&'static str; 4] = [
        "independent",
        "exact-ot",
        "exact-ot-permutation",
        "sinkhorn",
    ];

    /// The name used in configs and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Coupling::Independent => "independent",
            Coupling::ExactOt => "exact-ot",
            Coupling::ExactOtPermutation => "exact-ot-permutation",
            Coupling::Entropic { .. } => "sinkhorn",
        }
    }

    /// The coupling called `name`, with `eps` for `sinkhorn`; the error lists the valid names.
    pub fn parse(name: &str, eps: f64) -> Result<Self, OtError> {
        match name {
            "independent" => Ok(Coupling::Independent),
            "exact-ot" | "ot" => Ok(Coupling::ExactOt),
            "exact-ot-permutation" => Ok(Coupling::ExactOtPermutation),
            "sinkhorn" => {
                if eps > 0.0 && eps.is_finite() {
                    Ok(Coupling::Entropic { eps })
                } else {
                    Err(OtError::InvalidOption {
                        name: "eps",
                        value: eps.to_string(),
                        reason: "the entropic coupling needs a positive, finite ε",
                    })
                }
            }
            other => Err(OtError::InvalidOption {
                name: "coupling",
                value: other.to_string(),
                reason: "expected one of independent, exact-ot, exact-ot-permutation, sinkhorn",
            }),
        }
    }

    /// Pairs the rows of `x0` and `x1` (n × d each): returns `(x0', x1')` whose row i is the i-th
    /// pair. For [`Coupling::Independent`] the inputs are returned as they are.
    pub fn pair<R: Rng + ?Sized>(
        &self,
        x0: &Matrix,
        x1: &Matrix,
        rng: &mut R,
    ) -> Result<(Matrix, Matrix), CouplingError> {
        if *self == Coupling::Independent {
            check_shapes(x0, x1)?;
            return Ok((x0.clone(), x1.clone()));
        }
        let pairs = self.pair_indices(x0, x1, rng)?;
        Ok((
            gather(x0, pairs.iter().map(|p| p.0)),
            gather(x1, pairs.iter().map(|p| p.1)),
        ))
    }

    /// Pairs labelled minibatches: as [`Coupling::pair`], each point keeping its label, so a
    /// conditional model sees (x0, y0) and (x1, y1) of one drawn pair together.
    pub fn pair_labelled<R: Rng + ?Sized>(
        &self,
        x0: &Labelled,
        x1: &Labelled,
        rng: &mut R,
    ) -> Result<(Labelled, Labelled), CouplingError> {
        let pairs = self.pair_indices(&x0.points, &x1.points, rng)?;
        let take = |set: &Labelled, rows: Vec<usize>| Labelled {
            points: gather(&set.points, rows.iter().copied()),
            labels: rows.iter().map(|&i| set.labels[i]).collect(),
            classes: set.classes,
        };
        Ok((
            take(x0, pairs.iter().map(|p| p.0).collect()),
            take(x1, pairs.iter().map(|p| p.1).collect()),
        ))
    }

    /// The n index pairs `(i, j)` — row i of `x0` with row j of `x1` — this coupling draws.
    pub fn pair_indices<R: Rng + ?Sized>(
        &self,
        x0: &Matrix,
        x1: &Matrix,
        rng: &mut R,
    ) -> Result<Vec<(usize, usize)>, CouplingError> {
        check_shapes(x0, x1)?;
        let n = x0.rows();
        match self {
            Coupling::Independent => Ok((0..n).map(|i| (i, i)).collect()),
            Coupling::ExactOt | Coupling::ExactOtPermutation => {
                let cost = squared_euclidean(x0, x1)?;
                let w = uniform(n);
                let plan = exact::solve(&w, &w, &cost)?.plan;
                match (self, plan.permutation()) {
                    (Coupling::ExactOtPermutation, Some(sigma)) => {
                        Ok(sigma.into_iter().enumerate().collect())
                    }
                    (Coupling::ExactOtPermutation, None) => Err(OtError::Unsupported {
                        what: "exact-ot-permutation",
                        reason: "the optimal plan of these minibatches is not a permutation",
                    }
                    .into()),
                    _ => Ok(plan.sample_pairs(n, rng)?),
                }
            }
            Coupling::Entropic { eps } => {
                entropic_pairs(&Sinkhorn::new(*eps).tolerance(1e-6), x0, x1, rng)
            }
        }
    }
}

/// Source and target minibatches must have the same shape.
fn check_shapes(x0: &Matrix, x1: &Matrix) -> Result<(), CouplingError> {
    if x0.shape() == x1.shape() {
        return Ok(());
    }
    Err(OtError::Shape {
        what: "target minibatch",
        expected: format!("{}×{} (as the source minibatch)", x0.rows(), x0.cols()),
        got: format!("{}×{}", x1.rows(), x1.cols()),
    }
    .into())
}

/// The rows `rows` of `x`, in that order.
fn gather(x: &Matrix, rows: impl ExactSizeIterator<Item = usize>) -> Matrix {
    let mut out = Matrix::zeros(rows.len(), x.cols());
    for (k, i) in rows.enumerate() {
        out.row_mut(k).copy_from_slice(x.row(i));
    }
    out
}

/// n index pairs drawn from the entropic plan `solver` finds between the uniform clouds x0, x1
/// (cost ‖x0 − x1‖²), or [`CouplingError::NotConverged`] with an ε that would work.
fn entropic_pairs<R: Rng + ?Sized>(
    solver: &Sinkhorn,
    x0: &Matrix,
    x1: &Matrix,
    rng: &mut R,
) -> Result<Vec<(usize, usize)>, CouplingError> {
    let n = x0.rows();
    let cost = squared_euclidean(x0, x1)?;
    let w = uniform(n);
    let solution = solver.solve(&w, &w, &cost)?;
    if !solution.status.is_converged() {
        let mut sorted = cost.as_slice().to_vec();
        sorted.sort_by(f64::total_cmp);
        let median_cost = sorted[sorted.len() / 2];
        return Err(CouplingError::NotConverged {
            eps: solver.eps(),
            status: solution.status.name(),
            iterations: solution.status.iterations(),
            error: solution.status.error(),
            median_cost,
            suggested: 0.01 * median_cost,
        });
    }
    Ok(sample_pairs_dense(&solution.plan, n, rng)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn labels_travel_with_their_points() {
        // Truth: a label is a function of its point here (label = row index), so after pairing
        // each output row's label must still index the input row it was copied from, on both sides,
        // for every coupling; the permutation coupling uses every label exactly once.
        let n = 30;
        let x0 = Matrix::from_fn(n, 2, |i, k| {
            ((i * 7 + k * 3) % 11) as f64 / 3.0 + i as f64 * 1e-3
        });
        let x1 = Matrix::from_fn(n, 2, |i, k| 2.0 + ((i * 5 + k) % 13) as f64 / 4.0);
        let labelled = |points: &Matrix| Labelled {
            points: points.clone(),
            labels: (0..n).collect(),
            classes: n,
        };
        let (y0, y1) = (labelled(&x0), labelled(&x1));
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for coupling in [
            Coupling::Independent,
            Coupling::ExactOt,
            Coupling::ExactOtPermutation,
            Coupling::Entropic { eps: 0.5 },
        ] {
            let (a, b) = coupling.pair_labelled(&y0, &y1, &mut rng).unwrap();
            for k in 0..n {
                assert_eq!(a.points.row(k), x0.row(a.labels[k]), "{coupling}");
                assert_eq!(b.points.row(k), x1.row(b.labels[k]), "{coupling}");
            }
            if coupling == Coupling::ExactOtPermutation {
                let mut used = b.labels.clone();
                used.sort_unstable();
                assert_eq!(used, (0..n).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn exact_ot_pairs_are_cyclically_monotone() {
        // Truth: in 1-D the optimal coupling of uniform point sets is monotone (sorted order
        // matched to sorted order), so every drawn pair (x0, x1) must satisfy x1 = T(x0) with T the
        // monotone rearrangement. Drawn with replacement, pairs may repeat, but each comes from π.
        let n = 64;
        let x0 = Matrix::from_fn(n, 1, |i, _| ((i * 37) % n) as f64 / 7.0);
        let x1 = Matrix::from_fn(n, 1, |i, _| 10.0 + ((i * 11) % n) as f64 / 3.0);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (a, b) = Coupling::ExactOt.pair(&x0, &x1, &mut rng).unwrap();
        // Monotone map: rank of x0 among x0 equals rank of x1 among x1.
        let rank = |m: &Matrix, v: f64| (0..n).filter(|&i| m.get(i, 0) < v).count();
        for k in 0..n {
            assert_eq!(rank(&x0, a.get(k, 0)), rank(&x1, b.get(k, 0)));
        }
    }

    #[test]
    fn exact_ot_pairing_lowers_the_transport_cost() {
        // Truth: every drawn pair lies on the support of the optimal plan, which here is a
        // permutation with equal weights, so the mean squared distance of the n draws is a
        // resampling estimate of the exact OT cost (brute-force-certified by the network simplex);
        // the identity pairing of the inputs is a feasible coupling and costs more.
        let n = 40;
        let x0 = Matrix::from_fn(n, 2, |i, k| ((i * 13 + k * 7) % 17) as f64 / 5.0);
        let x1 = Matrix::from_fn(n, 2, |i, k| 3.0 + ((i * 5 + k * 3) % 19) as f64 / 4.0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (a, b) = Coupling::ExactOt.pair(&x0, &x1, &mut rng).unwrap();
        let mean_sq = |a: &Matrix, b: &Matrix| {
            (0..n)
                .map(|i| otto_ot::GroundCost::SquaredEuclidean.eval(a.row(i), b.row(i)))
                .sum::<f64>()
                / n as f64
        };
        let w = uniform(n);
        let exact = exact::solve(&w, &w, &squared_euclidean(&x0, &x1).unwrap())
            .unwrap()
            .cost;
        let ot = mean_sq(&a, &b);
        let ind = mean_sq(&x0, &x1);
        assert!(ot < ind, "{ot} vs {ind}");
        assert!((ot - exact).abs() < 0.5 * exact, "{ot} vs {exact}");
    }

    #[test]
    fn names_round_trip_and_shapes_are_checked() {
        for c in [
            Coupling::Independent,
            Coupling::ExactOt,
            Coupling::ExactOtPermutation,
            Coupling::Entropic { eps: 0.5 },
        ] {
            assert_eq!(Coupling::parse(c.name(), 0.5).unwrap(), c);
        }
        let err = Coupling::parse("sinkhorn-ot", 1.0).unwrap_err().to_string();
        assert!(
            err.contains("exact-ot, exact-ot-permutation, sinkhorn"),
            "{err}"
        );
        assert!(Coupling::parse("sinkhorn", 0.0).is_err());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let err = Coupling::ExactOt
            .pair(&Matrix::zeros(3, 2), &Matrix::zeros(4, 2), &mut rng)
            .unwrap_err();
        assert!(matches!(err, CouplingError::Ot(OtError::Shape { .. })));
    }

    #[test]
    fn the_permutation_coupling_uses_every_point_once_at_the_exact_cost() {
        // Truth: between uniform n-point clouds the optimal plan is a permutation (Birkhoff–von
        // Neumann), so the pairs use each x0 and each x1 exactly once and their mean squared
        // distance is the exact OT cost (network simplex, certified optimal) to round-off.
        let n = 50;
        let x0 = Matrix::from_fn(n, 2, |i, k| {
            ((i * 13 + k * 7) % 17) as f64 / 5.0 + 0.01 * i as f64
        });
        let x1 = Matrix::from_fn(n, 2, |i, k| {
            3.0 + ((i * 5 + k * 3) % 19) as f64 / 4.0 + 0.013 * i as f64
        });
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (a, b) = Coupling::ExactOtPermutation
            .pair(&x0, &x1, &mut rng)
            .unwrap();
        let rows = |m: &Matrix| {
            let mut r: Vec<Vec<u64>> = (0..n)
                .map(|i| m.row(i).iter().map(|v| v.to_bits()).collect())
                .collect();
            r.sort();
            r
        };
        assert_eq!(rows(&a), rows(&x0));
        assert_eq!(rows(&b), rows(&x1));
        let w = uniform(n);
        let exact = exact::solve(&w, &w, &squared_euclidean(&x0, &x1).unwrap())
            .unwrap()
            .cost;
        let paired: f64 = (0..n)
            .map(|i| otto_ot::GroundCost::SquaredEuclidean.eval(a.row(i), b.row(i)))
            .sum::<f64>()
            / n as f64;
        assert!((paired - exact).abs() < 1e-9 * exact, "{paired} vs {exact}");
    }

    #[test]
    fn entropic_pairs_have_the_schroedinger_bridges_cross_covariance() {
        // Truth: otto-ot's closed-form cross-covariance C_σ of the entropic plan between N(0, 1)
        // and N(3, 4) at ε = 2σ² = 1 (MATH.md §3 oracle: A = 1, B = 4, σ² = 0.5 → C = 1.7655644).
        // The plan between 1500-point samples approaches it at rate ~1/√n; 4 samples × 10 draws of
        // 1500 pairs: the pairs' covariance has s.e. ≈ 0.03. Tolerance 0.12.
        use rand_distr::StandardNormal;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 1500;
        let (mut sxy, mut sx, mut sy, mut count) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..4 {
            let x0 = Matrix::from_fn(n, 1, |_, _| rng.sample::<f64, _>(StandardNormal));
            let x1 = Matrix::from_fn(n, 1, |_, _| {
                3.0 + 2.0 * rng.sample::<f64, _>(StandardNormal)
            });
            for _ in 0..10 {
                let (a, b) = Coupling::Entropic { eps: 1.0 }
                    .pair(&x0, &x1, &mut rng)
                    .unwrap();
                for k in 0..n {
                    let (u, v) = (a.get(k, 0), b.get(k, 0));
                    sxy += u * v;
                    sx += u;
                    sy += v;
                    count += 1.0;
                }
            }
        }
        let c = sxy / count - (sx / count) * (sy / count);
        assert!((c - 1.7655644370746).abs() < 0.12, "Cov(x0, x1) {c}");
    }

    #[test]
    fn entropic_pairs_draw_every_point_with_its_mass() {
        // Truth: the plan's marginals are uniform (Sinkhorn converged to 1e-6), so over 200 draws
        // of n = 100 pairs each source row appears 200 times on average: counts are multinomial,
        // sd ≈ √200 ≈ 14; every count lies within 5 sd, and the mean absolute deviation is near
        // its expectation √(2/π)·14 ≈ 11 (tolerance: below 16).
        let n = 100;
        let x0 = Matrix::from_fn(n, 2, |i, k| {
            ((i * 13 + k * 7) % 17) as f64 / 5.0 + 0.001 * i as f64
        });
        let x1 = Matrix::from_fn(n, 2, |i, k| 3.0 + ((i * 5 + k * 3) % 19) as f64 / 4.0);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut hits = vec![0usize; n];
        for _ in 0..200 {
            let (a, _) = Coupling::Entropic { eps: 0.5 }
                .pair(&x0, &x1, &mut rng)
                .unwrap();
            for k in 0..n {
                let i = (0..n).position(|i| x0.row(i) == a.row(k)).unwrap();
                hits[i] += 1;
            }
        }
        let deviation: Vec<f64> = hits.iter().map(|&h| (h as f64 - 200.0).abs()).collect();
        assert!(deviation.iter().all(|&d| d < 5.0 * 14.2), "{hits:?}");
        let mad = deviation.iter().sum::<f64>() / n as f64;
        assert!(mad < 16.0, "mean absolute deviation {mad}");
    }

    #[test]
    fn a_sinkhorn_coupling_that_does_not_converge_says_which_eps_would() {
        // Truth: the documented failure path — a solve stopped by its iteration cap (two
        // iterations here; otto's log-domain Sinkhorn with ε-scaling converges even at ε = 1e-6 on
        // these clouds, so a cap is the honest way to reach it) is an error naming ε, the status
        // and a working ε, and no pairs are returned.
        let n = 64;
        let x0 = Matrix::from_fn(n, 2, |i, k| ((i * 13 + k * 7) % 17) as f64 / 5.0);
        let x1 = Matrix::from_fn(n, 2, |i, k| 3.0 + ((i * 5 + k * 3) % 19) as f64 / 4.0);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let solver = Sinkhorn::new(1e-3).tolerance(1e-9).max_iter(2);
        let err = entropic_pairs(&solver, &x0, &x1, &mut rng);
        match err {
            Err(e @ CouplingError::NotConverged { .. }) => {
                let text = e.to_string();
                assert!(text.contains("use ε ≥"), "{text}");
            }
            other => panic!("expected NotConverged, got {other:?}"),
        }
    }
}

//! The coupling axis: how a minibatch of source points x0 and target points x1 is paired before a
//! path is drawn between them (Tong et al. 2024, "Improving and generalizing flow-based generative
//! models with minibatch optimal transport", TMLR).
//!
//! - [`Coupling::Independent`]: x0 and x1 are independent draws, paired row by row (I-CFM).
//! - [`Coupling::ExactOt`]: the exact OT plan π between the two minibatches (uniform weights,
//!   squared-Euclidean cost) is computed, and n index pairs (i, j) are drawn from π with replacement,
//!   as torchcfm's `OTPlanSampler.sample_plan` does (OT-CFM).

use std::str::FromStr;

use otto_ot::exact;
use otto_ot::marginal::uniform;
use otto_ot::{squared_euclidean, Matrix, OtError};
use rand::Rng;

/// How a minibatch is paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coupling {
    /// Independent pairing (I-CFM).
    #[default]
    Independent,
    /// Pairs drawn from the exact minibatch OT plan (OT-CFM).
    ExactOt,
}

/// The error for an unknown coupling name; it lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown coupling '{0}'; valid couplings are: independent, exact-ot")]
pub struct UnknownCoupling(pub String);

impl FromStr for Coupling {
    type Err = UnknownCoupling;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "independent" => Ok(Coupling::Independent),
            "exact-ot" | "ot" => Ok(Coupling::ExactOt),
            other => Err(UnknownCoupling(other.to_string())),
        }
    }
}

impl Coupling {
    /// The name used in configs and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Coupling::Independent => "independent",
            Coupling::ExactOt => "exact-ot",
        }
    }

    /// Pairs the rows of `x0` and `x1` (n × d each): returns `(x0', x1')` whose row i is the i-th
    /// pair. For [`Coupling::Independent`] the inputs are returned as they are.
    pub fn pair<R: Rng + ?Sized>(
        &self,
        x0: &Matrix,
        x1: &Matrix,
        rng: &mut R,
    ) -> Result<(Matrix, Matrix), OtError> {
        if x0.shape() != x1.shape() {
            return Err(OtError::Shape {
                what: "target minibatch",
                expected: format!("{}×{} (as the source minibatch)", x0.rows(), x0.cols()),
                got: format!("{}×{}", x1.rows(), x1.cols()),
            });
        }
        match self {
            Coupling::Independent => Ok((x0.clone(), x1.clone())),
            Coupling::ExactOt => {
                let n = x0.rows();
                let cost = squared_euclidean(x0, x1)?;
                let w = uniform(n);
                let plan = exact::solve(&w, &w, &cost)?.plan;
                let pairs = plan.sample_pairs(n, rng)?;
                let d = x0.cols();
                let mut a = Matrix::zeros(n, d);
                let mut b = Matrix::zeros(n, d);
                for (k, &(i, j)) in pairs.iter().enumerate() {
                    a.row_mut(k).copy_from_slice(x0.row(i));
                    b.row_mut(k).copy_from_slice(x1.row(j));
                }
                Ok((a, b))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

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
        for c in [Coupling::Independent, Coupling::ExactOt] {
            assert_eq!(c.name().parse::<Coupling>().unwrap(), c);
        }
        assert!("sinkhorn-ot"
            .parse::<Coupling>()
            .unwrap_err()
            .to_string()
            .contains("exact-ot"));
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let err = Coupling::ExactOt
            .pair(&Matrix::zeros(3, 2), &Matrix::zeros(4, 2), &mut rng)
            .unwrap_err();
        assert!(matches!(err, OtError::Shape { .. }));
    }
}

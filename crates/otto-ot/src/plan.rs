//! Transport plans and how to use them: sparse plans from exact solvers, dense plans from entropic
//! ones, and drawing index pairs `(i, j)` with probability `π_ij / Σπ` (the minibatch couplings of
//! OT-CFM and SB-CFM, Tong et al. 2023).

use rand::distributions::{Distribution, WeightedIndex};
use rand::Rng;

use crate::error::{OtError, Result};
use crate::matrix::Matrix;

/// A sparse transport plan: the nonzero entries `(i, j, π_ij)` of an n×m plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SparsePlan {
    /// Number of source points n.
    pub rows: usize,
    /// Number of target points m.
    pub cols: usize,
    /// Nonzero entries `(i, j, π_ij)`.
    pub entries: Vec<(usize, usize, f64)>,
}

impl SparsePlan {
    /// The dense n×m matrix of the plan.
    pub fn to_dense(&self) -> Matrix {
        let mut p = Matrix::zeros(self.rows, self.cols);
        for &(i, j, v) in &self.entries {
            p.set(i, j, p.get(i, j) + v);
        }
        p
    }

    /// `⟨π, C⟩ = Σ π_ij C_ij`.
    pub fn cost(&self, cost: &Matrix) -> f64 {
        self.entries
            .iter()
            .map(|&(i, j, v)| v * cost.get(i, j))
            .sum()
    }

    /// Row sums `π 1` (the first marginal).
    pub fn row_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.rows];
        for &(i, _, v) in &self.entries {
            s[i] += v;
        }
        s
    }

    /// Draws `k` index pairs `(i, j)` independently with probability `π_ij / Σπ`.
    pub fn sample_pairs<R: Rng + ?Sized>(
        &self,
        k: usize,
        rng: &mut R,
    ) -> Result<Vec<(usize, usize)>> {
        let picks = draw_indices(self.entries.iter().map(|e| e.2), k, rng)?;
        Ok(picks
            .into_iter()
            .map(|e| (self.entries[e].0, self.entries[e].1))
            .collect())
    }

    /// For a plan that is a permutation matrix up to scale (each row and each column holds exactly
    /// one nonzero, as the exact plan between uniform n-point clouds does), `σ` with `π_{i σ(i)} > 0`.
    pub fn permutation(&self) -> Option<Vec<usize>> {
        if self.rows != self.cols {
            return None;
        }
        let mut sigma = vec![usize::MAX; self.rows];
        let mut taken = vec![false; self.cols];
        for &(i, j, v) in &self.entries {
            if v <= 0.0 {
                continue;
            }
            if sigma[i] != usize::MAX || taken[j] {
                return None;
            }
            sigma[i] = j;
            taken[j] = true;
        }
        sigma.iter().all(|&j| j != usize::MAX).then_some(sigma)
    }

    /// Column sums `πᵀ 1` (the second marginal).
    pub fn col_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.cols];
        for &(_, j, v) in &self.entries {
            s[j] += v;
        }
        s
    }
}

/// Draws `k` index pairs `(i, j)` independently with probability `π_ij / Σπ` from a dense plan.
pub fn sample_pairs_dense<R: Rng + ?Sized>(
    plan: &Matrix,
    k: usize,
    rng: &mut R,
) -> Result<Vec<(usize, usize)>> {
    let m = plan.cols();
    let picks = draw_indices(plan.as_slice().iter().copied(), k, rng)?;
    Ok(picks.into_iter().map(|f| (f / m, f % m)).collect())
}

/// `k` i.i.d. draws of an index with probability proportional to `weights`.
fn draw_indices<R: Rng + ?Sized>(
    weights: impl IntoIterator<Item = f64>,
    k: usize,
    rng: &mut R,
) -> Result<Vec<usize>> {
    let dist = WeightedIndex::new(weights).map_err(|e| OtError::InvalidOption {
        name: "plan",
        value: e.to_string(),
        reason: "a plan to sample from needs finite non-negative entries with positive mass",
    })?;
    Ok((0..k).map(|_| dist.sample(rng)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn pair_frequencies_match_the_plan() {
        // Truth: the law of large numbers; with 200 000 draws the frequency of an entry with
        // probability p has sd √(p(1−p)/200000) ≤ 1.2e-3, and the tolerance is 5 sd.
        let plan = SparsePlan {
            rows: 2,
            cols: 3,
            entries: vec![(0, 1, 0.1), (0, 2, 0.3), (1, 0, 0.45), (1, 2, 0.15)],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 200_000;
        let dense = plan.to_dense();
        for pairs in [
            plan.sample_pairs(n, &mut rng).unwrap(),
            sample_pairs_dense(&dense, n, &mut rng).unwrap(),
        ] {
            let mut counts = Matrix::zeros(2, 3);
            for (i, j) in pairs {
                counts.set(i, j, counts.get(i, j) + 1.0 / n as f64);
            }
            for (c, p) in counts.as_slice().iter().zip(dense.as_slice()) {
                assert!((c - p).abs() < 6e-3, "{c} vs {p}");
            }
        }
    }

    #[test]
    fn permutation_of_a_scaled_permutation_matrix() {
        // Truth: the permutation the plan was built from.
        let sigma = vec![2, 0, 3, 1];
        let plan = SparsePlan {
            rows: 4,
            cols: 4,
            entries: sigma
                .iter()
                .enumerate()
                .map(|(i, &j)| (i, j, 0.25))
                .collect(),
        };
        assert_eq!(plan.permutation(), Some(sigma));
        let split = SparsePlan {
            rows: 2,
            cols: 2,
            entries: vec![(0, 0, 0.25), (0, 1, 0.25), (1, 1, 0.5)],
        };
        assert_eq!(split.permutation(), None);
    }

    #[test]
    fn empty_plan_is_an_error() {
        let plan = SparsePlan {
            rows: 1,
            cols: 1,
            entries: vec![],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(plan.sample_pairs(3, &mut rng).is_err());
    }
}

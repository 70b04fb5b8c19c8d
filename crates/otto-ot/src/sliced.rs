//! Sliced Wasserstein distance: the average of exact 1-D W2² over random directions θ on the sphere,
//! `SW2²(α, β) = E_θ W2²(θ#α, θ#β)` (Rabin et al. 2011; Bonneel et al. 2015), estimated by Monte
//! Carlo with a seedable number of projections.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::cost::check_point_clouds;
use crate::error::{OtError, Result};
use crate::marginal::check_balanced;
use crate::matrix::Matrix;
use crate::one_d;

/// Options of the sliced-W2 estimator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlicedW2 {
    projections: usize,
    seed: u64,
}

impl Default for SlicedW2 {
    /// 256 projections, seed 0.
    fn default() -> Self {
        Self {
            projections: 256,
            seed: 0,
        }
    }
}

impl SlicedW2 {
    /// Number of random directions (≥ 1).
    pub fn projections(mut self, projections: usize) -> Self {
        self.projections = projections;
        self
    }

    /// Seed of the directions: the same seed gives the same estimate.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The random unit directions used, one per row (`projections × d`).
    pub fn directions(&self, d: usize) -> Matrix {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut dirs = Matrix::zeros(self.projections, d);
        for k in 0..self.projections {
            let row = dirs.row_mut(k);
            loop {
                row.iter_mut()
                    .for_each(|v| *v = StandardNormal.sample(&mut rng));
                let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 1e-12 {
                    row.iter_mut().for_each(|v| *v /= norm);
                    break;
                }
            }
        }
        dirs
    }

    /// The Monte-Carlo estimate of `SW2²` between `(x, a)` and `(y, b)` (points one per row).
    pub fn squared(&self, x: &Matrix, a: &[f64], y: &Matrix, b: &[f64]) -> Result<f64> {
        if self.projections == 0 {
            return Err(OtError::InvalidOption {
                name: "projections",
                value: "0".into(),
                reason: "at least one projection is needed",
            });
        }
        check_point_clouds(x, y)?;
        check_balanced(a, x.rows(), b, y.rows())?;
        let dirs = self.directions(x.cols());
        let project = |p: &Matrix, theta: &[f64]| -> Vec<f64> {
            (0..p.rows())
                .map(|i| p.row(i).iter().zip(theta).map(|(u, v)| u * v).sum())
                .collect()
        };
        let per_direction: Result<Vec<f64>> = (0..self.projections)
            .into_par_iter()
            .map(|k| {
                let theta = dirs.row(k);
                one_d::w2_squared(&project(x, theta), a, &project(y, theta), b)
            })
            .collect();
        Ok(per_direction?.iter().sum::<f64>() / self.projections as f64)
    }

    /// `SW2 = √SW2²`.
    pub fn distance(&self, x: &Matrix, a: &[f64], y: &Matrix, b: &[f64]) -> Result<f64> {
        Ok(self.squared(x, a, y, b)?.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marginal::uniform;

    #[test]
    fn translation_gives_shift_over_dimension() {
        // Truth: for y = x + δ, every 1-D projection is a shift by ⟨θ, δ⟩, so
        // SW2² = E⟨θ, δ⟩² = ‖δ‖²/d for θ uniform on the sphere. Monte-Carlo error with 4000
        // directions: sd of ⟨θ,δ⟩² / √4000 ≈ 1.3·‖δ‖²/d/63 ≈ 2% relative; tolerance 6%.
        let d = 3;
        let x = Matrix::from_fn(50, d, |i, j| ((i * 31 + j * 17) % 23) as f64 / 5.0);
        let delta = [1.0, -2.0, 0.5];
        let y = Matrix::from_fn(50, d, |i, j| x.get(i, j) + delta[j]);
        let w = uniform(50);
        let sw = SlicedW2::default().projections(4000).seed(7);
        let got = sw.squared(&x, &w, &y, &w).unwrap();
        let want = 5.25 / 3.0;
        assert!((got - want).abs() < 0.06 * want, "{got} vs {want}");
    }

    #[test]
    fn seeded_and_bounded_by_any_coupling() {
        // Truth: the same seed reproduces the estimate, another seed changes it; and
        // SW2² ≤ W2² ≤ ⟨π, C⟩ for every coupling π (each projection is 1-Lipschitz), here the
        // identity coupling i ↔ i.
        let x = Matrix::from_fn(6, 2, |i, j| ((i * 5 + j * 3) % 7) as f64);
        let y = Matrix::from_fn(6, 2, |i, j| ((i * 2 + j) % 5) as f64 * 0.5 + j as f64);
        let w = uniform(6);
        let sw = SlicedW2::default().projections(64).seed(3);
        let s1 = sw.squared(&x, &w, &y, &w).unwrap();
        assert_eq!(s1, sw.squared(&x, &w, &y, &w).unwrap());
        assert_ne!(s1, sw.seed(4).squared(&x, &w, &y, &w).unwrap());
        let identity_cost: f64 = (0..6)
            .map(|i| crate::GroundCost::SquaredEuclidean.eval(x.row(i), y.row(i)))
            .sum::<f64>()
            / 6.0;
        assert!(s1 <= identity_cost + 1e-12, "{s1} > {identity_cost}");
    }

    #[test]
    fn zero_projections_is_an_error() {
        let x = Matrix::zeros(2, 2);
        let w = uniform(2);
        assert!(SlicedW2::default()
            .projections(0)
            .squared(&x, &w, &x, &w)
            .is_err());
    }
}

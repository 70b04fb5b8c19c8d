//! Built-in 2-D data sets, seedable, defined as torchcfm defines them (Tong et al. 2023,
//! `torchcfm/utils.py`):
//! - `gaussian`: N(0, I);
//! - `8gaussians`: centres 5·{(±1, 0), (0, ±1), (±1/√2, ±1/√2)} chosen uniformly, plus Gaussian noise
//!   with covariance √0.1·I (torchcfm passes `math.sqrt(var) * eye` as the covariance matrix with
//!   `var = 0.1`, so the per-coordinate variance is √0.1 ≈ 0.316, not 0.1);
//! - `moons`: scikit-learn's two moons (half circles at evenly spaced angles, Gaussian noise of
//!   standard deviation 0.2), then `3x − 1`.

use std::f64::consts::{FRAC_1_SQRT_2, PI};
use std::str::FromStr;

use otto_ot::Matrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A built-in 2-D data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toy {
    /// The standard normal N(0, I₂).
    Gaussian,
    /// Eight Gaussians on a circle of radius 5.
    EightGaussians,
    /// Two interleaving half circles.
    Moons,
}

/// The error for a name that is not a built-in data set; it lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown data set '{0}'; built-in data sets are: gaussian, 8gaussians, moons")]
pub struct UnknownToy(pub String);

impl FromStr for Toy {
    type Err = UnknownToy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gaussian" | "normal" => Ok(Toy::Gaussian),
            "8gaussians" => Ok(Toy::EightGaussians),
            "moons" => Ok(Toy::Moons),
            other => Err(UnknownToy(other.to_string())),
        }
    }
}

impl Toy {
    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Toy::Gaussian => "gaussian",
            Toy::EightGaussians => "8gaussians",
            Toy::Moons => "moons",
        }
    }

    /// `n` points (n × 2), reproducible from `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Matrix {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal = move || -> f64 { rng.sample(StandardNormal) };
        match self {
            Toy::Gaussian => Matrix::from_fn(n, 2, |_, _| normal()),
            Toy::EightGaussians => {
                let centres = [
                    (1.0, 0.0),
                    (-1.0, 0.0),
                    (0.0, 1.0),
                    (0.0, -1.0),
                    (FRAC_1_SQRT_2, FRAC_1_SQRT_2),
                    (FRAC_1_SQRT_2, -FRAC_1_SQRT_2),
                    (-FRAC_1_SQRT_2, FRAC_1_SQRT_2),
                    (-FRAC_1_SQRT_2, -FRAC_1_SQRT_2),
                ];
                let sd = 0.1f64.sqrt().sqrt();
                let mut pick = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
                let mut points = Matrix::zeros(n, 2);
                for i in 0..n {
                    let (cx, cy) = centres[pick.gen_range(0..8)];
                    points.set(i, 0, 5.0 * cx + sd * normal());
                    points.set(i, 1, 5.0 * cy + sd * normal());
                }
                points
            }
            Toy::Moons => {
                let n_out = n / 2;
                let n_in = n - n_out;
                let angle = |k: usize, count: usize| {
                    if count > 1 {
                        PI * k as f64 / (count - 1) as f64
                    } else {
                        0.0
                    }
                };
                Matrix::from_fn(n, 2, |i, j| {
                    let base = if i < n_out {
                        let t = angle(i, n_out);
                        [t.cos(), t.sin()][j]
                    } else {
                        let t = angle(i - n_out, n_in);
                        [1.0 - t.cos(), 0.5 - t.sin()][j]
                    };
                    3.0 * (base + 0.2 * normal()) - 1.0
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(p: &Matrix) -> ([f64; 2], [f64; 2]) {
        let n = p.rows() as f64;
        let mean = [0, 1].map(|j| (0..p.rows()).map(|i| p.get(i, j)).sum::<f64>() / n);
        let var = [0, 1].map(|j| {
            (0..p.rows())
                .map(|i| (p.get(i, j) - mean[j]).powi(2))
                .sum::<f64>()
                / n
        });
        (mean, var)
    }

    #[test]
    fn eight_gaussians_moments() {
        // Truth: centres on the circle of radius 5 average to 0; the per-coordinate variance is
        // 25·E[c_x²] + √0.1 = 25/2 + 0.3162 = 12.816 (the eight centres have E[c_x²] = ½).
        // 200 000 points: standard error of the variance ≈ 12.8·√(2/200000) ≈ 0.04; tolerance 0.2.
        let (mean, var) = moments(&Toy::EightGaussians.sample(200_000, 1));
        for j in 0..2 {
            assert!(mean[j].abs() < 0.05, "{mean:?}");
            assert!((var[j] - (12.5 + 0.1f64.sqrt())).abs() < 0.2, "{var:?}");
        }
    }

    #[test]
    fn moons_are_seeded_and_on_the_scaled_half_circles() {
        // Truth: without noise, the moons' points lie at x = 3·base − 1 with base on the unit half
        // circles, so their mean is 3·(0.5, 0.25) − 1 = (0.5, −0.25) exactly in the limit; noise
        // has mean 0 (standard error 0.6/√100000 ≈ 2e-3).
        let a = Toy::Moons.sample(100_000, 3);
        assert_eq!(a, Toy::Moons.sample(100_000, 3));
        assert_ne!(a, Toy::Moons.sample(100_000, 4));
        let (mean, _) = moments(&a);
        assert!(
            (mean[0] - 0.5).abs() < 0.01 && (mean[1] + 0.25).abs() < 0.02,
            "{mean:?}"
        );
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = "circle".parse::<Toy>().unwrap_err().to_string();
        assert!(err.contains("circle") && err.contains("8gaussians"));
    }
}

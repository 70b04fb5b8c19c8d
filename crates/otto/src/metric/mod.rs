//! The metric axis: how close generated samples are to held-out data.
//!
//! - [`mmd`]: squared maximum mean discrepancy with a sum of RBF kernels (torchcfm's `RBF_MMD`);
//! - [`energy`]: the energy distance of Székely and Rizzo;
//! - [`wasserstein`]: W2 by exact optimal transport (the published protocol's metric).
//!
//! Sample statistics come as a V-statistic (the plug-in value between the two empirical
//! measures, biased, never negative) or a U-statistic (unbiased, may be negative); see
//! [`Estimator`]. In every function `x` holds one sample (e.g. generated points) and `y` the other
//! (e.g. held-out data), one point per row; the two may have different sizes.

pub mod energy;
pub mod mmd;
mod pairwise;
pub mod path_energy;
pub mod wasserstein;

pub use energy::energy_distance;
pub use mmd::Mmd;
pub use path_energy::{kinetic_energy, npe};
pub use wasserstein::w2;

use otto_ot::OtError;

/// Which estimator of an expectation over pairs 𝔼 f(X, X′) of independent copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Estimator {
    /// The V-statistic (1/m²) Σ_{i,j} f(x_i, x_j), diagonal included: the value of the statistic
    /// between the empirical measures. Biased by O(1/m), ≥ 0 for MMD² and energy distance, exactly
    /// 0 between identical sets. The default (torchcfm's `mix_rbf_mmd2(..., biased=True)`).
    #[default]
    V,
    /// The U-statistic (1/(m(m−1))) Σ_{i≠j} f(x_i, x_j): unbiased, may be slightly negative,
    /// needs at least two points on each side.
    U,
}

/// Why a metric cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// The point sets are empty, hold NaN/∞, or differ in dimension.
    #[error("{0}")]
    Input(#[from] OtError),
    /// The U-statistic needs two points on each side.
    #[error("the unbiased (U-statistic) estimate needs at least 2 points in {what}, got {n}")]
    TooFew {
        /// Which sample.
        what: &'static str,
        /// Its size.
        n: usize,
    },
    /// An RBF bandwidth that is not finite and positive.
    #[error("invalid RBF bandwidth {0}: bandwidths must be finite and positive")]
    Bandwidth(f64),
    /// An empty list of RBF bandwidths.
    #[error("no RBF bandwidth given: give at least one")]
    NoBandwidth,
}

/// Checks a pair of samples for a two-sample statistic: non-empty, finite, same dimension, and
/// two points per side for the U-statistic.
fn check_samples(
    x: &otto_ot::Matrix,
    y: &otto_ot::Matrix,
    estimator: Estimator,
) -> Result<(), MetricError> {
    otto_ot::cost::check_point_clouds(x, y)?;
    if estimator == Estimator::U {
        for (what, n) in [("x", x.rows()), ("y", y.rows())] {
            if n < 2 {
                return Err(MetricError::TooFew { what, n });
            }
        }
    }
    Ok(())
}

/// The estimate of 𝔼 f(X, X′) from the sum over distinct pairs Σ_{i<j} f(x_i, x_j), given the
/// diagonal value f(x, x) (the same for every point: 1 for an RBF kernel, 0 for a distance).
fn within_mean(pair_sum: f64, diagonal: f64, m: usize, estimator: Estimator) -> f64 {
    let m = m as f64;
    match estimator {
        Estimator::V => (2.0 * pair_sum + m * diagonal) / (m * m),
        Estimator::U => 2.0 * pair_sum / (m * (m - 1.0)),
    }
}

/// The standard normal CDF Φ by composite Simpson quadrature of the density on [−12, z]
/// (error far below 1e-10), for the closed-form oracles of the tests.
#[cfg(test)]
pub(crate) fn normal_cdf(z: f64) -> f64 {
    let a = -12.0;
    if z <= a {
        return 0.0;
    }
    let steps = 20_000;
    let h = (z - a) / steps as f64;
    let phi = |t: f64| (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let inner: f64 = (1..steps)
        .map(|k| phi(a + k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 })
        .sum();
    h / 3.0 * (phi(a) + inner + phi(z))
}

/// Mean and sample standard deviation of replicated estimates, for the Monte Carlo tests.
#[cfg(test)]
pub(crate) fn mean_sd(values: &[f64]) -> (f64, f64) {
    let r = values.len() as f64;
    let mean = values.iter().sum::<f64>() / r;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (r - 1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    #[test]
    fn normal_cdf_matches_known_values() {
        // Truth: Φ(0) = ½ by symmetry; Φ(1) = 0.8413447460685429, Φ(−1.96) = 0.0249978951482204
        // (tabulated standard normal CDF, 16 digits).
        assert!((super::normal_cdf(0.0) - 0.5).abs() < 1e-12);
        assert!((super::normal_cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-12);
        assert!((super::normal_cdf(-1.96) - 0.024_997_895_148_220_4).abs() < 1e-12);
    }
}

//! The energy distance (Székely & Rizzo, "Energy statistics", J. Stat. Plan. Inference 2013,
//! eq. 2.1):
//!
//! ℰ(P, Q) = 2 𝔼‖X − Y‖ − 𝔼‖X − X′‖ − 𝔼‖Y − Y′‖,
//!
//! which is ≥ 0 and zero iff P = Q; √ℰ is a metric. Note the units: this is ℰ itself, the square
//! of the metric. `scipy.stats.energy_distance` returns √ℰ (in 1-D).

use otto_ot::Matrix;

use super::pairwise::{cross_sums, within_sums};
use super::{check_samples, within_mean, Estimator, MetricError};

/// ℰ between the samples `x` (m points) and `y` (n points). With S_xx = Σ_{i<j} ‖x_i − x_j‖,
/// S_yy likewise and S_xy = Σ_{i,j} ‖x_i − y_j‖:
/// V: 2S_xy/(mn) − 2S_xx/m² − 2S_yy/n² (the energy distance between the empirical measures;
/// ≥ 0, exactly 0 for identical sets, biased upwards by 𝔼‖X − X′‖/m + 𝔼‖Y − Y′‖/n);
/// U: 2S_xy/(mn) − 2S_xx/(m(m−1)) − 2S_yy/(n(n−1)) (unbiased, may be negative).
pub fn energy_distance(x: &Matrix, y: &Matrix, estimator: Estimator) -> Result<f64, MetricError> {
    check_samples(x, y, estimator)?;
    let norm = |d2: f64, acc: &mut [f64]| acc[0] += d2.sqrt();
    let sxx = within_sums(x, 1, norm)[0];
    let syy = within_sums(y, 1, norm)[0];
    let sxy = cross_sums(x, y, 1, norm)[0];
    let (m, n) = (x.rows(), y.rows());
    Ok(2.0 * sxy / (m as f64 * n as f64)
        - within_mean(sxx, 0.0, m, estimator)
        - within_mean(syy, 0.0, n, estimator))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Toy;
    use crate::metric::{mean_sd, normal_cdf};
    use std::f64::consts::PI;

    /// 𝔼|Z| for Z ~ N(m, s²): s√(2/π) e^{−m²/(2s²)} + m(1 − 2Φ(−m/s)).
    fn mean_abs_normal(m: f64, s: f64) -> f64 {
        s * (2.0 / PI).sqrt() * (-m * m / (2.0 * s * s)).exp()
            + m * (1.0 - 2.0 * normal_cdf(-m / s))
    }

    #[test]
    fn two_points_by_hand_identical_sets_and_symmetry() {
        // Truth: x = {0}, y = {3}: ℰ_V = 2·3 − 0 − 0 = 6. Between identical sets ℰ_V = 0 (to
        // rounding); both statistics are symmetric in (x, y).
        let (x, y) = (Matrix::zeros(1, 1), Matrix::from_fn(1, 1, |_, _| 3.0));
        assert_eq!(energy_distance(&x, &y, Estimator::V).unwrap(), 6.0);
        let a = Toy::Pinwheel.sample(600, 1);
        let b = Toy::Rings.sample(400, 2);
        assert!(energy_distance(&a, &a, Estimator::V).unwrap().abs() < 1e-12);
        for e in [Estimator::V, Estimator::U] {
            let (ab, ba) = (
                energy_distance(&a, &b, e).unwrap(),
                energy_distance(&b, &a, e).unwrap(),
            );
            assert!((ab - ba).abs() < 1e-12 * ab, "{ab} {ba}");
        }
    }

    #[test]
    fn one_dimensional_gaussians_match_the_closed_form() {
        // Truth: X ~ N(0, 1), Y ~ N(μ, 1): X − Y ~ N(−μ, 2) and X − X′ ~ N(0, 2), so
        // ℰ = 2𝔼|N(μ, 2)| − 2𝔼|N(0, 2)| with 𝔼|N(m, s²)| = s√(2/π)e^{−m²/(2s²)} + m(1 − 2Φ(−m/s)),
        // and 𝔼|N(0, 2)| = 2/√π. The U-statistic is unbiased; the V-statistic's mean is
        // ℰ + (2/√π)(1/m + 1/n). μ = 1 (ℰ ≈ 0.542), 20 replicates of m = 4000, n = 3000; tolerance 4 sample
        // sd of the mean.
        let mu = 1.0;
        let s = 2f64.sqrt();
        let truth = 2.0 * mean_abs_normal(mu, s) - 2.0 * mean_abs_normal(0.0, s);
        assert!((mean_abs_normal(0.0, s) - 2.0 / PI.sqrt()).abs() < 1e-15);
        let (m, n, r) = (4000, 3000, 20);
        let (mut us, mut vs) = (Vec::new(), Vec::new());
        for rep in 0..r {
            let x = Toy::Gaussian { dim: 1 }.sample(m, 100 + 2 * rep);
            let mut y = Toy::Gaussian { dim: 1 }.sample(n, 101 + 2 * rep);
            y.as_mut_slice().iter_mut().for_each(|v| *v += mu);
            us.push(energy_distance(&x, &y, Estimator::U).unwrap());
            vs.push(energy_distance(&x, &y, Estimator::V).unwrap());
        }
        let (u, u_sd) = mean_sd(&us);
        let (v, v_sd) = mean_sd(&vs);
        let tol = |sd: f64| 4.0 * sd / (r as f64).sqrt();
        assert!(
            (u - truth).abs() < tol(u_sd),
            "U {u} vs {truth} ± {}",
            tol(u_sd)
        );
        assert!(
            tol(u_sd) < 0.08 * truth,
            "tolerance {} too loose",
            tol(u_sd)
        );
        let v_truth = truth + 2.0 / PI.sqrt() * (1.0 / m as f64 + 1.0 / n as f64);
        assert!(
            (v - v_truth).abs() < tol(v_sd),
            "V {v} vs {v_truth} ± {}",
            tol(v_sd)
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = Matrix::zeros(1, 2);
        let e = energy_distance(&x, &x, Estimator::U).unwrap_err();
        assert_eq!(e, MetricError::TooFew { what: "x", n: 1 });
        let nan = Matrix::from_fn(2, 2, |i, _| if i == 1 { f64::NAN } else { 0.0 });
        let e = energy_distance(&x, &nan, Estimator::V)
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-finite"), "{e}");
    }
}

//! Squared maximum mean discrepancy (Gretton et al., JMLR 2012, eqs. 2–5) with Gaussian RBF
//! kernels k_h(x, y) = exp(−‖x − y‖²/(2h²)):
//!
//! MMD²_h(P, Q) = 𝔼 k_h(X, X′) + 𝔼 k_h(Y, Y′) − 2 𝔼 k_h(X, Y).
//!
//! With several bandwidths the kernel is their sum K = Σ_h k_h, so MMD²_K = Σ_h MMD²_h. The
//! defaults (bandwidths 0.01, 0.1, 1, 10, 100, summed, V-statistic) are torchcfm's `RBF_MMD`:
//! `mix_rbf_mmd2(a, b, sigma_list=[0.01, 0.1, 1, 10, 100])` with `biased=True`
//! (`runner/src/models/components/{distribution_distances,mmd}.py`,
//! atong01/conditional-flow-matching), which reports MMD², not MMD. torchcfm needs equal sample
//! sizes; here they may differ.

use otto_ot::Matrix;

use super::pairwise::{cross_sums, within_sums};
use super::{check_samples, within_mean, Estimator, MetricError};

/// Squared MMD with a sum of RBF kernels: options (bandwidths, estimator), then
/// [`Mmd::squared`] or [`Mmd::squared_per_bandwidth`].
///
/// ```
/// # use otto::metric::{Estimator, Mmd};
/// # use otto::data::Toy;
/// let (x, y) = (Toy::Moons.sample(500, 0), Toy::Moons.sample(500, 1));
/// let torchcfm_rbf_mmd = Mmd::default().squared(&x, &y)?;
/// let unbiased = Mmd::new([1.0]).estimator(Estimator::U).squared(&x, &y)?;
/// # assert!(torchcfm_rbf_mmd >= 0.0 && unbiased.abs() < 0.05);
/// # Ok::<(), otto::metric::MetricError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Mmd {
    bandwidths: Vec<f64>,
    estimator: Estimator,
}

impl Default for Mmd {
    /// torchcfm's `RBF_MMD`: bandwidths h ∈ {0.01, 0.1, 1, 10, 100} summed, V-statistic.
    fn default() -> Self {
        Self::new([0.01, 0.1, 1.0, 10.0, 100.0])
    }
}

impl Mmd {
    /// RBF kernels with the given bandwidths h (k_h(x, y) = exp(−‖x − y‖²/(2h²))), V-statistic.
    pub fn new(bandwidths: impl Into<Vec<f64>>) -> Self {
        Self {
            bandwidths: bandwidths.into(),
            estimator: Estimator::default(),
        }
    }

    /// Sets the estimator (V-statistic by default).
    pub fn estimator(mut self, estimator: Estimator) -> Self {
        self.estimator = estimator;
        self
    }

    /// The bandwidths.
    pub fn bandwidths(&self) -> &[f64] {
        &self.bandwidths
    }

    /// MMD² with the summed kernel Σ_h k_h, i.e. Σ_h MMD²_h.
    pub fn squared(&self, x: &Matrix, y: &Matrix) -> Result<f64, MetricError> {
        Ok(self.squared_per_bandwidth(x, y)?.iter().sum())
    }

    /// MMD²_h for each bandwidth h, in the order given. With m = |x|, n = |y| and
    /// S_xx = Σ_{i<j} k(x_i, x_j), S_yy likewise, S_xy = Σ_{i,j} k(x_i, y_j):
    /// V: (2S_xx + m)/m² + (2S_yy + n)/n² − 2S_xy/(mn);
    /// U: 2S_xx/(m(m−1)) + 2S_yy/(n(n−1)) − 2S_xy/(mn).
    pub fn squared_per_bandwidth(&self, x: &Matrix, y: &Matrix) -> Result<Vec<f64>, MetricError> {
        if self.bandwidths.is_empty() {
            return Err(MetricError::NoBandwidth);
        }
        if let Some(&h) = self
            .bandwidths
            .iter()
            .find(|h| !(h.is_finite() && **h > 0.0))
        {
            return Err(MetricError::Bandwidth(h));
        }
        check_samples(x, y, self.estimator)?;
        let gammas: Vec<f64> = self.bandwidths.iter().map(|h| 0.5 / (h * h)).collect();
        let k = gammas.len();
        // Terms below e^{−708} (under f64's normal range, where `exp` is slow) add nothing a sum
        // of at most 1e12 terms of size ≤ 1 could show, so they are skipped.
        let kernels = |d2: f64, acc: &mut [f64]| {
            for (a, g) in acc.iter_mut().zip(&gammas) {
                let exponent = g * d2;
                if exponent < 708.0 {
                    *a += (-exponent).exp();
                }
            }
        };
        let sxx = within_sums(x, k, kernels);
        let syy = within_sums(y, k, kernels);
        let sxy = cross_sums(x, y, k, kernels);
        let (m, n) = (x.rows(), y.rows());
        Ok((0..k)
            .map(|t| {
                within_mean(sxx[t], 1.0, m, self.estimator)
                    + within_mean(syy[t], 1.0, n, self.estimator)
                    - 2.0 * sxy[t] / (m as f64 * n as f64)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Toy;
    use crate::metric::mean_sd;

    fn shifted_normal(n: usize, shift: &[f64], seed: u64) -> Matrix {
        let mut p = Toy::Gaussian { dim: shift.len() }.sample(n, seed);
        for i in 0..n {
            for (v, s) in p.row_mut(i).iter_mut().zip(shift) {
                *v += s;
            }
        }
        p
    }

    /// 𝔼 k_h(X, Y) for X ~ N(0, I_d), Y ~ N(μ, I_d): X − Y ~ N(−μ, 2I), so
    /// 𝔼 exp(−‖X − Y‖²/(2h²)) = (h²/(h² + 2))^{d/2} exp(−‖μ‖²/(2(h² + 2))).
    fn gaussian_kernel_mean(h: f64, d: usize, mu2: f64) -> f64 {
        let v = h * h + 2.0;
        (h * h / v).powf(d as f64 / 2.0) * (-mu2 / (2.0 * v)).exp()
    }

    #[test]
    fn two_points_by_hand() {
        // Truth: x = {0}, y = {1} in 1-D, h = 1: k(0, 0) = k(1, 1) = 1 and k(0, 1) = e^{−1/2},
        // so the V-statistic is 2 − 2e^{−1/2}; with h = 1 and 2 summed it is
        // (2 − 2e^{−1/2}) + (2 − 2e^{−1/8}).
        let (x, y) = (Matrix::zeros(1, 1), Matrix::from_fn(1, 1, |_, _| 1.0));
        let one = Mmd::new([1.0]).squared(&x, &y).unwrap();
        assert!((one - (2.0 - 2.0 * (-0.5f64).exp())).abs() < 1e-15, "{one}");
        let two = Mmd::new([1.0, 2.0]).squared(&x, &y).unwrap();
        let want = 4.0 - 2.0 * (-0.5f64).exp() - 2.0 * (-0.125f64).exp();
        assert!((two - want).abs() < 1e-15, "{two}");
    }

    #[test]
    fn identical_sets_and_symmetry() {
        // Truth: the V-statistic is the MMD² between the empirical measures, 0 when they are
        // equal (to rounding, 1e-12). Both statistics are symmetric in (x, y).
        let x = Toy::EightGaussians.sample(700, 1);
        let y = Toy::Moons.sample(500, 2);
        let mmd = Mmd::default();
        assert!(mmd.squared(&x, &x).unwrap().abs() < 1e-12);
        for estimator in [Estimator::V, Estimator::U] {
            let mmd = Mmd::default().estimator(estimator);
            let (a, b) = (mmd.squared(&x, &y).unwrap(), mmd.squared(&y, &x).unwrap());
            assert!((a - b).abs() < 1e-12 * a.abs(), "{a} {b}");
        }
    }

    #[test]
    fn same_distribution_u_is_unbiased_and_v_has_its_exact_bias() {
        // Truth: for X, Y ~ N(0, I₂) independent, MMD² = 0 and 𝔼[U] = 0, while
        // 𝔼[V] = (1 − c)(1/m + 1/n) with c = 𝔼 k_h(X, X′) = h²/(h² + 2) (the diagonal k = 1 enters
        // with weight 1/m instead of c). 40 replicates of m = n = 800, h = 1; tolerance 4 sample
        // sd of the mean. The bias 2/3·(2/800) ≈ 1.7e-3 is more than twice the U tolerance,
        // so the two intervals are disjoint.
        let (m, r, h) = (800, 40, 1.0);
        let (mut us, mut vs) = (Vec::new(), Vec::new());
        for rep in 0..r {
            let x = Toy::Gaussian { dim: 2 }.sample(m, 2 * rep);
            let y = Toy::Gaussian { dim: 2 }.sample(m, 2 * rep + 1);
            us.push(
                Mmd::new([h])
                    .estimator(Estimator::U)
                    .squared(&x, &y)
                    .unwrap(),
            );
            vs.push(Mmd::new([h]).squared(&x, &y).unwrap());
        }
        let (u, u_sd) = mean_sd(&us);
        let (v, v_sd) = mean_sd(&vs);
        let bias = (1.0 - gaussian_kernel_mean(h, 2, 0.0)) * 2.0 / m as f64;
        let tol = |sd: f64| 4.0 * sd / (r as f64).sqrt();
        assert!(u.abs() < tol(u_sd), "U mean {u} ± {}", tol(u_sd));
        assert!(
            tol(u_sd) < bias / 2.0,
            "the test cannot tell U from V: {}",
            tol(u_sd)
        );
        assert!(
            (v - bias).abs() < tol(v_sd),
            "V mean {v} vs {bias} ± {}",
            tol(v_sd)
        );
    }

    #[test]
    fn gaussians_match_the_closed_form() {
        // Truth: for N(0, s²I) vs N(μ, s²I) (s = 1) and one bandwidth h,
        // MMD²_h = 2c(1 − exp(−‖μ‖²/(2(h² + 2s²)))) with c = (h²/(h² + 2s²))^{d/2}. The U-statistic
        // is unbiased: 20 replicates of m = 1000, n = 700 (unequal on purpose), d = 3,
        // μ = (1, −0.5, 0.25), h ∈ {0.5, 1, 3}; tolerance 4 sample sd of the mean.
        let mu = [1.0, -0.5, 0.25];
        let mu2: f64 = mu.iter().map(|v| v * v).sum();
        let bandwidths = [0.5, 1.0, 3.0];
        let mmd = Mmd::new(bandwidths).estimator(Estimator::U);
        let r = 20;
        let reps: Vec<Vec<f64>> = (0..r)
            .map(|rep| {
                let x = shifted_normal(1000, &[0.0; 3], 10 + 2 * rep);
                let y = shifted_normal(700, &mu, 11 + 2 * rep);
                mmd.squared_per_bandwidth(&x, &y).unwrap()
            })
            .collect();
        for (t, &h) in bandwidths.iter().enumerate() {
            let values: Vec<f64> = reps.iter().map(|v| v[t]).collect();
            let (mean, sd) = mean_sd(&values);
            let truth = 2.0 * (gaussian_kernel_mean(h, 3, 0.0) - gaussian_kernel_mean(h, 3, mu2));
            let tol = 4.0 * sd / (r as f64).sqrt();
            assert!(
                (mean - truth).abs() < tol,
                "h = {h}: {mean} vs {truth} ± {tol}"
            );
            assert!(
                tol < 0.1 * truth,
                "h = {h}: tolerance {tol} too loose for {truth}"
            );
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = Matrix::zeros(3, 2);
        let err = |m: Mmd, y: &Matrix| m.squared(&x, y).unwrap_err();
        assert_eq!(err(Mmd::new([1.0, 0.0]), &x), MetricError::Bandwidth(0.0));
        assert_eq!(err(Mmd::new(Vec::new()), &x), MetricError::NoBandwidth);
        let one = Matrix::zeros(1, 2);
        let e = err(Mmd::default().estimator(Estimator::U), &one);
        assert_eq!(e, MetricError::TooFew { what: "y", n: 1 });
        let e = err(Mmd::default(), &Matrix::zeros(3, 4)).to_string();
        assert!(
            e.contains("dimension 2") && e.contains("dimension 4"),
            "{e}"
        );
    }
}

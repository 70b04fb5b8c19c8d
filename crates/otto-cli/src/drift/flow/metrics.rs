//! What `otto drift flow` measures between the particles and a held-out draw of the target:
//! exact W2, MMD², the Sinkhorn divergence and (2-D) a histogram estimate of KL.

use anyhow::{Context, Result};
use otto::metric::Mmd;
use otto_ot::entropic::{sinkhorn_divergence_points, Sinkhorn};
use otto_ot::marginal::uniform;
use otto_ot::wasserstein::w2_exact;
use otto_ot::Matrix;
use serde::Serialize;

/// The Sinkhorn divergence's ε as a fraction of the held-out target's mean squared pairwise
/// distance E‖y − y'‖² (= 2·tr Cov): large enough that the three entropic problems converge in a
/// few hundred iterations, small enough that S_ε still behaves like W2² on the target's scale.
pub const SINKHORN_EPS_FRACTION: f64 = 0.05;
/// Tolerance on the marginals of the Sinkhorn divergence's entropic problems.
const SINKHORN_TOLERANCE: f64 = 1e-6;
/// Pseudo-count added to every histogram bin (Krichevsky–Trofimov): empty bins get mass
/// ½/(n + ½B²) instead of 0, so KL stays finite.
const KL_PSEUDO_COUNT: f64 = 0.5;
/// About this many points per bin (of the smaller set) when choosing the histogram's bins.
const KL_POINTS_PER_BIN: f64 = 10.0;

/// The distances from a point set to the held-out target.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Distances {
    /// Exact W2 (network simplex on the squared Euclidean cost, uniform weights).
    pub w2: f64,
    /// MMD² with torchcfm's sum of five RBF kernels (h ∈ {0.01, 0.1, 1, 10, 100}, V-statistic).
    pub mmd2: f64,
    /// S_ε = OT_ε(x, y) − ½OT_ε(x, x) − ½OT_ε(y, y), cost ‖x − y‖² (Feydy et al. 2019).
    pub sinkhorn_divergence: f64,
    /// KL(particles ‖ target) from 2-D histograms; `None` in other dimensions.
    pub kl: Option<f64>,
    /// Whether the three entropic problems of S_ε met the tolerance (the value is still the
    /// last iterate's when not).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sinkhorn_capped: bool,
}

/// The held-out target and the settings of the distances to it.
pub struct Metrics {
    held_out: Matrix,
    eps: f64,
}

impl Metrics {
    /// Distances to `held_out`, with ε of the Sinkhorn divergence [`SINKHORN_EPS_FRACTION`]
    /// times the mean squared pairwise distance of `held_out`.
    pub fn new(held_out: Matrix) -> Self {
        let eps = SINKHORN_EPS_FRACTION * mean_pairwise_square(&held_out);
        Self {
            held_out,
            eps: eps.max(f64::MIN_POSITIVE),
        }
    }

    /// ε of the Sinkhorn divergence (in units of squared distance).
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The held-out target.
    pub fn held_out(&self) -> &Matrix {
        &self.held_out
    }

    /// The number of histogram bins per axis for `n` points: ⌊√(n/10)⌋, at least 4.
    pub fn kl_bins(&self, n: usize) -> usize {
        let n = n.min(self.held_out.rows()) as f64;
        ((n / KL_POINTS_PER_BIN).sqrt().floor() as usize).max(4)
    }

    /// The distances from `x` (n × d, the held-out target's dimension) to the held-out target.
    pub fn measure(&self, x: &Matrix) -> Result<Distances> {
        let y = &self.held_out;
        let (a, b) = (uniform(x.rows()), uniform(y.rows()));
        let w2 = w2_exact(x, &a, y, &b).context("W2")?;
        let mmd2 = Mmd::default().squared(x, y).context("MMD")?;
        let solver = Sinkhorn::new(self.eps).tolerance(SINKHORN_TOLERANCE);
        let divergence =
            sinkhorn_divergence_points(x, &a, y, &b, &solver).context("Sinkhorn divergence")?;
        let kl = (x.cols() == 2).then(|| histogram_kl(x, y, self.kl_bins(x.rows())));
        Ok(Distances {
            w2,
            mmd2,
            sinkhorn_divergence: divergence.value,
            kl,
            sinkhorn_capped: !divergence.status.is_converged(),
        })
    }
}

/// E‖y − y'‖² over independent rows (i = j included) = 2 Σ_k Var(y_k), population variances.
fn mean_pairwise_square(y: &Matrix) -> f64 {
    let n = y.rows() as f64;
    (0..y.cols())
        .map(|k| {
            let mean = (0..y.rows()).map(|i| y.get(i, k)).sum::<f64>() / n;
            2.0 * (0..y.rows())
                .map(|i| (y.get(i, k) - mean).powi(2))
                .sum::<f64>()
                / n
        })
        .sum()
}

/// KL(q ‖ p) = Σ_b q̂_b ln(q̂_b/p̂_b) between the first two coordinates of two point sets, from
/// histograms on a `bins × bins` grid over their joint bounding box, each bin's probability
/// (count + ½)/(n + ½·bins²). Plug-in estimators are biased upward by about (bins² − 1)/(2n) per
/// set even when q = p; the flow reports the value between two target draws as the floor.
pub fn histogram_kl(q: &Matrix, p: &Matrix, bins: usize) -> f64 {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for m in [q, p] {
        for i in 0..m.rows() {
            for k in 0..2 {
                lo[k] = lo[k].min(m.get(i, k));
                hi[k] = hi[k].max(m.get(i, k));
            }
        }
    }
    let histogram = |m: &Matrix| {
        let mut counts = vec![KL_PSEUDO_COUNT; bins * bins];
        for i in 0..m.rows() {
            let cell = |k: usize| {
                let width = (hi[k] - lo[k]).max(f64::MIN_POSITIVE);
                (((m.get(i, k) - lo[k]) / width * bins as f64) as usize).min(bins - 1)
            };
            counts[cell(0) * bins + cell(1)] += 1.0;
        }
        let total: f64 = counts.iter().sum();
        counts.into_iter().map(move |c| c / total)
    };
    histogram(q)
        .zip(histogram(p))
        .map(|(qb, pb)| qb * (qb / pb).ln())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_kl_matches_the_closed_form_of_two_bernoulli_cells() {
        // Truth: with 2 × 2 bins and points at two opposite corners, the bins hold (with the ½
        // pseudo-count) q = (30.5, 0.5, 0.5, 10.5)/42 and p = (10.5, 0.5, 0.5, 30.5)/42; the sum
        // q ln(q/p) is computed by hand below.
        let corner = |n: usize, at: f64| (0..n).map(move |_| vec![at, at]);
        let q = Matrix::from_rows(&corner(30, 0.0).chain(corner(10, 1.0)).collect::<Vec<_>>());
        let p = Matrix::from_rows(&corner(10, 0.0).chain(corner(30, 1.0)).collect::<Vec<_>>());
        let kl = histogram_kl(&q.unwrap(), &p.unwrap(), 2);
        let (a, b) = (30.5f64 / 42.0, 10.5f64 / 42.0);
        let truth = a * (a / b).ln() + b * (b / a).ln();
        assert!((kl - truth).abs() < 1e-12, "{kl} vs {truth}");
    }

    #[test]
    fn mean_pairwise_square_is_twice_the_total_variance() {
        // Truth: the brute-force double sum over all ordered pairs (i = j included).
        let y = otto::data::Toy::Moons.sample(50, 3);
        let n = y.rows();
        let brute = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| {
                (0..2)
                    .map(|k| (y.get(i, k) - y.get(j, k)).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (n * n) as f64;
        assert!((mean_pairwise_square(&y) - brute).abs() < 1e-12);
    }
}

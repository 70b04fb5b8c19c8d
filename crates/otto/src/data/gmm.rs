//! Gaussian mixtures `Σ_k w_k N(m_k, S_k)` in any dimension, with general SPD covariances: seeded
//! sampling, the log-density, closed-form moments and the mixture seen through a Gaussian channel
//! `α x1 + σ x0`, x0 ~ N(0, I), which is again a mixture `Σ_k w_k N(α m_k, α² S_k + σ² I)`
//! (MATH.md §1). The last one is what [`crate::field::oracle::GmmField`] integrates.

use std::f64::consts::{FRAC_1_SQRT_2, PI};
use std::path::{Path, PathBuf};

use nalgebra::{Cholesky, DMatrix};
use otto_ot::Matrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::error::{check_finite, Error, Result};

/// How far the mixture weights may sum from one (absolute) before [`GaussianMixture::new`] refuses
/// them; weights within it are rescaled to sum to one exactly.
pub const WEIGHT_SUM_TOLERANCE: f64 = 1e-9;

/// Why a JSON description of a Gaussian mixture is refused.
#[derive(Debug, thiserror::Error)]
pub enum MixtureJsonError {
    /// The file cannot be read.
    #[error("cannot read the file: {0}")]
    Unreadable(std::io::Error),
    /// The text is not a JSON object with exactly the three expected arrays.
    #[error("not a Gaussian-mixture document ({0}); expected {{\"weights\": [..], \"means\": [[..]], \"covariances\": [[[..]]]}}")]
    Format(String),
    /// The arrays do not describe a valid mixture (ragged rows, weights not summing to one, a
    /// covariance that is not symmetric positive definite, …).
    #[error(transparent)]
    Invalid(#[from] Error),
}

/// A [`MixtureJsonError`] in a named file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", path.display())]
pub struct MixtureFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub error: MixtureJsonError,
}

/// A Gaussian mixture `p(x) = Σ_k w_k N(x; m_k, S_k)` with K components in dimension d.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    weights: Vec<f64>,
    means: Matrix,
    covariances: Vec<Matrix>,
    /// Lower Cholesky factors of the S_k, each d×d row-major, concatenated.
    factors: Vec<f64>,
}

impl GaussianMixture {
    /// The mixture with weights `weights` (K, non-negative, summing to one within
    /// [`WEIGHT_SUM_TOLERANCE`]), means the rows of `means` (K×d) and covariances `covariances`
    /// (K symmetric positive definite d×d matrices; symmetric to 1e-10 relative, then symmetrized).
    ///
    /// Errors: [`Error::Empty`], [`Error::Shape`], [`Error::NonFinite`], [`Error::NegativeWeight`],
    /// [`Error::NotNormalized`] (with the sum), [`Error::NotPositiveDefinite`] (naming the component).
    pub fn new(weights: &[f64], means: &Matrix, covariances: &[Matrix]) -> Result<Self> {
        let (k, d) = means.shape();
        if k == 0 || d == 0 {
            return Err(Error::Empty {
                what: "mixture means",
            });
        }
        for (what, len) in [
            ("mixture weights", weights.len()),
            ("mixture covariances", covariances.len()),
        ] {
            if len != k {
                return Err(Error::Shape {
                    what,
                    expected: format!("{k} entries (one per row of the means)"),
                    got: format!("{len} entries"),
                });
            }
        }
        check_finite("mixture weights", weights)?;
        check_finite("mixture means", means.as_slice())?;
        if let Some((index, &value)) = weights.iter().enumerate().find(|(_, w)| **w < 0.0) {
            return Err(Error::NegativeWeight {
                what: "mixture weights",
                index,
                value,
            });
        }
        let sum: f64 = weights.iter().sum();
        if (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
            return Err(Error::NotNormalized {
                what: "mixture weights",
                sum,
            });
        }
        let mut symmetric = Vec::with_capacity(k);
        let mut factors = Vec::with_capacity(k * d * d);
        for (c, cov) in covariances.iter().enumerate() {
            if cov.shape() != (d, d) {
                return Err(Error::Shape {
                    what: "mixture covariance",
                    expected: format!("{d}×{d} (the dimension of the means)"),
                    got: format!("{}×{} (component {c})", cov.rows(), cov.cols()),
                });
            }
            check_finite("mixture covariance", cov.as_slice())?;
            let not_spd = |reason| Error::NotPositiveDefinite {
                what: format!("covariance of mixture component {c} ({reason})"),
                kind: "",
            };
            let s = DMatrix::from_row_slice(d, d, cov.as_slice());
            let scale = s.amax().max(f64::MIN_POSITIVE);
            if (&s - s.transpose()).amax() > 1e-10 * scale {
                return Err(not_spd("not symmetric"));
            }
            let s = (&s + s.transpose()) * 0.5;
            let l = Cholesky::new(s.clone())
                .ok_or_else(|| not_spd("its Cholesky factorization fails"))?
                .unpack();
            factors.extend(l.transpose().iter());
            symmetric
                .push(Matrix::new(d, d, s.transpose().iter().copied().collect()).expect("d×d"));
        }
        Ok(Self {
            weights: weights.iter().map(|w| w / sum).collect(),
            means: means.clone(),
            covariances: symmetric,
            factors,
        })
    }

    /// The mixture with one shared isotropic covariance `variance · I` (`variance > 0`).
    pub fn isotropic(weights: &[f64], means: &Matrix, variance: f64) -> Result<Self> {
        crate::error::ensure(
            variance > 0.0 && variance.is_finite(),
            "variance",
            variance,
            "must be positive and finite",
        )?;
        let d = means.cols();
        let cov = Matrix::from_fn(d, d, |i, j| if i == j { variance } else { 0.0 });
        Self::new(weights, means, &vec![cov; means.rows()])
    }

    /// torchcfm's `8gaussians` as a mixture (the same law as [`crate::data::Toy::EightGaussians`]):
    /// equal weights, means 5·{(±1, 0), (0, ±1), (±1/√2, ±1/√2)}, covariance √0.1·I.
    pub fn eight_gaussians() -> Self {
        Self::octagon(5.0, 0.1f64.sqrt())
    }

    /// The torchcfm runner's `8gaussians` as a mixture (the same law as
    /// [`crate::data::Toy::DsbEightGaussians`]): equal weights, means on the circle of radius 12 at
    /// the vertices of the octagon, covariance 1.5²·I.
    pub fn dsb_eight_gaussians() -> Self {
        Self::octagon(12.0, 1.5 * 1.5)
    }

    /// The torchcfm runner's `gaussians` (torchdyn's generator) as a mixture (the law of
    /// [`crate::data::Toy::TorchdynEightGaussians`], whose samples fill the modes equally): equal
    /// weights, means on the circle of radius 5 at the vertices of the octagon, covariance I.
    pub fn torchdyn_eight_gaussians() -> Self {
        Self::octagon(5.0, 1.0)
    }

    /// The equal mixture of N(radius·c, variance·I) over the octagon's vertices c in torchcfm's
    /// order (±1, 0), (0, ±1), (±1/√2, ±1/√2).
    fn octagon(radius: f64, variance: f64) -> Self {
        let r = FRAC_1_SQRT_2;
        let centres = [
            [1.0, 0.0],
            [-1.0, 0.0],
            [0.0, 1.0],
            [0.0, -1.0],
            [r, r],
            [r, -r],
            [-r, r],
            [-r, -r],
        ];
        let means = Matrix::from_fn(8, 2, |k, j| radius * centres[k][j]);
        Self::isotropic(&[0.125; 8], &means, variance).expect("valid by construction")
    }

    /// The standard normal N(0, I_d) as a one-component mixture.
    pub fn standard_normal(dim: usize) -> Self {
        Self::isotropic(&[1.0], &Matrix::zeros(1, dim), 1.0).expect("valid for dim ≥ 1")
    }

    /// The law of `x + σ ε`, x from this mixture and ε ~ N(0, I) independent:
    /// `Σ_k w_k N(m_k, S_k + σ² I)`.
    pub fn convolved(&self, sigma: f64) -> Result<Self> {
        let covariances: Vec<Matrix> = self
            .covariances
            .iter()
            .map(|s| {
                Matrix::from_fn(self.dim(), self.dim(), |i, j| {
                    s.get(i, j) + if i == j { sigma * sigma } else { 0.0 }
                })
            })
            .collect();
        Self::new(&self.weights, &self.means, &covariances)
    }

    /// Reads a mixture from a JSON document
    /// `{"weights": [w_1, …], "means": [[m_11, …], …], "covariances": [[[S_1 row 1], …], …]}`
    /// (K weights, K means of length d, K covariances d×d, any d), validated by
    /// [`GaussianMixture::new`]. Unknown keys are refused.
    pub fn from_json_str(text: &str) -> std::result::Result<Self, MixtureJsonError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Document {
            weights: Vec<f64>,
            means: Vec<Vec<f64>>,
            covariances: Vec<Vec<Vec<f64>>>,
        }
        let doc: Document =
            serde_json::from_str(text).map_err(|e| MixtureJsonError::Format(e.to_string()))?;
        let means = Matrix::from_rows(&doc.means)?;
        let covariances = doc
            .covariances
            .iter()
            .map(|rows| Matrix::from_rows(rows))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::new(&doc.weights, &means, &covariances)?)
    }

    /// Reads a mixture from a JSON file in the format of [`GaussianMixture::from_json_str`]; the
    /// error names the file and the problem.
    pub fn from_json_file(path: impl AsRef<Path>) -> std::result::Result<Self, MixtureFileError> {
        let path = path.as_ref();
        let fail = |error| MixtureFileError {
            path: path.to_path_buf(),
            error,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(MixtureJsonError::Unreadable(e)))?;
        Self::from_json_str(&text).map_err(fail)
    }

    /// The number of components K.
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        self.means.cols()
    }

    /// The weights w_k (summing to one).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The means m_k, one per row (K×d).
    pub fn means(&self) -> &Matrix {
        &self.means
    }

    /// The covariances S_k.
    pub fn covariances(&self) -> &[Matrix] {
        &self.covariances
    }

    /// The mean `Σ_k w_k m_k`.
    pub fn mean(&self) -> Vec<f64> {
        let mut mean = vec![0.0; self.dim()];
        for (k, w) in self.weights.iter().enumerate() {
            for (m, v) in mean.iter_mut().zip(self.means.row(k)) {
                *m += w * v;
            }
        }
        mean
    }

    /// The covariance `Σ_k w_k (S_k + m_k m_kᵀ) − μ μᵀ`, μ the mean (law of total covariance).
    pub fn covariance(&self) -> Matrix {
        let mu = self.mean();
        Matrix::from_fn(self.dim(), self.dim(), |i, j| {
            let second: f64 = (0..self.components())
                .map(|k| {
                    let m = self.means.row(k);
                    self.weights[k] * (self.covariances[k].get(i, j) + m[i] * m[j])
                })
                .sum();
            second - mu[i] * mu[j]
        })
    }

    /// `n` points (n×d), reproducible from `seed`: a component k with probability w_k, then
    /// `m_k + L_k z`, `L_k L_kᵀ = S_k`, z ~ N(0, I).
    pub fn sample(&self, n: usize, seed: u64) -> Matrix {
        let d = self.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut z = vec![0.0; d];
        let mut points = Matrix::zeros(n, d);
        for i in 0..n {
            let u: f64 = rng.gen();
            let mut k = 0;
            let mut cumulative = self.weights[0];
            while u >= cumulative && k + 1 < self.components() {
                k += 1;
                cumulative += self.weights[k];
            }
            z.iter_mut().for_each(|z| *z = rng.sample(StandardNormal));
            let l = &self.factors[k * d * d..(k + 1) * d * d];
            let m = self.means.row(k);
            for (a, x) in points.row_mut(i).iter_mut().enumerate() {
                *x = m[a] + (0..=a).map(|b| l[a * d + b] * z[b]).sum::<f64>();
            }
        }
        points
    }

    /// `log p(x_i)` for every row of `x` (n×d), in nats. Panics if `x` has the wrong width.
    pub fn log_density(&self, x: &Matrix) -> Vec<f64> {
        self.noised(1.0, 0.0).log_density(x)
    }

    /// The law of `α x1 + σ x0`, x1 ~ this mixture, x0 ~ N(0, I) independent:
    /// `Σ_k w_k N(α m_k, α² S_k + σ² I)`, factorized for evaluation. Panics if α = σ = 0.
    pub(crate) fn noised(&self, alpha: f64, sigma: f64) -> NoisedMixture<'_> {
        let (k, d) = (self.components(), self.dim());
        let mut factors = Vec::with_capacity(k * d * d);
        let mut log_normalizers = Vec::with_capacity(k);
        for (c, cov) in self.covariances.iter().enumerate() {
            let s = DMatrix::from_fn(d, d, |i, j| {
                alpha * alpha * cov.get(i, j) + if i == j { sigma * sigma } else { 0.0 }
            });
            let l = Cholesky::new(s)
                .expect("α² S + σ² I is positive definite unless α = σ = 0")
                .unpack();
            let log_det: f64 = 2.0 * (0..d).map(|i| l[(i, i)].ln()).sum::<f64>();
            log_normalizers
                .push(self.weights[c].ln() - 0.5 * log_det - 0.5 * d as f64 * (2.0 * PI).ln());
            factors.extend(l.transpose().iter());
        }
        NoisedMixture {
            mixture: self,
            alpha,
            factors,
            log_normalizers,
        }
    }
}

/// A Gaussian mixture seen through the channel `α x1 + σ x0`: components N(α m_k, Σ_k),
/// `Σ_k = α² S_k + σ² I`, with Cholesky factors of the Σ_k.
pub(crate) struct NoisedMixture<'a> {
    mixture: &'a GaussianMixture,
    alpha: f64,
    /// Lower Cholesky factors of the Σ_k, each d×d row-major, concatenated.
    factors: Vec<f64>,
    /// `log w_k − ½ log det Σ_k − (d/2) log 2π`.
    log_normalizers: Vec<f64>,
}

impl NoisedMixture<'_> {
    /// For one point x: writes `z_k = Σ_k⁻¹ (x − α m_k)` into `z` (K·d, component-major) and the
    /// responsibilities `γ_k = w_k N(x; α m_k, Σ_k) / p(x)` into `gamma` (K); returns `log p(x)`.
    pub(crate) fn posterior(&self, x: &[f64], z: &mut [f64], gamma: &mut [f64]) -> f64 {
        let d = x.len();
        for (k, (zk, g)) in z.chunks_exact_mut(d).zip(gamma.iter_mut()).enumerate() {
            let m = self.mixture.means.row(k);
            for (a, r) in zk.iter_mut().enumerate() {
                *r = x[a] - self.alpha * m[a];
            }
            // y = L⁻¹ (x − α m), so ‖y‖² = rᵀ Σ⁻¹ r; then z = L⁻ᵀ y.
            self.forward_substitute(k, zk);
            let quad: f64 = zk.iter().map(|y| y * y).sum();
            self.back_substitute(k, zk);
            *g = self.log_normalizers[k] - 0.5 * quad;
        }
        let top = gamma.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = gamma.iter().map(|g| (g - top).exp()).sum();
        let log_p = top + total.ln();
        gamma.iter_mut().for_each(|g| *g = (*g - log_p).exp());
        log_p
    }

    /// `r ← Σ_k⁻¹ r` for component k (two triangular solves with its Cholesky factor).
    pub(crate) fn solve(&self, k: usize, r: &mut [f64]) {
        self.forward_substitute(k, r);
        self.back_substitute(k, r);
    }

    /// `r ← L_k⁻¹ r`, L_k the lower Cholesky factor of Σ_k (forward substitution).
    fn forward_substitute(&self, k: usize, r: &mut [f64]) {
        let d = r.len();
        let l = &self.factors[k * d * d..(k + 1) * d * d];
        for a in 0..d {
            let dot: f64 = (0..a).map(|b| l[a * d + b] * r[b]).sum();
            r[a] = (r[a] - dot) / l[a * d + a];
        }
    }

    /// `r ← L_k⁻ᵀ r` (back substitution).
    fn back_substitute(&self, k: usize, r: &mut [f64]) {
        let d = r.len();
        let l = &self.factors[k * d * d..(k + 1) * d * d];
        for a in (0..d).rev() {
            let dot: f64 = (a + 1..d).map(|b| l[b * d + a] * r[b]).sum();
            r[a] = (r[a] - dot) / l[a * d + a];
        }
    }

    /// `log p(x_i)` for every row of `x`, in parallel over rows.
    pub(crate) fn log_density(&self, x: &Matrix) -> Vec<f64> {
        let (k, d) = (self.mixture.components(), self.mixture.dim());
        assert_eq!(
            x.cols(),
            d,
            "points of dimension {} for a mixture in dimension {d}",
            x.cols()
        );
        x.as_slice()
            .par_chunks(d)
            .map_init(
                || (vec![0.0; k * d], vec![0.0; k]),
                |(z, gamma), row| self.posterior(row, z, gamma),
            )
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn three_component() -> GaussianMixture {
        let means = Matrix::from_rows(&[vec![2.0, 0.5], vec![-1.5, 1.0], vec![0.0, -2.0]]).unwrap();
        let covs = [
            Matrix::from_rows(&[vec![0.3, 0.1], vec![0.1, 0.2]]).unwrap(),
            Matrix::from_rows(&[vec![0.5, -0.2], vec![-0.2, 0.4]]).unwrap(),
            Matrix::from_rows(&[vec![0.15, 0.0], vec![0.0, 0.6]]).unwrap(),
        ];
        GaussianMixture::new(&[0.5, 0.3, 0.2], &means, &covs).unwrap()
    }

    #[test]
    fn log_density_matches_the_formula() {
        // Truth: Σ_k w_k (2π)^(-d/2) det(S_k)^(-1/2) exp(−½ rᵀ S_k⁻¹ r) written out with the 2×2
        // inverse and determinant by hand; f64 round-off only (tolerance 1e-12).
        let gmm = three_component();
        let x = Matrix::from_rows(&[vec![0.3, -0.7], vec![2.1, 0.4], vec![-4.0, 3.0]]).unwrap();
        let got = gmm.log_density(&x);
        for (i, got) in got.iter().enumerate() {
            let p: f64 = (0..3)
                .map(|k| {
                    let s = &gmm.covariances()[k];
                    let (a, b, c) = (s.get(0, 0), s.get(0, 1), s.get(1, 1));
                    let det = a * c - b * b;
                    let r = [
                        x.get(i, 0) - gmm.means().get(k, 0),
                        x.get(i, 1) - gmm.means().get(k, 1),
                    ];
                    let q = (c * r[0] * r[0] - 2.0 * b * r[0] * r[1] + a * r[1] * r[1]) / det;
                    gmm.weights()[k] * (-0.5 * q).exp() / (2.0 * PI * det.sqrt())
                })
                .sum();
            assert!((got - p.ln()).abs() < 1e-12, "{got} vs {}", p.ln());
        }
    }

    #[test]
    fn samples_have_the_closed_form_moments() {
        // Truth: mean Σ w m and covariance Σ w (S + m mᵀ) − μμᵀ (law of total covariance).
        // 200 000 samples: standard error of a mean ≈ √(var/n) ≤ 1.6/447 ≈ 3.6e-3 and of a
        // covariance entry ≈ √((σ_ii σ_jj + σ_ij²)/n)·√(kurtosis factor ≈ 2) ≲ 1e-2; tolerance 5 s.e.
        let gmm = three_component();
        let x = gmm.sample(200_000, 7);
        assert_eq!(x, gmm.sample(200_000, 7));
        let (mean, cov) = (gmm.mean(), gmm.covariance());
        let n = x.rows() as f64;
        let emp_mean: Vec<f64> = (0..2)
            .map(|j| (0..x.rows()).map(|i| x.get(i, j)).sum::<f64>() / n)
            .collect();
        for j in 0..2 {
            assert!(
                (emp_mean[j] - mean[j]).abs() < 0.02,
                "{emp_mean:?} vs {mean:?}"
            );
            for l in 0..2 {
                let c = (0..x.rows())
                    .map(|i| (x.get(i, j) - emp_mean[j]) * (x.get(i, l) - emp_mean[l]))
                    .sum::<f64>()
                    / n;
                assert!(
                    (c - cov.get(j, l)).abs() < 0.05,
                    "cov {j}{l}: {c} vs {}",
                    cov.get(j, l)
                );
            }
        }
    }

    #[test]
    fn eight_gaussians_agrees_with_the_toy_variance() {
        // Truth: the toy's documented per-coordinate variance 25/2 + √0.1 (data/toy.rs).
        let cov = GaussianMixture::eight_gaussians().covariance();
        assert!((cov.get(0, 0) - (12.5 + 0.1f64.sqrt())).abs() < 1e-12);
        assert!(cov.get(0, 1).abs() < 1e-12);
    }

    #[test]
    fn json_documents_round_trip_and_bad_ones_are_named() {
        // Truth: the document written from `three_component`'s own arrays reads back equal; each
        // bad document fails with the error that names its problem.
        let gmm = three_component();
        let rows = |m: &Matrix| (0..m.rows()).map(|i| m.row(i).to_vec()).collect::<Vec<_>>();
        let doc = serde_json::json!({
            "weights": gmm.weights(),
            "means": rows(gmm.means()),
            "covariances": gmm.covariances().iter().map(rows).collect::<Vec<_>>(),
        });
        assert_eq!(
            GaussianMixture::from_json_str(&doc.to_string()).unwrap(),
            gmm
        );
        let base =
            r#""means": [[0, 0], [1, 1]], "covariances": [[[1, 0], [0, 1]], [[1, 0], [0, 1]]]"#;
        let err = |text: &str| {
            GaussianMixture::from_json_str(text)
                .unwrap_err()
                .to_string()
        };
        assert!(
            err(&format!(r#"{{"weights": [0.5, 0.6], {base}}}"#)).contains("sum"),
            "weights"
        );
        let not_spd = r#"{"weights": [1], "means": [[0, 0]], "covariances": [[[1, 2], [2, 1]]]}"#;
        assert!(err(not_spd).contains("component 0"), "{}", err(not_spd));
        let ragged = r#"{"weights": [1], "means": [[0, 0]], "covariances": [[[1, 0], [0]]]}"#;
        assert!(err(ragged).contains("columns"), "{}", err(ragged));
        let unknown = format!(r#"{{"weights": [0.5, 0.5], "mean": [], {base}}}"#);
        assert!(err(&unknown).contains("unknown field"), "{}", err(&unknown));
        let missing = GaussianMixture::from_json_file("/nonexistent/mixture.json").unwrap_err();
        assert!(missing
            .to_string()
            .starts_with("/nonexistent/mixture.json: cannot read"));
    }

    #[test]
    fn bad_inputs_are_named() {
        let means = Matrix::from_rows(&[vec![0.0, 0.0], vec![1.0, 1.0]]).unwrap();
        let id = Matrix::from_rows(&[vec![1.0, 0.0], vec![0.0, 1.0]]).unwrap();
        let err = GaussianMixture::new(&[0.5, 0.6], &means, &[id.clone(), id.clone()]).unwrap_err();
        assert!(matches!(err, Error::NotNormalized { sum, .. } if (sum - 1.1).abs() < 1e-12));
        assert!(err.to_string().contains("off by 1.000e-1"), "{err}");
        let bad = Matrix::from_rows(&[vec![1.0, 2.0], vec![2.0, 1.0]]).unwrap();
        let err = GaussianMixture::new(&[0.5, 0.5], &means, &[id.clone(), bad]).unwrap_err();
        assert!(err.to_string().contains("component 1"), "{err}");
        let asym = Matrix::from_rows(&[vec![1.0, 0.5], vec![0.0, 1.0]]).unwrap();
        assert!(matches!(
            GaussianMixture::new(&[0.5, 0.5], &means, &[asym, id.clone()]),
            Err(Error::NotPositiveDefinite { what, .. }) if what.contains("not symmetric")
        ));
        assert!(matches!(
            GaussianMixture::new(&[0.5, 0.5], &means, std::slice::from_ref(&id)),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            GaussianMixture::new(&[1.5, -0.5], &means, &[id.clone(), id]),
            Err(Error::NegativeWeight { index: 1, .. })
        ));
    }
}

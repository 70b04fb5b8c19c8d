//! Built-in data sets, seedable, defined as the reference implementations define them so that
//! numbers computed with otto compare with numbers computed with torchcfm:
//!
//! | name | definition | source |
//! |---|---|---|
//! | `gaussian`, `gaussian:d` | N(0, I_d) (d = 2 unless given) | torchcfm examples (`torch.randn`) |
//! | `8gaussians` | eight Gaussians on the circle of radius 5, covariance √0.1·I | torchcfm `torchcfm/utils.py` |
//! | `moons` | torchdyn's two moons with noise 0.2, then 3x − 1 | torchcfm `torchcfm/utils.py` + torchdyn |
//! | `dsb-moons` | scikit-learn's moons (noise 0.1), standardized (one scalar mean and sd), times 7 | torchcfm `runner/.../two_dim.py` |
//! | `dsb-8gaussians` | eight Gaussians on the circle of radius 12, standard deviation 1.5 | torchcfm `runner/.../two_dim.py` |
//! | `torchdyn-8gaussians` | eight equally filled Gaussians on the circle of radius 5, standard deviation 1 | torchcfm `runner/.../distribution_datamodule.py` + torchdyn |
//! | `circles` | scikit-learn's circles (factor ½, noise 0.05), times 3.5 | torchcfm `runner/.../distribution_datamodule.py` |
//! | `scurve` | scikit-learn's S curve (noise 0.05), coordinates (0, 2), times 1.5 | torchcfm `runner/.../distribution_datamodule.py` |
//! | `swissroll` | scikit-learn's swiss roll (noise 1), coordinates (0, 2), divided by 5 | FFJORD `lib/toy_data.py` |
//! | `rings` | four concentric circles, radii 3·{1, ¾, ½, ¼}, noise 0.08 | FFJORD `lib/toy_data.py` |
//! | `2spirals` | two interleaved spirals | FFJORD `lib/toy_data.py` |
//! | `pinwheel` | five curved arms | FFJORD `lib/toy_data.py` |
//! | `checkerboard` | uniform on the eight dark squares of a 4×4 board of side 8 | FFJORD `lib/toy_data.py` |
//! | `drifting-checkerboard` | eight cells of a 4×4 grid on [−1, 1]², plus 0.05·N(0, I) | Deng et al. 2026, toy notebook |
//! | `drifting-swissroll` | a swiss roll scaled into the unit disk, plus 0.03·N(0, I) | Deng et al. 2026, toy notebook |
//!
//! The exact formulas are on each generator in [`mixture`] and [`curve`]. The random streams are
//! otto's own (ChaCha8 from `seed`), so samples equal torchcfm's in distribution, not bit for bit.

pub mod curve;
pub mod mixture;

use std::str::FromStr;

use otto_ot::Matrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::GaussianMixture;

/// A built-in data set. All are 2-D except [`Toy::Gaussian`], which has any dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toy {
    /// The standard normal N(0, I_d) in dimension `dim`.
    Gaussian {
        /// The dimension d ≥ 1.
        dim: usize,
    },
    /// Eight Gaussians on a circle of radius 5 (torchcfm); see [`mixture::eight_gaussians`].
    EightGaussians,
    /// Two interleaving half circles (torchcfm via torchdyn); see [`curve::moons`].
    Moons,
    /// torchcfm runner's moons (scikit-learn, noise 0.05, ×2, x − 1), the SF2M benchmarks' data;
    /// see [`curve::sklearn_moons`].
    SklearnMoons,
    /// torchcfm runner's moons of the `moon-8gaussians` benchmark (scikit-learn, noise 0.1,
    /// standardized, ×7); see [`curve::dsb_moons`].
    DsbMoons,
    /// torchcfm runner's 8 Gaussians of the `moon-8gaussians` benchmark (radius 12, sd 1.5); see
    /// [`mixture::dsb_eight_gaussians`].
    DsbEightGaussians,
    /// torchcfm runner's `gaussians` (torchdyn: radius 5, sd 1, equal modes), the target of the
    /// SF2M benchmarks' N → 8gaussians; see [`mixture::torchdyn_eight_gaussians`].
    TorchdynEightGaussians,
    /// Two concentric circles (torchcfm runner via scikit-learn); see [`curve::circles`].
    Circles,
    /// The S curve seen from the side (torchcfm runner via scikit-learn); see [`curve::s_curve`].
    SCurve,
    /// The swiss roll seen from its axis (FFJORD); see [`curve::swiss_roll`].
    SwissRoll,
    /// Four concentric rings (FFJORD); see [`curve::rings`].
    Rings,
    /// Two interleaved spirals (FFJORD); see [`curve::two_spirals`].
    TwoSpirals,
    /// Five curved arms (FFJORD); see [`mixture::pinwheel`].
    Pinwheel,
    /// A checkerboard of eight squares (FFJORD); see [`mixture::checkerboard`].
    Checkerboard,
    /// The drifting paper's checkerboard; see [`mixture::drifting_checkerboard`].
    DriftingCheckerboard,
    /// The drifting paper's swiss roll; see [`curve::drifting_swiss_roll`].
    DriftingSwissRoll,
}

/// Why a string does not name a built-in data set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseToyError {
    /// The name is not one of the built-in data sets; the message lists them.
    #[error("unknown data set '{0}'; built-in data sets are: {list}", list = Toy::NAMES.join(", "))]
    Unknown(String),
    /// `gaussian:d` with a `d` that is not a positive integer.
    #[error("bad dimension in '{0}': write gaussian:d with d a positive integer, e.g. gaussian:8")]
    Dimension(String),
    /// A dimension was given for a data set that is 2-D only.
    #[error("'{0}': only gaussian takes a dimension (gaussian:d); {1} is 2-D")]
    FixedDimension(String, &'static str),
}

impl Toy {
    /// Every built-in name, as accepted by [`FromStr`] (`gaussian` also as `gaussian:d`).
    pub const NAMES: [&'static str; 16] = [
        "gaussian",
        "8gaussians",
        "moons",
        "sk-moons",
        "dsb-moons",
        "dsb-8gaussians",
        "torchdyn-8gaussians",
        "circles",
        "scurve",
        "swissroll",
        "rings",
        "2spirals",
        "pinwheel",
        "checkerboard",
        "drifting-checkerboard",
        "drifting-swissroll",
    ];

    /// The name used on the command line (`gaussian:d` for a Gaussian with d ≠ 2).
    pub fn name(&self) -> String {
        match self {
            Toy::Gaussian { dim: 2 } => "gaussian".to_string(),
            Toy::Gaussian { dim } => format!("gaussian:{dim}"),
            other => other.base_name().to_string(),
        }
    }

    fn base_name(&self) -> &'static str {
        match self {
            Toy::Gaussian { .. } => "gaussian",
            Toy::EightGaussians => "8gaussians",
            Toy::Moons => "moons",
            Toy::SklearnMoons => "sk-moons",
            Toy::DsbMoons => "dsb-moons",
            Toy::DsbEightGaussians => "dsb-8gaussians",
            Toy::TorchdynEightGaussians => "torchdyn-8gaussians",
            Toy::Circles => "circles",
            Toy::SCurve => "scurve",
            Toy::SwissRoll => "swissroll",
            Toy::Rings => "rings",
            Toy::TwoSpirals => "2spirals",
            Toy::Pinwheel => "pinwheel",
            Toy::Checkerboard => "checkerboard",
            Toy::DriftingCheckerboard => "drifting-checkerboard",
            Toy::DriftingSwissRoll => "drifting-swissroll",
        }
    }

    /// The dimension of the points.
    pub fn dim(&self) -> usize {
        match self {
            Toy::Gaussian { dim } => *dim,
            _ => 2,
        }
    }

    /// The data set's law as a Gaussian mixture, when it is one: `gaussian:d` (N(0, I_d)),
    /// `8gaussians`, `dsb-8gaussians` and `torchdyn-8gaussians` (whose equal mode counts make a
    /// sample stratified, not i.i.d., from the mixture); `None` for the others, whose densities otto does not
    /// know in closed form.
    pub fn mixture(&self) -> Option<GaussianMixture> {
        match self {
            Toy::Gaussian { dim } => Some(GaussianMixture::standard_normal(*dim)),
            Toy::EightGaussians => Some(GaussianMixture::eight_gaussians()),
            Toy::DsbEightGaussians => Some(GaussianMixture::dsb_eight_gaussians()),
            Toy::TorchdynEightGaussians => Some(GaussianMixture::torchdyn_eight_gaussians()),
            _ => None,
        }
    }

    /// `n` points (n × [`Toy::dim`]), reproducible from `seed`. Row order follows the reference
    /// implementation: `moons` lists the upper moon first (torchdyn does not shuffle) and
    /// `2spirals` the first spiral first (FFJORD does not shuffle); the others come in random
    /// order. Shuffle or split ([`crate::data::split`]) before taking a prefix of the rows.
    pub fn sample(&self, n: usize, seed: u64) -> Matrix {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let points = match self {
            Toy::Gaussian { dim } => return mixture::gaussian(n, *dim, &mut rng),
            Toy::EightGaussians => mixture::eight_gaussians(n, &mut rng),
            Toy::Moons => curve::moons(n, &mut rng),
            Toy::SklearnMoons => curve::sklearn_moons(n, &mut rng),
            Toy::DsbMoons => curve::dsb_moons(n, &mut rng),
            Toy::DsbEightGaussians => mixture::dsb_eight_gaussians(n, &mut rng),
            Toy::TorchdynEightGaussians => mixture::torchdyn_eight_gaussians(n, &mut rng),
            Toy::Circles => curve::circles(n, &mut rng),
            Toy::SCurve => curve::s_curve(n, &mut rng),
            Toy::SwissRoll => curve::swiss_roll(n, &mut rng),
            Toy::Rings => curve::rings(n, &mut rng),
            Toy::TwoSpirals => curve::two_spirals(n, &mut rng),
            Toy::Pinwheel => mixture::pinwheel(n, &mut rng),
            Toy::Checkerboard => mixture::checkerboard(n, &mut rng),
            Toy::DriftingCheckerboard => mixture::drifting_checkerboard(n, &mut rng),
            Toy::DriftingSwissRoll => curve::drifting_swiss_roll(n, &mut rng),
        };
        Matrix::from_fn(n, 2, |i, j| points[i][j])
    }
}

impl Toy {
    /// The built-in data sets that carry class labels.
    pub const LABELLED: [&'static str; 6] = [
        "8gaussians",
        "dsb-8gaussians",
        "torchdyn-8gaussians",
        "moons",
        "checkerboard",
        "drifting-checkerboard",
    ];

    /// `n` points and their classes, reproducible from `seed` (the same points as
    /// [`Toy::sample`]): the mode (0..8) of `8gaussians`, `dsb-8gaussians` and
    /// `torchdyn-8gaussians`, the moon of
    /// `moons` (0 upper, 1 lower), the square of `checkerboard` (2·column + ⌊row/2⌋, 0..8, from
    /// the point: its squares have no noise) and the drawn cell of `drifting-checkerboard`
    /// (0..8). Returns the classes' count too; `None` for the unlabelled sets.
    pub fn sample_labelled(&self, n: usize, seed: u64) -> Option<(Matrix, Vec<usize>, usize)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (pairs, classes): (Vec<([f64; 2], usize)>, usize) = match self {
            Toy::EightGaussians => (
                mixture::labelled_octagon_mixture(n, 5.0, 0.1f64.sqrt().sqrt(), &mut rng),
                8,
            ),
            Toy::DsbEightGaussians => {
                (mixture::labelled_octagon_mixture(n, 12.0, 1.5, &mut rng), 8)
            }
            Toy::TorchdynEightGaussians => {
                (mixture::labelled_torchdyn_eight_gaussians(n, &mut rng), 8)
            }
            Toy::DriftingCheckerboard => (mixture::labelled_drifting_checkerboard(n, &mut rng), 8),
            Toy::Moons | Toy::Checkerboard => {
                let points = self.sample(n, seed);
                let labels = (0..n)
                    .map(|i| match self {
                        // torchdyn's order: the ⌊n/2⌋ upper-moon points first.
                        Toy::Moons => usize::from(i >= n / 2),
                        _ => {
                            let cell = |v: f64| ((v / 2.0).floor() + 2.0) as usize;
                            2 * cell(points.get(i, 0)) + cell(points.get(i, 1)) / 2
                        }
                    })
                    .collect();
                let classes = if *self == Toy::Moons { 2 } else { 8 };
                return Some((points, labels, classes));
            }
            _ => return None,
        };
        let points = Matrix::from_fn(n, 2, |i, j| pairs[i].0[j]);
        Some((points, pairs.into_iter().map(|(_, c)| c).collect(), classes))
    }
}

impl FromStr for Toy {
    type Err = ParseToyError;

    /// Parses a name from [`Toy::NAMES`] (case-insensitive; `normal` is an alias of `gaussian`),
    /// optionally followed by `:d` for a Gaussian in dimension d.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (name, dim) = match text.split_once(':') {
            Some((name, dim)) => (name.trim(), Some(dim.trim())),
            None => (text, None),
        };
        let toy = match name.to_ascii_lowercase().as_str() {
            "gaussian" | "normal" => {
                let dim = match dim {
                    None => 2,
                    Some(d) => match d.parse::<usize>() {
                        Ok(d) if d > 0 => d,
                        _ => return Err(ParseToyError::Dimension(s.to_string())),
                    },
                };
                return Ok(Toy::Gaussian { dim });
            }
            "8gaussians" => Toy::EightGaussians,
            "moons" => Toy::Moons,
            "sk-moons" => Toy::SklearnMoons,
            "dsb-moons" => Toy::DsbMoons,
            "dsb-8gaussians" => Toy::DsbEightGaussians,
            "torchdyn-8gaussians" => Toy::TorchdynEightGaussians,
            "circles" => Toy::Circles,
            "scurve" => Toy::SCurve,
            "swissroll" => Toy::SwissRoll,
            "rings" => Toy::Rings,
            "2spirals" => Toy::TwoSpirals,
            "pinwheel" => Toy::Pinwheel,
            "checkerboard" => Toy::Checkerboard,
            "drifting-checkerboard" => Toy::DriftingCheckerboard,
            "drifting-swissroll" => Toy::DriftingSwissRoll,
            _ => return Err(ParseToyError::Unknown(s.to_string())),
        };
        match dim {
            None => Ok(toy),
            Some(_) => Err(ParseToyError::FixedDimension(
                s.to_string(),
                toy.base_name(),
            )),
        }
    }
}

impl std::fmt::Display for Toy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Column means and (population) variances of a point set, for the moment tests of the submodules.
#[cfg(test)]
pub(crate) fn moments(p: &Matrix) -> (Vec<f64>, Vec<f64>) {
    let n = p.rows() as f64;
    let mean: Vec<f64> = (0..p.cols())
        .map(|j| (0..p.rows()).map(|i| p.get(i, j)).sum::<f64>() / n)
        .collect();
    let var = (0..p.cols())
        .map(|j| {
            (0..p.rows())
                .map(|i| (p.get(i, j) - mean[j]).powi(2))
                .sum::<f64>()
                / n
        })
        .collect();
    (mean, var)
}

/// The mean squared norm `(1/n) Σ ‖x_i‖²`.
#[cfg(test)]
pub(crate) fn mean_square_norm(p: &Matrix) -> f64 {
    p.as_slice().iter().map(|v| v * v).sum::<f64>() / p.rows() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Toy> {
        let mut toys: Vec<Toy> = Toy::NAMES.iter().map(|n| n.parse().unwrap()).collect();
        toys.push(Toy::Gaussian { dim: 5 });
        toys
    }

    #[test]
    fn every_data_set_is_seeded_shaped_and_finite() {
        // Truth: `sample` is a pure function of (n, seed); n rows of the data set's dimension for
        // every n, including the small and odd sizes where the reference splits classes unevenly.
        for toy in all() {
            for n in [0, 1, 2, 3, 5, 7, 101] {
                let a = toy.sample(n, 11);
                assert_eq!(a.shape(), (n, toy.dim()), "{toy} n={n}");
                assert!(a.as_slice().iter().all(|v| v.is_finite()), "{toy} n={n}");
                assert_eq!(a, toy.sample(n, 11), "{toy} n={n}");
            }
            assert_ne!(toy.sample(50, 1), toy.sample(50, 2), "{toy}");
        }
    }

    #[test]
    fn mixtures_have_the_moments_of_the_samples() {
        // Truth: the sample moments of n = 200 000 draws of the generator. The standard error
        // of a mean is √(v/n), of a variance v·√((κ − 1)/n) with kurtosis κ ≤ 3 here (Gaussian
        // or a mixture of two-sided bumps), i.e. ≤ 0.0032 v; tolerance 5 s.e.
        for toy in all() {
            let Some(mixture) = toy.mixture() else {
                continue;
            };
            let n = 200_000;
            let (mean, var) = moments(&toy.sample(n, 3));
            let (truth_mean, cov) = (mixture.mean(), mixture.covariance());
            for (j, (m, v)) in mean.iter().zip(&var).enumerate() {
                let truth = cov.get(j, j);
                let se = (truth / n as f64).sqrt();
                assert!((m - truth_mean[j]).abs() < 5.0 * se, "{toy}: mean {m}");
                assert!(
                    (v - truth).abs() < 0.016 * truth,
                    "{toy}: variance {v} vs {truth}"
                );
            }
        }
        assert!(Toy::Moons.mixture().is_none());
    }

    #[test]
    fn names_round_trip() {
        for toy in all() {
            assert_eq!(toy.name().parse::<Toy>().unwrap(), toy);
        }
        assert_eq!("normal".parse::<Toy>().unwrap(), Toy::Gaussian { dim: 2 });
        assert_eq!(
            " Gaussian:8 ".parse::<Toy>().unwrap(),
            Toy::Gaussian { dim: 8 }
        );
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = "circle".parse::<Toy>().unwrap_err().to_string();
        for name in Toy::NAMES {
            assert!(err.contains(name), "{err}");
        }
        assert!(err.contains("'circle'"), "{err}");
        let err = "gaussian:0".parse::<Toy>().unwrap_err().to_string();
        assert!(err.contains("positive integer"), "{err}");
        let err = "moons:3".parse::<Toy>().unwrap_err().to_string();
        assert!(err.contains("only gaussian"), "{err}");
    }
}

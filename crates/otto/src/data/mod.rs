//! The data axis: where ρ₀ and ρ₁ come from. Point sets are [`otto_ot::Matrix`] values with one
//! point per row.
//!
//! - [`toy`]: the built-in data sets, defined as torchcfm (and FFJORD, torchdyn, scikit-learn)
//!   define them;
//! - [`file`](mod@file): the user's `.npy` and `.csv` files;
//! - [`split`]: train/test splits and resampling;
//! - [`DataSource`]: a built-in name or a file path, as a user writes it on the command line.

pub mod file;
pub mod gmm;
pub mod labels;
pub mod split;
pub mod toy;

use std::path::PathBuf;
use std::str::FromStr;

use otto_ot::Matrix;

pub use file::{FileError, Header};
pub use gmm::{GaussianMixture, MixtureFileError, MixtureJsonError};
pub use labels::{LabelError, Labelled};
pub use split::{Split, SplitError, TestSize, TrainTestSplit};
pub use toy::{ParseToyError, Toy};

/// Where a point set comes from: a built-in data set, or a file of points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A built-in data set (with its dimension, for `gaussian:d`).
    Toy(Toy),
    /// A `.npy` or `.csv` file, one point per row.
    File {
        /// The file.
        path: PathBuf,
        /// Whether a `.csv` file starts with a header row.
        header: Header,
    },
}

/// Why a string names neither a built-in data set nor a data file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}; or give the path of a .npy or .csv file")]
pub struct ParseDataSourceError(#[from] pub ParseToyError);

/// A dimension that does not match between the two sides of a problem (source and target).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dimension mismatch: {source_name} has dimension {source_dim} but {target_name} has dimension {target_dim}")]
pub struct DimensionMismatch {
    /// The name of the source (ρ₀) data.
    pub source_name: String,
    /// Its dimension.
    pub source_dim: usize,
    /// The name of the target (ρ₁) data.
    pub target_name: String,
    /// Its dimension.
    pub target_dim: usize,
}

/// Checks that the source and target point sets, each given with its name, have the same
/// dimension (number of columns).
pub fn check_dims(
    source: (&str, &Matrix),
    target: (&str, &Matrix),
) -> Result<(), DimensionMismatch> {
    if source.1.cols() == target.1.cols() {
        return Ok(());
    }
    Err(DimensionMismatch {
        source_name: source.0.to_string(),
        source_dim: source.1.cols(),
        target_name: target.0.to_string(),
        target_dim: target.1.cols(),
    })
}

impl FromStr for DataSource {
    type Err = ParseDataSourceError;

    /// A string ending in `.npy` or `.csv` (case-insensitive) is a file path (the header of a
    /// `.csv` is detected, [`Header::Auto`]); anything else must be a built-in name as
    /// [`Toy`] parses it (`moons`, `gaussian:8`, …).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let path = PathBuf::from(s.trim());
        if matches!(file::extension(&path).as_deref(), Some("npy" | "csv")) {
            return Ok(DataSource::File {
                path,
                header: Header::Auto,
            });
        }
        Ok(DataSource::Toy(s.parse()?))
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::Toy(toy) => write!(f, "{toy}"),
            DataSource::File { path, .. } => write!(f, "{}", path.display()),
        }
    }
}

impl DataSource {
    /// `n` draws from the source's distribution, reproducible from `seed`: fresh points of a
    /// built-in data set, or rows of the file drawn uniformly with replacement
    /// ([`split::bootstrap`]). A file is read on every call; to draw many times, read it once
    /// with [`DataSource::dataset`] and use [`split::bootstrap`].
    pub fn sample(&self, n: usize, seed: u64) -> Result<Matrix, FileError> {
        match self {
            DataSource::Toy(toy) => Ok(toy.sample(n, seed)),
            DataSource::File { .. } => {
                let rows = self.dataset(0, seed)?;
                Ok(split::bootstrap(&rows, n, seed)
                    .expect("a file that was read holds at least one row"))
            }
        }
    }

    /// The finite data set the source stands for: `toy_n` points of a built-in data set drawn
    /// with `seed`, or every row of the file in file order (`toy_n` and `seed` unused).
    pub fn dataset(&self, toy_n: usize, seed: u64) -> Result<Matrix, FileError> {
        match self {
            DataSource::Toy(toy) => Ok(toy.sample(toy_n, seed)),
            DataSource::File { path, header } => file::read_points_with(path, *header),
        }
    }

    /// The dimension, known without reading anything for a built-in data set.
    pub fn dim(&self) -> Option<usize> {
        match self {
            DataSource::Toy(toy) => Some(toy.dim()),
            DataSource::File { .. } => None,
        }
    }
}

/// A [`DataSource`] made ready for training and evaluation: a built-in sampler (fresh points on
/// every draw, held-out points from another seed), a finite training set drawn once from a
/// built-in sampler, or a file's rows split once into train and test rows (a reproducible
/// [`TrainTestSplit`] of `test_fraction`); finite sets are drawn from with replacement.
#[derive(Debug, Clone)]
pub enum Dataset {
    /// A built-in distribution.
    Toy(Toy),
    /// A built-in distribution seen through a finite training set (the finite-data regime of
    /// papers that train on, e.g., 10 000 points); held-out and evaluation points stay fresh.
    Finite {
        /// The distribution.
        toy: Toy,
        /// The points trained on.
        train: Matrix,
    },
    /// A file's rows.
    Rows {
        /// Rows trained on.
        train: Matrix,
        /// Held-out rows.
        test: Matrix,
    },
}

/// Why a data set could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// The split failed (too few rows).
    #[error(transparent)]
    Split(#[from] SplitError),
}

impl Dataset {
    /// Prepares `source`; a file is read once and split with `seed`.
    pub fn new(source: &DataSource, test_fraction: f64, seed: u64) -> Result<Self, DatasetError> {
        match source {
            DataSource::Toy(toy) => Ok(Dataset::Toy(*toy)),
            DataSource::File { .. } => {
                let rows = source.dataset(0, seed)?;
                let split = TrainTestSplit::new(TestSize::Fraction(test_fraction))
                    .seed(seed)
                    .split(&rows)?;
                Ok(Dataset::Rows {
                    train: split.train,
                    test: split.test,
                })
            }
        }
    }

    /// A built-in distribution trained through `n` points drawn once with `seed`
    /// ([`Dataset::Finite`]); `n = 0` keeps fresh points at every draw ([`Dataset::Toy`]).
    pub fn finite(toy: Toy, n: usize, seed: u64) -> Self {
        if n == 0 {
            Dataset::Toy(toy)
        } else {
            Dataset::Finite {
                toy,
                train: toy.sample(n, seed),
            }
        }
    }

    /// The dimension of the points.
    pub fn dim(&self) -> usize {
        match self {
            Dataset::Toy(toy) | Dataset::Finite { toy, .. } => toy.dim(),
            Dataset::Rows { train, .. } => train.cols(),
        }
    }

    /// `n` training points reproducible from `seed`: fresh points of a built-in distribution, or
    /// draws with replacement from a finite training set.
    pub fn draw(&self, n: usize, seed: u64) -> Matrix {
        match self {
            Dataset::Toy(toy) => toy.sample(n, seed),
            Dataset::Finite { train, .. } | Dataset::Rows { train, .. } => {
                split::bootstrap(train, n, seed).expect("a training set holds at least one row")
            }
        }
    }

    /// The built-in distribution behind the data set (`None` for the rows of a file).
    pub fn toy(&self) -> Option<Toy> {
        match self {
            Dataset::Toy(toy) | Dataset::Finite { toy, .. } => Some(*toy),
            Dataset::Rows { .. } => None,
        }
    }

    /// `n` points to push through a trained model (evaluation, plots): fresh points of a built-in
    /// distribution — also when training saw a finite set of it — or a file's training rows drawn
    /// with replacement.
    pub fn draw_fresh(&self, n: usize, seed: u64) -> Matrix {
        match self {
            Dataset::Toy(toy) | Dataset::Finite { toy, .. } => toy.sample(n, seed),
            Dataset::Rows { .. } => self.draw(n, seed),
        }
    }

    /// Held-out points: `n` fresh points of a built-in distribution (from `seed`), or the file's
    /// test rows (all of them, `n` ignored).
    pub fn held_out(&self, n: usize, seed: u64) -> Matrix {
        match self {
            Dataset::Toy(toy) | Dataset::Finite { toy, .. } => toy.sample(n, seed),
            Dataset::Rows { test, .. } => test.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_dimensions_and_paths() {
        assert_eq!(
            "moons".parse::<DataSource>().unwrap(),
            DataSource::Toy(Toy::Moons)
        );
        let g: DataSource = "gaussian:8".parse().unwrap();
        assert_eq!(
            (g.dim(), g.to_string()),
            (Some(8), "gaussian:8".to_string())
        );
        let f: DataSource = "runs/cells.CSV".parse().unwrap();
        assert_eq!(
            f,
            DataSource::File {
                path: PathBuf::from("runs/cells.CSV"),
                header: Header::Auto
            }
        );
        let e = "moon".parse::<DataSource>().unwrap_err().to_string();
        assert!(
            e.contains("'moon'") && e.contains("8gaussians") && e.contains(".npy or .csv"),
            "{e}"
        );
    }

    #[test]
    fn file_sources_give_their_rows_or_resample_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, "x,y,z\n1,2,3\n4,5,6\n").unwrap();
        let source: DataSource = path.to_str().unwrap().parse().unwrap();
        let rows = source.dataset(1000, 0).unwrap();
        assert_eq!(rows.as_slice(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let draws = source.sample(50, 7).unwrap();
        assert_eq!(draws.shape(), (50, 3));
        assert_eq!(draws, source.sample(50, 7).unwrap());
        assert!((0..50).all(|k| draws.row(k) == rows.row(0) || draws.row(k) == rows.row(1)));
        let toy = DataSource::Toy(Toy::Rings);
        assert_eq!(toy.sample(10, 3).unwrap(), Toy::Rings.sample(10, 3));
    }

    #[test]
    fn a_finite_training_set_is_drawn_from_and_evaluation_stays_fresh() {
        // Truth: the definition — every training draw is one of the n fixed points (drawn once
        // with the seed), while evaluation and held-out points come fresh from the distribution
        // (continuous: a fresh Gaussian point equals a training point with probability 0).
        let finite = Dataset::finite(Toy::Gaussian { dim: 3 }, 5, 9);
        let Dataset::Finite { train, .. } = &finite else {
            panic!("n > 0 gives a finite set")
        };
        assert_eq!(train, &Toy::Gaussian { dim: 3 }.sample(5, 9));
        let is_train = |row: &[f64]| (0..5).any(|k| train.row(k) == row);
        let draws = finite.draw(200, 1);
        assert!((0..200).all(|i| is_train(draws.row(i))));
        let distinct = (0..5)
            .filter(|&k| (0..200).any(|i| draws.row(i) == train.row(k)))
            .count();
        assert_eq!(distinct, 5, "200 draws with replacement reach all 5 points");
        for fresh in [finite.draw_fresh(50, 2), finite.held_out(50, 3)] {
            assert!((0..50).all(|i| !is_train(fresh.row(i))));
        }
        assert!(matches!(
            Dataset::finite(Toy::Moons, 0, 9),
            Dataset::Toy(Toy::Moons)
        ));
    }

    #[test]
    fn dimension_mismatch_names_both_sides() {
        let a = Matrix::zeros(3, 2);
        let b = Matrix::zeros(3, 5);
        assert!(check_dims(("moons", &a), ("8gaussians", &a)).is_ok());
        let e = check_dims(("moons", &a), ("cells.npy", &b))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "dimension mismatch: moons has dimension 2 but cells.npy has dimension 5"
        );
    }
}

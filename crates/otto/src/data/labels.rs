//! Labelled point sets for class-conditional models: a built-in labelled data set
//! ([`Toy::sample_labelled`]) or a file whose column K holds the class of each row.

use otto_ot::Matrix;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::file::{read_points_with, FileError};
use super::split::bootstrap;
use super::{DataSource, Toy};

/// Why a labelled set could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The built-in data set has no classes.
    #[error("'{name}' has no class labels; labelled built-in data sets are: {list}, or a .npy/.csv file with --label-column K", list = Toy::LABELLED.join(", "))]
    Unlabelled {
        /// The data set.
        name: String,
    },
    /// A built-in data set was given a label column.
    #[error("--label-column applies to data files; the built-in '{name}' carries its own labels")]
    ColumnOnBuiltIn {
        /// The data set.
        name: String,
    },
    /// A file needs `--label-column`.
    #[error("{path}: give --label-column K, the column holding each row's class")]
    NoColumn {
        /// The file.
        path: String,
    },
    /// The label column does not exist.
    #[error("{path}: label column {column} is out of range; the file has {columns} columns (0..{columns})")]
    ColumnOutOfRange {
        /// The file.
        path: String,
        /// The column asked for.
        column: usize,
        /// The file's columns.
        columns: usize,
    },
    /// A label is not a non-negative integer.
    #[error("{path}: row {row} has label {value} in column {column}; labels must be non-negative integers")]
    NotAClass {
        /// The file.
        path: String,
        /// The row.
        row: usize,
        /// The column.
        column: usize,
        /// The value found.
        value: f64,
    },
    /// The file has no column left for the points.
    #[error("{path}: a labelled file needs at least one coordinate column besides the label")]
    NoCoordinates {
        /// The file.
        path: String,
    },
    /// Reading the file failed.
    #[error(transparent)]
    File(#[from] FileError),
}

/// Points with a class each, classes 0..`classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// The points, one per row.
    pub points: Matrix,
    /// The class of each row.
    pub labels: Vec<usize>,
    /// The number of classes (one more than the largest label).
    pub classes: usize,
}

impl Labelled {
    /// The labelled set behind `source`: `n` points of a labelled built-in data set drawn with
    /// `seed`, or every row of a file with its class in column `label_column` (the other columns,
    /// in order, are the coordinates).
    pub fn new(
        source: &DataSource,
        label_column: Option<usize>,
        n: usize,
        seed: u64,
    ) -> Result<Self, LabelError> {
        match source {
            DataSource::Toy(toy) => {
                if label_column.is_some() {
                    return Err(LabelError::ColumnOnBuiltIn { name: toy.name() });
                }
                let (points, labels, classes) = toy
                    .sample_labelled(n, seed)
                    .ok_or_else(|| LabelError::Unlabelled { name: toy.name() })?;
                Ok(Self {
                    points,
                    labels,
                    classes,
                })
            }
            DataSource::File { path, header } => {
                let name = path.display().to_string();
                let column = label_column.ok_or(LabelError::NoColumn { path: name.clone() })?;
                let table = read_points_with(path, *header)?;
                Self::from_column(&table, column, &name)
            }
        }
    }

    /// Splits `table`'s column `column` off as the labels.
    fn from_column(table: &Matrix, column: usize, path: &str) -> Result<Self, LabelError> {
        let columns = table.cols();
        if column >= columns {
            return Err(LabelError::ColumnOutOfRange {
                path: path.into(),
                column,
                columns,
            });
        }
        if columns < 2 {
            return Err(LabelError::NoCoordinates { path: path.into() });
        }
        let mut labels = Vec::with_capacity(table.rows());
        for row in 0..table.rows() {
            let value = table.get(row, column);
            if !(value >= 0.0 && value.fract() == 0.0 && value < u32::MAX as f64) {
                return Err(LabelError::NotAClass {
                    path: path.into(),
                    row,
                    column,
                    value,
                });
            }
            labels.push(value as usize);
        }
        let points = Matrix::from_fn(table.rows(), columns - 1, |i, j| {
            table.get(i, if j < column { j } else { j + 1 })
        });
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        Ok(Self {
            points,
            labels,
            classes,
        })
    }

    /// The dimension of the points.
    pub fn dim(&self) -> usize {
        self.points.cols()
    }

    /// The rows of class `class`.
    pub fn class(&self, class: usize) -> Matrix {
        let rows: Vec<usize> = (0..self.labels.len())
            .filter(|&i| self.labels[i] == class)
            .collect();
        Matrix::from_fn(rows.len(), self.dim(), |i, j| self.points.get(rows[i], j))
    }

    /// `n` rows of class `class` drawn with replacement from `seed` (`None` when the class has
    /// no rows).
    pub fn draw_class(&self, class: usize, n: usize, seed: u64) -> Option<Matrix> {
        let rows = self.class(class);
        (rows.rows() > 0).then(|| bootstrap(&rows, n, seed).expect("the class has rows"))
    }

    /// A reproducible split into training rows and a `test_fraction` of test rows.
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Self, Self) {
        let mut order: Vec<usize> = (0..self.labels.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let test = ((self.labels.len() as f64 * test_fraction).round() as usize).min(order.len());
        let pick = |rows: &[usize]| Self {
            points: Matrix::from_fn(rows.len(), self.dim(), |i, j| self.points.get(rows[i], j)),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes,
        };
        (pick(&order[test..]), pick(&order[..test]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_built_ins_are_the_unlabelled_samples_with_their_classes() {
        // Truth: the labelled draw consumes the same random stream as `Toy::sample` (identical
        // points); each label is the class the definition gives: the nearest octagon vertex
        // (8gaussians, in torchcfm's order of centres; see the bounds below), the upper moon first
        // (moons), the dark square containing the point (checkerboard, exact), the cell drawn
        // (drifting-checkerboard: its noise 0.05 leaves ≥ 85 % inside the cell); classes are
        // balanced to sampling error (±4 sd).
        let n = 8000;
        for name in Toy::LABELLED {
            let toy: Toy = name.parse().unwrap();
            let (points, labels, classes) = toy.sample_labelled(n, 3).unwrap();
            assert_eq!(points, toy.sample(n, 3), "{name}");
            let p = 1.0 / classes as f64;
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            for c in 0..classes {
                let count = labels.iter().filter(|&&l| l == c).count() as f64;
                assert!(
                    (count - n as f64 * p).abs() < 4.0 * sd + 1.0,
                    "{name} class {c}: {count}"
                );
            }
            let agree = (0..n)
                .filter(|&i| {
                    let (x, y) = (points.get(i, 0), points.get(i, 1));
                    let c = labels[i];
                    match toy {
                        Toy::EightGaussians
                        | Toy::DsbEightGaussians
                        | Toy::TorchdynEightGaussians => {
                            // torchcfm's order of centres.
                            let h = std::f64::consts::FRAC_1_SQRT_2;
                            let centres = [
                                (1.0, 0.0),
                                (-1.0, 0.0),
                                (0.0, 1.0),
                                (0.0, -1.0),
                                (h, h),
                                (h, -h),
                                (-h, h),
                                (-h, -h),
                            ];
                            let d = |k: usize| (x - centres[k].0).hypot(y - centres[k].1);
                            (0..8).all(|k| d(c) <= d(k) + 1e-12)
                        }
                        Toy::Moons => c == usize::from(i >= n / 2),
                        Toy::Checkerboard => {
                            let cell = |v: f64| ((v / 2.0).floor() + 2.0) as usize;
                            2 * cell(x) + cell(y) / 2 == c && (cell(x) + cell(y)) % 2 == 0
                        }
                        _ => {
                            let cell = |v: f64| ((v + 1.0) * 2.0).floor() as usize;
                            2 * cell(x) + cell(y) / 2 == c
                        }
                    }
                })
                .count() as f64
                / n as f64;
            let least = match toy {
                Toy::DriftingCheckerboard => 0.85,
                // Half the spacing of neighbouring modes is 3.4 sd (8gaussians) and 3.1 sd
                // (dsb-8gaussians), 1.9 sd (torchdyn-8gaussians): 2·Φ(−3.4) = 0.07 %,
                // 2·Φ(−3.1) = 0.2 %, 2·Φ(−1.91) = 5.6 % cross over.
                Toy::EightGaussians => 0.998,
                Toy::DsbEightGaussians => 0.995,
                Toy::TorchdynEightGaussians => 0.93,
                _ => 1.0,
            };
            assert!(agree >= least, "{name}: {agree}");
        }
        assert!(Toy::SwissRoll.sample_labelled(10, 0).is_none());
    }

    #[test]
    fn a_file_column_becomes_the_labels() {
        // Truth: the documented layout — column K is the class, the other columns in order are
        // the point; bad columns and labels are named.
        let table = Matrix::new(3, 3, vec![0.5, 1.0, 7.0, 1.5, 0.0, 8.0, 2.5, 2.0, 9.0]).unwrap();
        let set = Labelled::from_column(&table, 1, "t.npy").unwrap();
        assert_eq!(set.labels, vec![1, 0, 2]);
        assert_eq!(set.classes, 3);
        assert_eq!(set.points.as_slice(), &[0.5, 7.0, 1.5, 8.0, 2.5, 9.0]);
        assert_eq!(set.class(2).as_slice(), &[2.5, 9.0]);
        let err = Labelled::from_column(&table, 3, "t.npy")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("label column 3 is out of range; the file has 3 columns"),
            "{err}"
        );
        let err = Labelled::from_column(&table, 0, "t.npy")
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 0 has label 0.5"), "{err}");
    }
}

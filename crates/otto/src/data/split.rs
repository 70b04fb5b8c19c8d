//! Reproducible partitions and resamples of a point set: the train/test split that the published
//! protocol evaluates on (SF2M paper, App. F: 10 000 training and 10 000 held-out points), and
//! resampling with replacement (the bootstrap) for drawing minibatches from a finite data set.

use otto_ot::Matrix;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How many points go to the test set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TestSize {
    /// A fraction f in (0, 1) of the n points: ⌈f·n⌉ test points, as scikit-learn's
    /// `train_test_split` rounds.
    Fraction(f64),
    /// An exact number of test points, at least 1 and at most n − 1.
    Count(usize),
}

/// Why a split or a resample cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// The test fraction is not in the open interval (0, 1).
    #[error("invalid test fraction {0}: it must lie strictly between 0 and 1")]
    Fraction(f64),
    /// The test set or the training set would be empty.
    #[error("cannot split {n} points into {test} test and {} training points: both sets need at least one point", n.saturating_sub(*test))]
    Size {
        /// The number of points.
        n: usize,
        /// The number of test points asked for.
        test: usize,
    },
    /// Resampling asked for points from an empty set.
    #[error("cannot resample {n} points from an empty point set")]
    Empty {
        /// The number of points asked for.
        n: usize,
    },
}

/// A reproducible random train/test split: options (test size and seed), then
/// [`TrainTestSplit::split`].
///
/// ```
/// # use otto::data::split::{TestSize, TrainTestSplit};
/// # use otto::data::Toy;
/// let points = Toy::Moons.sample(20_000, 0);
/// let split = TrainTestSplit::new(TestSize::Count(10_000)).seed(1).split(&points)?;
/// assert_eq!((split.train.rows(), split.test.rows()), (10_000, 10_000));
/// # Ok::<(), otto::data::split::SplitError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainTestSplit {
    test: TestSize,
    seed: u64,
}

impl Default for TrainTestSplit {
    /// Half the points to each side (the published protocol's 10 000 / 10 000), seed 0.
    fn default() -> Self {
        Self {
            test: TestSize::Fraction(0.5),
            seed: 0,
        }
    }
}

/// The two sides of a split, with the row indices (into the original set) they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The training points, in random order.
    pub train: Matrix,
    /// The held-out points, in random order.
    pub test: Matrix,
    /// `train` row k is original row `train_rows[k]`.
    pub train_rows: Vec<usize>,
    /// `test` row k is original row `test_rows[k]`.
    pub test_rows: Vec<usize>,
}

impl TrainTestSplit {
    /// A split with `test` points held out and seed 0.
    pub fn new(test: TestSize) -> Self {
        Self { test, seed: 0 }
    }

    /// Sets the seed of the permutation.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of test points for a set of `n` points, or why there is none.
    pub fn test_count(&self, n: usize) -> Result<usize, SplitError> {
        let test = match self.test {
            TestSize::Fraction(f) if f > 0.0 && f < 1.0 => (f * n as f64).ceil() as usize,
            TestSize::Fraction(f) => return Err(SplitError::Fraction(f)),
            TestSize::Count(c) => c,
        };
        if test == 0 || test >= n {
            return Err(SplitError::Size { n, test });
        }
        Ok(test)
    }

    /// Splits the rows of `points`: a uniformly random permutation π of 0..n (ChaCha8 seeded
    /// with the seed, Fisher–Yates), the first `test` rows of π to the test set and the rest to
    /// the training set. Every subset of the test size is equally likely.
    pub fn split(&self, points: &Matrix) -> Result<Split, SplitError> {
        let n = points.rows();
        let test = self.test_count(n)?;
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(self.seed));
        let train_rows = order.split_off(test);
        Ok(Split {
            train: select_rows(points, &train_rows),
            test: select_rows(points, &order),
            train_rows,
            test_rows: order,
        })
    }
}

/// `n` rows drawn uniformly with replacement from `points` (the bootstrap), reproducible from
/// `seed`: row k is `points[I_k]` with I_k i.i.d. uniform on 0..rows.
pub fn bootstrap(points: &Matrix, n: usize, seed: u64) -> Result<Matrix, SplitError> {
    if points.rows() == 0 && n > 0 {
        return Err(SplitError::Empty { n });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..points.rows())).collect();
    Ok(select_rows(points, &rows))
}

/// The rows `rows` of `points`, in that order.
fn select_rows(points: &Matrix, rows: &[usize]) -> Matrix {
    let data = rows.iter().flat_map(|&i| points.row(i)).copied().collect();
    Matrix::new(rows.len(), points.cols(), data).expect("rows.len() rows of points.cols() entries")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> Matrix {
        Matrix::from_fn(n, 2, |i, j| (2 * i + j) as f64)
    }

    #[test]
    fn split_is_a_seeded_partition() {
        // Truth: the two sides partition the rows (each original row exactly once), with ⌈f·n⌉
        // test rows, and carry the rows' contents.
        let points = numbered(101);
        let s = TrainTestSplit::new(TestSize::Fraction(0.3))
            .seed(9)
            .split(&points)
            .unwrap();
        assert_eq!((s.test.rows(), s.train.rows()), (31, 70));
        let mut all: Vec<usize> = s.test_rows.iter().chain(&s.train_rows).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..101).collect::<Vec<_>>());
        for (k, &i) in s.test_rows.iter().enumerate() {
            assert_eq!(s.test.row(k), points.row(i));
        }
        for (k, &i) in s.train_rows.iter().enumerate() {
            assert_eq!(s.train.row(k), points.row(i));
        }
        let again = TrainTestSplit::new(TestSize::Fraction(0.3)).seed(9);
        assert_eq!(again.split(&points).unwrap(), s);
        assert_ne!(
            again.seed(10).split(&points).unwrap().test_rows,
            s.test_rows
        );
    }

    #[test]
    fn every_row_is_held_out_with_the_test_fraction() {
        // Truth: under a uniform permutation each row lands in the test set with probability
        // test/n = 3/10. Over 4000 seeds the count for row 0 is Binomial(4000, 0.3): mean 1200,
        // sd 29; tolerance 5 sd = 145.
        let points = numbered(10);
        let split = TrainTestSplit::new(TestSize::Count(3));
        let hits = (0..4000)
            .filter(|&seed| {
                split
                    .seed(seed)
                    .split(&points)
                    .unwrap()
                    .test_rows
                    .contains(&0)
            })
            .count();
        assert!((hits as i64 - 1200).abs() < 145, "{hits}");
    }

    #[test]
    fn bad_sizes_are_errors() {
        let points = numbered(4);
        let e = TrainTestSplit::new(TestSize::Fraction(1.0)).split(&points);
        assert_eq!(e.unwrap_err(), SplitError::Fraction(1.0));
        let e = TrainTestSplit::new(TestSize::Count(4)).split(&points);
        let msg = e.unwrap_err().to_string();
        assert!(msg.contains("4 points into 4 test and 0 training"), "{msg}");
        let e = TrainTestSplit::new(TestSize::Fraction(0.1)).split(&numbered(1));
        assert_eq!(e.unwrap_err(), SplitError::Size { n: 1, test: 1 });
    }

    #[test]
    fn bootstrap_draws_rows_uniformly_with_replacement() {
        // Truth: each draw is row i with probability 1/4. 40 000 draws: each count is
        // Binomial(40000, ¼), sd 87; tolerance 5 sd. Every drawn row is a row of the set.
        let points = numbered(4);
        let b = bootstrap(&points, 40_000, 3).unwrap();
        assert_eq!(b, bootstrap(&points, 40_000, 3).unwrap());
        let mut counts = [0i64; 4];
        for k in 0..b.rows() {
            let i = (b.get(k, 0) / 2.0) as usize;
            assert_eq!(b.row(k), points.row(i));
            counts[i] += 1;
        }
        assert!(
            counts.iter().all(|c| (c - 10_000).abs() < 435),
            "{counts:?}"
        );
        assert_eq!(
            bootstrap(&Matrix::zeros(0, 2), 1, 0).unwrap_err(),
            SplitError::Empty { n: 1 }
        );
    }
}

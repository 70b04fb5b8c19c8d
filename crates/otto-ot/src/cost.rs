//! Ground-cost matrices between point clouds, `C_ij = c(x_i, y_j)`, computed in parallel row blocks.
//!
//! Entries are computed from coordinate differences, not from `‖x‖² + ‖y‖² − 2⟨x, y⟩`, so that
//! `C_ii = 0` exactly and no cancellation error enters exact optimal-transport costs.

use rayon::prelude::*;

use crate::error::{OtError, Result};
use crate::matrix::Matrix;

/// The ground cost `c(x, y)` between two points.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum GroundCost {
    /// `c(x, y) = ‖x − y‖₂²`, the cost of W2.
    #[default]
    SquaredEuclidean,
    /// `c(x, y) = ‖x − y‖_p^power` with `p ≥ 1` (`p = ∞` allowed) and `power > 0`; `power = p`
    /// gives the cost of W_p for the ℓ_p ground metric.
    Minkowski { p: f64, power: f64 },
}

impl GroundCost {
    /// Checks the parameters of the cost.
    pub fn validate(&self) -> Result<()> {
        if let GroundCost::Minkowski { p, power } = *self {
            if p.is_nan() || p < 1.0 {
                return Err(OtError::InvalidOption {
                    name: "p",
                    value: p.to_string(),
                    reason: "the ℓ_p norm needs p ≥ 1",
                });
            }
            if !(power > 0.0 && power.is_finite()) {
                return Err(OtError::InvalidOption {
                    name: "power",
                    value: power.to_string(),
                    reason: "the exponent must be positive and finite",
                });
            }
        }
        Ok(())
    }

    /// `c(x, y)` for two points of equal dimension.
    #[inline]
    pub fn eval(&self, x: &[f64], y: &[f64]) -> f64 {
        match *self {
            GroundCost::SquaredEuclidean => x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum(),
            GroundCost::Minkowski { p, power } => {
                let norm = if p.is_infinite() {
                    x.iter()
                        .zip(y)
                        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
                } else if p == 1.0 {
                    x.iter().zip(y).map(|(a, b)| (a - b).abs()).sum()
                } else if p == 2.0 {
                    x.iter()
                        .zip(y)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt()
                } else {
                    x.iter()
                        .zip(y)
                        .map(|(a, b)| (a - b).abs().powf(p))
                        .sum::<f64>()
                        .powf(1.0 / p)
                };
                if power == 1.0 {
                    norm
                } else {
                    norm.powf(power)
                }
            }
        }
    }
}

/// Checks a pair of point clouds: non-empty, finite, same dimension.
pub fn check_point_clouds(x: &Matrix, y: &Matrix) -> Result<()> {
    if x.rows() == 0 || x.cols() == 0 {
        return Err(OtError::Empty {
            what: "source points x",
        });
    }
    if y.rows() == 0 || y.cols() == 0 {
        return Err(OtError::Empty {
            what: "target points y",
        });
    }
    if x.cols() != y.cols() {
        return Err(OtError::Shape {
            what: "target points y",
            expected: format!("dimension {} (as the source points x)", x.cols()),
            got: format!("dimension {}", y.cols()),
        });
    }
    x.check_finite("source points x")?;
    y.check_finite("target points y")
}

/// The cost matrix `C_ij = c(x_i, y_j)` for points stored one per row.
pub fn cost_matrix(x: &Matrix, y: &Matrix, cost: GroundCost) -> Result<Matrix> {
    if cost == GroundCost::SquaredEuclidean {
        return squared_euclidean(x, y);
    }
    check_point_clouds(x, y)?;
    cost.validate()?;
    let (n, m, d) = (x.rows(), y.rows(), x.cols());
    let mut c = Matrix::zeros(n, m);
    let ys = y.as_slice();
    c.as_mut_slice()
        .par_chunks_mut(m)
        .enumerate()
        .with_min_len(16)
        .for_each(|(i, row)| {
            let xi = x.row(i);
            for (cij, yj) in row.iter_mut().zip(ys.chunks_exact(d)) {
                *cij = cost.eval(xi, yj);
            }
        });
    Ok(c)
}

/// `C_ij = ‖x_i − y_j‖²`, summed over the coordinates in order as [`GroundCost::eval`] does (the
/// same values bit for bit). The targets are read coordinate by coordinate (`y` transposed once),
/// so that each row of `C` is built by vector passes over j, one per coordinate.
pub fn squared_euclidean(x: &Matrix, y: &Matrix) -> Result<Matrix> {
    check_point_clouds(x, y)?;
    let (m, d) = (y.rows(), y.cols());
    let columns: Vec<f64> = (0..d)
        .flat_map(|k| y.as_slice().iter().skip(k).step_by(d).copied())
        .collect();
    let mut c = Matrix::zeros(x.rows(), m);
    let fill = |(i, row): (usize, &mut [f64])| squared_distances(x.row(i), &columns, row);
    if x.rows() * m <= ENTRIES_PER_TASK {
        c.as_mut_slice().chunks_mut(m).enumerate().for_each(fill);
    } else {
        let rows = c.as_mut_slice().par_chunks_mut(m).enumerate();
        rows.with_min_len(ENTRIES_PER_TASK.div_ceil(m))
            .for_each(fill);
    }
    Ok(c)
}

/// Entries of `C` per parallel task of [`squared_euclidean`]; a matrix of at most this many is
/// computed on the calling thread (in about a tenth of a millisecond for 2-D points: less than
/// handing it to a pool and waiting for it).
const ENTRIES_PER_TASK: usize = 512 * 512;

/// `row_j = Σ_k (x_k − y_kj)²` for the targets' coordinates stored one after another in `columns`
/// (`d` slices of `row.len()` values).
fn squared_distances(x: &[f64], columns: &[f64], row: &mut [f64]) {
    let m = row.len();
    let mut coordinates = x.iter().zip(columns.chunks_exact(m));
    if let Some((&xk, yk)) = coordinates.next() {
        for (c, &y) in row.iter_mut().zip(yk) {
            *c = (xk - y) * (xk - y);
        }
    }
    for (&xk, yk) in coordinates {
        for (c, &y) in row.iter_mut().zip(yk) {
            *c += (xk - y) * (xk - y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squared_euclidean_matches_definition() {
        // Truth: the definition, summed by hand for three 2-D points.
        let x = Matrix::from_rows(&[vec![0.0, 0.0], vec![1.0, 2.0]]).unwrap();
        let y = Matrix::from_rows(&[vec![1.0, 1.0], vec![-1.0, 0.5], vec![0.0, 0.0]]).unwrap();
        let c = squared_euclidean(&x, &y).unwrap();
        assert_eq!(c.as_slice(), &[2.0, 1.25, 0.0, 1.0, 6.25, 5.0]);
    }

    #[test]
    fn squared_euclidean_is_the_ground_cost_bit_for_bit() {
        // Truth: `GroundCost::eval` (the definition, summed in coordinate order) entry by entry,
        // for dimensions 1 to 5, on one thread and (520 × 513 entries) in parallel tasks.
        let value = |k: usize| ((k * 7919 % 1009) as f64 / 101.0).sin() * 3.0;
        for (n, m, d) in [(1, 1, 1), (3, 700, 2), (520, 513, 3), (9, 4, 5)] {
            let x = Matrix::from_fn(n, d, |i, k| value(i * d + k));
            let y = Matrix::from_fn(m, d, |j, k| value(5000 + j * d + k));
            let c = squared_euclidean(&x, &y).unwrap();
            for i in 0..n {
                for j in 0..m {
                    let want = GroundCost::SquaredEuclidean.eval(x.row(i), y.row(j));
                    assert_eq!(c.get(i, j).to_bits(), want.to_bits(), "({i}, {j}), d = {d}");
                }
            }
        }
    }

    #[test]
    fn minkowski_norms() {
        // Truth: ‖(3, −4)‖₁ = 7, ‖·‖₂ = 5, ‖·‖∞ = 4.
        let (x, y) = ([3.0, 0.0], [0.0, 4.0]);
        let l = |p: f64, power: f64| GroundCost::Minkowski { p, power }.eval(&x, &y);
        assert_eq!(l(1.0, 1.0), 7.0);
        assert_eq!(l(2.0, 1.0), 5.0);
        assert_eq!(l(2.0, 2.0), 25.0);
        assert_eq!(l(f64::INFINITY, 1.0), 4.0);
        assert!((l(3.0, 3.0) - 91.0).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = Matrix::from_rows(&[vec![0.0, f64::NAN]]).unwrap();
        let y = Matrix::from_rows(&[vec![0.0, 1.0]]).unwrap();
        assert!(matches!(
            squared_euclidean(&x, &y),
            Err(OtError::NonFinite { .. })
        ));
        let y3 = Matrix::from_rows(&[vec![0.0, 1.0, 2.0]]).unwrap();
        assert!(matches!(
            squared_euclidean(&y, &y3),
            Err(OtError::Shape { .. })
        ));
        let bad = GroundCost::Minkowski { p: 0.5, power: 1.0 };
        assert!(cost_matrix(&y, &y, bad).is_err());
    }
}

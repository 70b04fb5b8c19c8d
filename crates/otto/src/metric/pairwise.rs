//! Sums over pairs of points, Σ_{i,j} f(‖x_i − y_j‖²) and Σ_{i<j} f(‖x_i − x_j‖²), for several
//! functions f at once, in parallel over rows and without storing the n×m matrix of pairs. The
//! two-sample statistics ([`super::mmd`], [`super::energy`]) are built from these sums.

use otto_ot::Matrix;
use rayon::prelude::*;

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}

/// Sums `f` over the pairs (i, j) with j in `cols(i)`: `f(d², acc)` adds its K values for one
/// pair to `acc`. Each row is summed on its own before joining the total, so rounding grows
/// with the row length, not with the number of pairs.
fn sums(
    x: &Matrix,
    y: &Matrix,
    k: usize,
    cols: impl Fn(usize) -> std::ops::Range<usize> + Sync,
    f: impl Fn(f64, &mut [f64]) + Sync,
) -> Vec<f64> {
    (0..x.rows())
        .into_par_iter()
        .with_min_len(8)
        .fold(
            || (vec![0.0; k], vec![0.0; k]),
            |(mut total, mut row), i| {
                row.iter_mut().for_each(|v| *v = 0.0);
                let xi = x.row(i);
                for j in cols(i) {
                    f(squared_distance(xi, y.row(j)), &mut row);
                }
                total.iter_mut().zip(&row).for_each(|(t, r)| *t += r);
                (total, row)
            },
        )
        .map(|(total, _)| total)
        .reduce(
            || vec![0.0; k],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(u, v)| *u += v);
                a
            },
        )
}

/// Σ_{i,j} f(‖x_i − y_j‖²) over all n·m pairs, K sums at once.
pub(super) fn cross_sums(
    x: &Matrix,
    y: &Matrix,
    k: usize,
    f: impl Fn(f64, &mut [f64]) + Sync,
) -> Vec<f64> {
    let m = y.rows();
    sums(x, y, k, |_| 0..m, f)
}

/// Σ_{i<j} f(‖x_i − x_j‖²) over the n(n−1)/2 distinct pairs, K sums at once.
pub(super) fn within_sums(x: &Matrix, k: usize, f: impl Fn(f64, &mut [f64]) + Sync) -> Vec<f64> {
    let n = x.rows();
    sums(x, x, k, |i| i + 1..n, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_a_direct_double_loop() {
        // Truth: the definition, evaluated by a plain serial double loop.
        let x = Matrix::from_fn(37, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.3);
        let y = Matrix::from_fn(23, 3, |i, j| ((i * 5 + j) % 7) as f64 * 0.5);
        let f = |d2: f64, acc: &mut [f64]| {
            acc[0] += d2;
            acc[1] += d2.sqrt();
        };
        let cross = cross_sums(&x, &y, 2, f);
        let within = within_sums(&x, 2, f);
        let (mut c, mut w) = ([0.0; 2], [0.0; 2]);
        for i in 0..x.rows() {
            for j in 0..y.rows() {
                f(squared_distance(x.row(i), y.row(j)), &mut c);
            }
            for j in i + 1..x.rows() {
                f(squared_distance(x.row(i), x.row(j)), &mut w);
            }
        }
        for t in 0..2 {
            assert!((cross[t] - c[t]).abs() <= 1e-12 * c[t], "{cross:?} {c:?}");
            assert!((within[t] - w[t]).abs() <= 1e-12 * w[t], "{within:?} {w:?}");
        }
    }
}

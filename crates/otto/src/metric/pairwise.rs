//! Sums over pairs of points, Σ_{i,j} f(‖x_i − y_j‖²) and Σ_{i<j} f(‖x_i − x_j‖²), for several
//! functions f at once, in parallel over rows and without storing the n×m matrix of pairs. The
//! two-sample statistics ([`super::mmd`], [`super::energy`]) are built from these sums.

use otto_ot::Matrix;
use rayon::prelude::*;

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}

/// Sums `f` over the pairs (i, j) with j in `cols(i)`: `f(d², acc)` adds its K values for one
/// pair to `acc`. Each row is summed on its own (in parallel over rows), then the row sums in row
/// order: rounding grows with the row length, not with the number of pairs, and the result has
/// the same bits whatever the thread count and scheduling (a parallel reduction would add the
/// rows in an order that depends on which thread stole which work).
fn sums(
    x: &Matrix,
    y: &Matrix,
    k: usize,
    cols: impl Fn(usize) -> std::ops::Range<usize> + Sync,
    f: impl Fn(f64, &mut [f64]) + Sync,
) -> Vec<f64> {
    let mut rows = vec![0.0; x.rows() * k];
    rows.par_chunks_mut(k)
        .with_min_len(8)
        .enumerate()
        .for_each(|(i, row)| {
            let xi = x.row(i);
            for j in cols(i) {
                f(squared_distance(xi, y.row(j)), row);
            }
        });
    let mut total = vec![0.0; k];
    for row in rows.chunks_exact(k) {
        total.iter_mut().zip(row).for_each(|(t, r)| *t += r);
    }
    total
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
    fn sums_have_the_same_bits_on_any_number_of_threads() {
        // Truth: the serial sum (one thread) — the rows are added in row order whatever the
        // scheduling, so 2, 3 and 7 threads give it to the bit (a parallel reduction did not).
        let x = Matrix::from_fn(3001, 2, |i, j| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 7.0
        });
        let y = Matrix::from_fn(1999, 2, |i, j| ((i * 6007 + j * 31) % 997) as f64 / 3.0);
        let f = |d2: f64, acc: &mut [f64]| {
            acc[0] += d2.sqrt();
            acc[1] += (-d2 / 50.0).exp();
        };
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| (cross_sums(&x, &y, 2, f), within_sums(&x, 2, f)))
        };
        let serial = on(1);
        for threads in [2, 3, 7] {
            for _ in 0..3 {
                assert_eq!(on(threads), serial, "{threads} threads");
            }
        }
    }

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

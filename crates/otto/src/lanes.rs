//! Reductions over f32 slices in 16 independent lanes, so that they vectorize (a plain
//! `iter().sum()` is a sequential chain the compiler may not reorder). The lanes are combined
//! pairwise at the end: the result differs from the sequential sum by round-off only.

const LANES: usize = 16;

/// Combines the lanes of `acc` with `op` and then folds in the `tail`.
#[inline(always)]
fn finish(acc: [f32; LANES], op: impl Fn(f32, f32) -> f32, tail: f32) -> f32 {
    let mut width = LANES;
    let mut acc = acc;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] = op(acc[l], acc[l + width]);
        }
    }
    op(acc[0], tail)
}

/// Σ_j f(a_j).
#[inline(always)]
pub(crate) fn sum_map(a: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = a.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (s, &v) in acc.iter_mut().zip(chunk) {
            *s += f(v);
        }
    }
    finish(acc, |x, y| x + y, tail)
}

/// Σ_j a_j.
#[inline(always)]
pub(crate) fn sum(a: &[f32]) -> f32 {
    sum_map(a, |v| v)
}

/// Σ_j a_j b_j (`a` and `b` of equal length).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    finish(acc, |x, y| x + y, tail)
}

/// max_j a_j (−∞ for an empty slice).
#[inline(always)]
pub(crate) fn max(a: &[f32]) -> f32 {
    max_map(a, |v| v)
}

/// min_j a_j (+∞ for an empty slice).
#[inline(always)]
pub(crate) fn min(a: &[f32]) -> f32 {
    -max_map(a, |v| -v)
}

/// max_j f(a_j).
#[inline(always)]
fn max_map(a: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = a.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| m.max(f(v)));
    for chunk in chunks {
        for (m, &v) in acc.iter_mut().zip(chunk) {
            let v = f(v);
            *m = if v > *m { v } else { *m };
        }
    }
    finish(acc, f32::max, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_reductions_equal_the_sequential_ones() {
        // Truth: the sequential f64 sum, dot and extrema of the same numbers (lengths around the
        // lane width, with a tail); tolerance: f32 round-off of 37 terms.
        for n in [0usize, 1, 15, 16, 17, 37] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7919) % 23) as f32 - 11.5).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 104_729) % 17) as f32 * 0.25).collect();
            let s: f64 = a.iter().map(|&v| v as f64).sum();
            let d: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            assert!((sum(&a) as f64 - s).abs() < 1e-4, "{n}");
            assert!((dot(&a, &b) as f64 - d).abs() < 1e-4, "{n}");
            let hi = a.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let lo = a.iter().cloned().fold(f32::INFINITY, f32::min);
            assert_eq!((max(&a), min(&a)), (hi, lo), "{n}");
        }
    }
}

//! The one place the engine calls a GEMM (faer's `matmul`): a bounds-checked, single-threaded
//! `C ← [C +] A·B` on strided views of f32 slices (transposes are views, never copies).
//!
//! faer rather than the `gemm` crate it grew from: the same micro-kernels and speed (measured on
//! the engine's shapes), but faer keeps its packing buffers off the heap, where `gemm` 0.19
//! allocates a packing buffer and a flag vector inside every product — 18 allocations per
//! training step of a 3×64 MLP on one thread, none with faer.
//!
//! One exception, [`layer_product`]: a layer's product into 64 columns (the default width) on an
//! AVX-512 CPU runs the engine's own register-tiled kernel, which reads the row-major activations
//! and the layer's transposed weights as they lie, with no packing: 98% of the FMA peak on a
//! 512 × 64 × 64 product where faer's call reaches 88%, and 8 500 against 12 600 cycles for the
//! first layer's k = 3 (BENCHMARKS.md, seventh session). Both sum over k in order, one FMA chain
//! per output, so the results are the same to the bit (tested).

use faer::{Accum, MatMut, MatRef, Par};

use super::activation::tangent_through;

/// A strided matrix view: element (i, j) sits at offset `i·row_stride + j·col_stride`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl View {
    /// A dense row-major `rows × cols` matrix.
    pub fn row_major(rows: usize, cols: usize) -> Self {
        View {
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view of the same memory.
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// One past the largest offset the view touches (0 for an empty view).
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
        }
    }
}

/// `dst ← lhs · rhs` (or `dst ← dst + lhs · rhs` when `accumulate`), on one thread.
///
/// Panics if the shapes disagree or a view reaches past its slice; those are engine bugs, the
/// public API validates lengths before it gets here.
pub(crate) fn matmul(
    dst: &mut [f32],
    dst_view: View,
    accumulate: bool,
    lhs: &[f32],
    lhs_view: View,
    rhs: &[f32],
    rhs_view: View,
) {
    let (m, n, k) = (dst_view.rows, dst_view.cols, lhs_view.cols);
    assert!(
        lhs_view.rows == m && rhs_view.rows == k && rhs_view.cols == n,
        "matmul shape mismatch"
    );
    assert!(
        dst_view.extent() <= dst.len()
            && lhs_view.extent() <= lhs.len()
            && rhs_view.extent() <= rhs.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst[i * dst_view.row_stride + j * dst_view.col_stride] = 0.0;
                }
            }
        }
        return;
    }
    // SAFETY: the asserts above keep every offset the views reach inside their slices, and `dst`
    // is borrowed mutably, so it cannot alias `lhs` or `rhs`.
    let (dst, lhs, rhs) = unsafe {
        (
            MatMut::from_raw_parts_mut(
                dst.as_mut_ptr(),
                m,
                n,
                dst_view.row_stride as isize,
                dst_view.col_stride as isize,
            ),
            MatRef::from_raw_parts(
                lhs.as_ptr(),
                m,
                k,
                lhs_view.row_stride as isize,
                lhs_view.col_stride as isize,
            ),
            MatRef::from_raw_parts(
                rhs.as_ptr(),
                k,
                n,
                rhs_view.row_stride as isize,
                rhs_view.col_stride as isize,
            ),
        )
    };
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    faer::linalg::matmul::matmul(dst, accum, lhs, rhs, 1.0, Par::Seq);
}

/// A layer's product `Z ← A·Wᵀ` (+ the epilogue `Z ← Z ⊙ S` when `slope` is given): `a` is
/// rows × k and `z` rows × n, both row-major and contiguous, and `weights_t` is Wᵀ (k × n
/// row-major: `BlockBuffers::weights_t`). With n = 64 on a CPU with AVX-512 the engine's own
/// kernel runs it (module docs); otherwise faer, then the epilogue as a separate sweep.
pub(crate) fn layer_product(
    z: &mut [f32],
    a: &[f32],
    weights_t: &[f32],
    (k, n): (usize, usize),
    slope: Option<&[f32]>,
) {
    assert!(k > 0 && n > 0 && a.len().is_multiple_of(k) && weights_t.len() == k * n);
    let rows = a.len() / k;
    assert!(z.len() == rows * n && slope.is_none_or(|s| s.len() == rows * n));
    #[cfg(target_arch = "x86_64")]
    {
        if n == tiles::WIDTH && std::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F checked just above; the asserts fix every length the kernel reads
            // or writes (rows × k, k × 64, rows × 64).
            unsafe { tiles::product(z, a, weights_t, k, slope) };
            return;
        }
    }
    matmul(
        z,
        View::row_major(rows, n),
        false,
        a,
        View::row_major(rows, k),
        weights_t,
        View::row_major(k, n),
    );
    if let Some(slope) = slope {
        tangent_through(z, slope, None);
    }
}

/// The register-tiled kernel of [`layer_product`] for 64 output columns.
#[cfg(target_arch = "x86_64")]
mod tiles {
    use std::arch::x86_64::*;

    /// Output columns: four 16-lane vectors.
    pub const WIDTH: usize = 64;
    /// Rows per tile: 6 × 4 accumulators and the 4 vectors of a weight row fill 28 of the 32
    /// registers.
    const ROWS: usize = 6;

    /// `z ← a · w_t` (⊙ `slope`) for `a` rows × k, `w_t` k × 64, `z` and `slope` rows × 64.
    ///
    /// # Safety
    /// AVX-512F must be available and the slices must have those lengths.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn product(z: &mut [f32], a: &[f32], w_t: &[f32], k: usize, slope: Option<&[f32]>) {
        let rows = a.len() / k;
        let (a, w, z) = (a.as_ptr(), w_t.as_ptr(), z.as_mut_ptr());
        let s = slope.map(|s| s.as_ptr());
        let mut r = 0;
        while r + ROWS <= rows {
            tile::<ROWS>(
                a.add(r * k),
                k,
                w,
                z.add(r * WIDTH),
                s.map(|s| s.add(r * WIDTH)),
            );
            r += ROWS;
        }
        let (a, z, s) = (a.add(r * k), z.add(r * WIDTH), s.map(|s| s.add(r * WIDTH)));
        match rows - r {
            0 => {}
            1 => tile::<1>(a, k, w, z, s),
            2 => tile::<2>(a, k, w, z, s),
            3 => tile::<3>(a, k, w, z, s),
            4 => tile::<4>(a, k, w, z, s),
            _ => tile::<5>(a, k, w, z, s),
        }
    }

    /// R rows: accumulators start at 0 and take one FMA per k in order (as faer's kernels do),
    /// then are multiplied by the slopes (one rounding, as the separate sweep) and stored.
    #[inline(always)]
    unsafe fn tile<const R: usize>(
        a: *const f32,
        k: usize,
        w: *const f32,
        z: *mut f32,
        slope: Option<*const f32>,
    ) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for p in 0..k {
            let wp = w.add(p * WIDTH);
            let wv = [
                _mm512_loadu_ps(wp),
                _mm512_loadu_ps(wp.add(16)),
                _mm512_loadu_ps(wp.add(32)),
                _mm512_loadu_ps(wp.add(48)),
            ];
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*a.add(i * k + p));
                for (v, wj) in row.iter_mut().zip(wv) {
                    *v = _mm512_fmadd_ps(ai, wj, *v);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let offset = i * WIDTH + 16 * j;
                let v = match slope {
                    Some(s) => _mm512_mul_ps(v, _mm512_loadu_ps(s.add(offset))),
                    None => v,
                };
                _mm512_storeu_ps(z.add(offset), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layer product equals faer's product of the same operands to the bit (both sum over k
    /// in order with one FMA chain per output; the slope is one more rounded product), for every
    /// tail of the 6-row tiles, the first layer's k = 3 and a width that is not 64 (faer's path) —
    /// except a single row, where faer takes a matrix–vector path that sums in another order: the
    /// layer product's own kernel gives each row the same bits whatever the rows computed with it.
    #[test]
    fn layer_product_matches_faer_bit_for_bit() {
        let shapes = (1..40).flat_map(|r| [(r, 64, 64), (r, 3, 64)]);
        for (rows, k, n) in shapes.chain([(7, 20, 48)]) {
            let a: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 7919 % 601) as f32) / 300.0 - 1.0)
                .collect();
            let w: Vec<f32> = (0..n * k)
                .map(|i| ((i * 104_729 % 401) as f32) / 200.0 - 1.0)
                .collect();
            let slope: Vec<f32> = (0..rows * n)
                .map(|i| ((i * 31 % 17) as f32) / 8.0 - 1.0)
                .collect();
            let mut w_t = vec![0.0; k * n];
            for o in 0..n {
                for p in 0..k {
                    w_t[p * n + o] = w[o * k + p];
                }
            }
            let mut got = vec![f32::NAN; rows * n];
            layer_product(&mut got, &a, &w_t, (k, n), None);
            let own_kernel = n == 64 && avx512();
            for (r, row) in got.chunks_exact(n).enumerate().filter(|_| own_kernel) {
                let mut alone = vec![f32::NAN; n];
                layer_product(&mut alone, &a[r * k..(r + 1) * k], &w_t, (k, n), None);
                assert_eq!(row, alone, "row {r} of {rows}, k {k}, n {n}");
            }
            if rows > 1 {
                let mut want = vec![0.0; rows * n];
                let (z_view, a_view) = (View::row_major(rows, n), View::row_major(rows, k));
                matmul(
                    &mut want,
                    z_view,
                    false,
                    &a,
                    a_view,
                    &w,
                    View::row_major(n, k).t(),
                );
                assert_eq!(got, want, "rows {rows}, k {k}, n {n}");
            }
            let scaled: Vec<f32> = got.iter().zip(&slope).map(|(z, s)| z * s).collect();
            layer_product(&mut got, &a, &w_t, (k, n), Some(&slope));
            assert_eq!(got, scaled, "rows {rows}, k {k}, n {n}, with slopes");
        }
    }

    fn avx512() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Against the triple loop in f64, for a transposed operand and accumulation; integer-valued
    /// entries make every product and sum exact in f32, so the check is equality.
    #[test]
    fn strided_product_matches_triple_loop() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 5) as f32 - 2.0).collect();
        let b_t: Vec<f32> = (0..n * k).map(|i| (i % 3) as f32 - 1.0).collect(); // stored n × k
        let mut c = vec![1.0_f32; m * n];
        matmul(
            &mut c,
            View::row_major(m, n),
            true,
            &a,
            View::row_major(m, k),
            &b_t,
            View::row_major(n, k).t(),
        );
        for i in 0..m {
            for j in 0..n {
                let want = 1.0 + (0..k).map(|p| a[i * k + p] * b_t[j * k + p]).sum::<f32>();
                assert_eq!(c[i * n + j], want);
            }
        }
    }
}

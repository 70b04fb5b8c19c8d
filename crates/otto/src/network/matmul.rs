//! The one place the engine calls a GEMM (faer's `matmul`): a bounds-checked, single-threaded
//! `C ← [C +] A·B` on strided views of f32 slices (transposes are views, never copies).
//!
//! faer rather than the `gemm` crate it grew from: the same micro-kernels and speed (measured on
//! the engine's shapes), but faer keeps its packing buffers off the heap, where `gemm` 0.19
//! allocates a packing buffer and a flag vector inside every product — 18 allocations per
//! training step of a 3×64 MLP on one thread, none with faer.

use faer::{Accum, MatMut, MatRef, Par};

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

    /// The first `cols` columns.
    pub fn first_cols(self, cols: usize) -> Self {
        assert!(cols <= self.cols);
        View { cols, ..self }
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

#[cfg(test)]
mod tests {
    use super::*;

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

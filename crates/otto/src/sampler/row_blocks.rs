//! Row-parallel solves. Under a fixed-step deterministic solver the rows of a batch evolve
//! independently — each row's update reads only that row and the field at it — so the batch can
//! be cut into one block of rows per thread and each block solved on its own thread: one
//! synchronization per run instead of one per field evaluation. (A network pass otherwise hands
//! half of its rows to a second thread at every evaluation; on a 2-core VM whose idle cores halt at
//! once, each of those hand-offs costs a wake-up. A 200-step DPM-Solver++ run on 10 000 points:
//! 249 → 170 ms and 276 → 29 context switches on two threads, BENCHMARKS.md.)
//!
//! Stochastic samplers and adaptive solvers are not row-independent in this sense (their noise is
//! drawn for the whole batch, their step sizes follow an error norm over all rows): callers use
//! these functions only for the deterministic fixed-step ones.

use std::cell::Cell;
use std::ops::Range;

use otto_ot::Matrix;
use rayon::prelude::*;

use super::{Solution, Trajectory};
use crate::error::Result;

thread_local! {
    /// Whether this thread is solving one row block of [`solve_by_row_blocks`].
    static IN_ROW_BLOCK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is solving a row block: field evaluations there should run on this
/// thread alone (the other threads are busy with the other blocks; handing them half of each
/// evaluation would bring back the per-evaluation synchronization the blocks avoid).
pub(crate) fn in_row_block() -> bool {
    IN_ROW_BLOCK.with(Cell::get)
}

/// Blocks smaller than this many rows are not worth a thread of their own.
const MIN_ROWS: usize = 1024;

/// `x`'s rows cut into at most `parts` consecutive blocks of nearly equal size, each of at least
/// [`MIN_ROWS`] rows (one block when `x` is smaller).
fn row_blocks(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.min(n / MIN_ROWS).max(1);
    (0..parts)
        .map(|k| k * n / parts..(k + 1) * n / parts)
        .collect()
}

/// Runs `solve` on blocks of `x`'s rows in parallel, one block per thread of the current rayon
/// pool, and returns the results in row order.
pub fn solve_by_row_blocks<T: Send>(x: &Matrix, solve: impl Fn(&Matrix) -> T + Sync) -> Vec<T> {
    let d = x.cols();
    let blocks = row_blocks(x.rows(), rayon::current_num_threads());
    if blocks.len() == 1 {
        return vec![solve(x)];
    }
    blocks
        .into_par_iter()
        .with_max_len(1)
        .map(|rows| {
            let data = x.as_slice()[rows.start * d..rows.end * d].to_vec();
            let block = Matrix::new(rows.len(), d, data).expect("rows × d values");
            let outer = IN_ROW_BLOCK.with(|flag| flag.replace(true));
            let solution = solve(&block);
            IN_ROW_BLOCK.with(|flag| flag.set(outer));
            solution
        })
        .collect()
}

/// Stacks the rows of `blocks` (equal column counts) into one matrix.
pub fn stack_rows<'a>(blocks: impl IntoIterator<Item = &'a Matrix>) -> Matrix {
    let blocks: Vec<&Matrix> = blocks.into_iter().collect();
    let d = blocks.first().map_or(0, |m| m.cols());
    let rows = blocks.iter().map(|m| m.rows()).sum();
    let data = blocks.iter().flat_map(|m| m.as_slice()).copied().collect();
    Matrix::new(rows, d, data).expect("blocks of equal width")
}

/// A fixed-step solve of `x` (no recorded trajectory) run as [`solve_by_row_blocks`]: the stacked
/// final states of the blocks, with the time, status and counts of the first block that did not
/// complete (else of the first); the first error of any block.
pub fn solve_stacked(
    x: &Matrix,
    solve: impl Fn(&Matrix) -> Result<Solution> + Sync,
) -> Result<Solution> {
    let blocks = solve_by_row_blocks(x, solve)
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let lead = blocks
        .iter()
        .find(|b| !b.status.is_completed())
        .unwrap_or(&blocks[0]);
    Ok(Solution {
        x: stack_rows(blocks.iter().map(|b| &b.x)),
        t: lead.t,
        status: lead.status,
        stats: lead.stats,
        trajectory: Trajectory::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_rows_in_order() {
        // Truth: the definition — consecutive, disjoint, covering 0..n, at least MIN_ROWS each.
        for (n, parts, want) in [(10, 4, 1), (2048, 2, 2), (10_000, 2, 2), (10_000, 16, 9)] {
            let blocks = row_blocks(n, parts);
            assert_eq!(blocks.len(), want, "n = {n}, parts = {parts}");
            assert_eq!(blocks[0].start, 0);
            assert_eq!(blocks.last().unwrap().end, n);
            for pair in blocks.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
            assert!(blocks.len() == 1 || blocks.iter().all(|b| b.len() >= MIN_ROWS));
        }
    }

    #[test]
    fn row_blocks_give_the_whole_batch_solution() {
        // Truth: the same solver on the whole batch. A network field (f32 products) and its
        // exact-divergence likelihood, on 5 000 rows cut into two blocks by a 2-thread pool.
        use crate::field::NetworkField;
        use crate::likelihood::{DivergenceEstimator, Likelihood};
        use crate::network::{Mlp, MlpConfig};
        use crate::path::Parameterization;
        use crate::sampler::{Method, OdeSolver};

        let mlp = Mlp::new(MlpConfig::new(2, 2).width(32).depth(2), 3).unwrap();
        let field = NetworkField::new(mlp, Parameterization::Velocity, None).unwrap();
        let x = Matrix::from_fn(5000, 2, |i, j| ((i * 2 + j) as f64 * 0.37).sin() * 2.0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let solver = OdeSolver::new(Method::Midpoint).steps(8);
        let (by_rows, whole) = pool.install(|| {
            (
                solver.solve_by_rows(&field, &x, 0.0, 1.0).unwrap(),
                solver.solve(&field, &x, 0.0, 1.0).unwrap(),
            )
        });
        assert_eq!(by_rows.x.as_slice(), whole.x.as_slice());
        assert_eq!((by_rows.stats, by_rows.t), (whole.stats, whole.t));
        let likelihood = Likelihood::new(solver).divergence(DivergenceEstimator::Exact);
        let log_p0 = |x0: &Matrix| vec![0.0; x0.rows()];
        let (blocks, batch) = pool.install(|| {
            let blocks = likelihood
                .log_density(&field, &x, 1.0, 0.0, log_p0)
                .unwrap();
            let batch = solve_by_row_blocks(&x, |_| ()).len();
            (blocks, batch)
        });
        assert_eq!(batch, 2);
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let whole = single.install(|| {
            likelihood
                .log_density(&field, &x, 1.0, 0.0, log_p0)
                .unwrap()
        });
        assert_eq!(blocks.log_density, whole.log_density);
    }

    #[test]
    fn row_blocks_solve_each_row_once_in_order() {
        // Truth: a row-wise map applied to the whole matrix at once.
        let x = Matrix::from_fn(5000, 3, |i, j| (i * 3 + j) as f64);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let blocks = pool.install(|| {
            solve_by_row_blocks(&x, |b| {
                Matrix::from_fn(b.rows(), 3, |i, j| 2.0 * b.get(i, j))
            })
        });
        assert_eq!(blocks.len(), 4);
        let y = stack_rows(&blocks);
        assert_eq!(y.shape(), x.shape());
        for (a, b) in y.as_slice().iter().zip(x.as_slice()) {
            assert_eq!(*a, 2.0 * b);
        }
    }
}

//! Row-parallel solves. Under a fixed-step deterministic solver the rows of a batch evolve
//! independently — each row's update reads only that row and the field at it — so the batch can
//! be cut into one block of rows per thread and each block solved on its own thread: one
//! synchronization per run instead of one per field evaluation. (A network pass otherwise hands
//! half of its rows to a second thread at every evaluation; on a 2-core VM whose idle cores halt at
//! once, each of those hand-offs costs a wake-up. A 200-step DPM-Solver++ run on 10 000 points:
//! 249 → 170 ms and 276 → 29 context switches on two threads, BENCHMARKS.md.)
//!
//! The stochastic diffusion samplers are row-independent too, given their noise: they draw it per
//! row index ([`super::row_noise`]) and are told the first row of their block, so the blocks here
//! start at multiples of [`NOISE_ROWS`]. Not so adaptive solvers (their step sizes follow an error
//! norm over all rows) nor the predictor–corrector's Langevin steps (their size follows the batch's
//! mean score and noise norms, as score_sde's): callers run those on the whole batch.

use std::cell::Cell;
use std::ops::Range;

use otto_ot::Matrix;
use rayon::prelude::*;

use super::row_noise::NOISE_ROWS;
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

/// `x`'s rows cut into at most `parts` consecutive blocks of nearly equal size (one block when `x`
/// has fewer than 2·[`MIN_ROWS`] rows), every block starting at a multiple of [`NOISE_ROWS`]:
/// the equal cuts, each moved down by less than [`NOISE_ROWS`], so that every block keeps at least
/// `MIN_ROWS − NOISE_ROWS` rows.
fn row_blocks(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.min(n / MIN_ROWS).max(1);
    let start = |k: usize| (k * n / parts) / NOISE_ROWS * NOISE_ROWS;
    (0..parts)
        .map(|k| start(k)..if k + 1 == parts { n } else { start(k + 1) })
        .collect()
}

/// Runs `solve(first_row, block)` on blocks of `x`'s rows in parallel, one block per thread of the
/// current rayon pool (each block starting at a multiple of [`NOISE_ROWS`]), and returns the
/// results in row order.
pub fn solve_by_row_blocks<T: Send>(
    x: &Matrix,
    solve: impl Fn(usize, &Matrix) -> T + Sync,
) -> Vec<T> {
    let d = x.cols();
    let blocks = row_blocks(x.rows(), rayon::current_num_threads());
    if blocks.len() == 1 {
        return vec![solve(0, x)];
    }
    blocks
        .into_par_iter()
        .with_max_len(1)
        .map(|rows| {
            let data = x.as_slice()[rows.start * d..rows.end * d].to_vec();
            let block = Matrix::new(rows.len(), d, data).expect("rows × d values");
            let outer = IN_ROW_BLOCK.with(|flag| flag.replace(true));
            let solution = solve(rows.start, &block);
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
    solve: impl Fn(usize, &Matrix) -> Result<Solution> + Sync,
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
        // Truth: the definition — consecutive, disjoint, covering 0..n, starting at multiples of
        // NOISE_ROWS, at least MIN_ROWS − NOISE_ROWS each.
        for (n, parts, want) in [
            (10, 4, 1),
            (2048, 2, 2),
            (10_000, 2, 2),
            (10_000, 16, 9),
            (20_000, 19, 19),
        ] {
            let blocks = row_blocks(n, parts);
            assert_eq!(blocks.len(), want, "n = {n}, parts = {parts}");
            assert_eq!(blocks[0].start, 0);
            assert_eq!(blocks.last().unwrap().end, n);
            for pair in blocks.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert_eq!(pair[1].start % NOISE_ROWS, 0);
            }
            let least = MIN_ROWS - NOISE_ROWS;
            assert!(blocks.len() == 1 || blocks.iter().all(|b| b.len() >= least));
        }
    }

    #[test]
    fn row_blocks_give_the_whole_batch_solution() {
        // Truth: the same solver on the whole batch. A network field (f32 products) and its
        // likelihood (exact divergence, and Hutchinson's with each block's rows of the probes), on
        // 5 000 rows cut into two blocks by a 2-thread pool.
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
        assert_eq!(pool.install(|| solve_by_row_blocks(&x, |_, _| ()).len()), 2);
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let log_p0 = |x0: &Matrix| vec![0.0; x0.rows()];
        for divergence in [
            DivergenceEstimator::Exact,
            DivergenceEstimator::Hutchinson { probes: 2, seed: 3 },
        ] {
            let likelihood = Likelihood::new(solver.clone()).divergence(divergence);
            let density = || {
                likelihood
                    .log_density(&field, &x, 1.0, 0.0, log_p0)
                    .unwrap()
            };
            let (blocks, whole) = (pool.install(density), single.install(density));
            assert_eq!(blocks.log_density, whole.log_density, "{divergence:?}");
        }
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
            solve_by_row_blocks(&x, |first, b| {
                (
                    first,
                    Matrix::from_fn(b.rows(), 3, |i, j| 2.0 * b.get(i, j)),
                )
            })
        });
        assert_eq!(blocks.len(), 4);
        let mut next = 0;
        for (first, block) in &blocks {
            assert_eq!(*first, next, "each block is told where it starts");
            next += block.rows();
        }
        let y = stack_rows(blocks.iter().map(|(_, b)| b));
        assert_eq!(y.shape(), x.shape());
        for (a, b) in y.as_slice().iter().zip(x.as_slice()) {
            assert_eq!(*a, 2.0 * b);
        }
    }
}

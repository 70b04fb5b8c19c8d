//! The Gaussian noise of the stochastic samplers, drawn per row index: rows are grouped in fixed
//! chunks of [`NOISE_ROWS`], and chunk c draws from its own stream of the run's seed (ChaCha8, key
//! from the seed, stream number c), one N(0, I_d) row after another, step after step. A row's noise
//! therefore depends on the seed, the row's index in the batch and the step only — not on how a
//! row-parallel solve cuts the batch into blocks (their boundaries fall on multiples of
//! [`NOISE_ROWS`]), nor on the thread count.

use otto_ot::Matrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Rows per noise stream; the first row of a block solved on its own must be a multiple of it.
pub const NOISE_ROWS: usize = 256;

/// The noise streams of the rows `first_row..first_row + rows` of a batch.
#[derive(Debug, Clone)]
pub(crate) struct RowNoise {
    /// One generator per chunk the rows touch, the first for chunk `first_row / NOISE_ROWS`.
    streams: Vec<ChaCha8Rng>,
}

impl RowNoise {
    /// The streams of `seed` for `rows` rows starting at `first_row` (a multiple of
    /// [`NOISE_ROWS`], checked by the samplers' `solve`).
    pub fn new(seed: u64, first_row: usize, rows: usize) -> Self {
        debug_assert_eq!(first_row % NOISE_ROWS, 0);
        let first_chunk = first_row / NOISE_ROWS;
        let streams = (first_chunk..first_chunk + rows.div_ceil(NOISE_ROWS))
            .map(|chunk| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(chunk as u64);
                rng
            })
            .collect();
        RowNoise { streams }
    }

    /// Fills `z` (the rows this noise was made for) with the next N(0, I) draw of every row.
    pub fn fill(&mut self, z: &mut Matrix) {
        let d = z.cols();
        let chunks = z.as_mut_slice().chunks_mut(NOISE_ROWS * d);
        for (values, rng) in chunks.zip(&mut self.streams) {
            for v in values {
                *v = rng.sample(StandardNormal);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Truth: the definition — the rows of a batch drawn in one piece, and the same batch drawn as
    /// two blocks split at a chunk boundary, get the same numbers at every step; different seeds
    /// and different chunks get different numbers.
    #[test]
    fn blocks_draw_the_rows_of_the_whole_batch() {
        let (n, d, split) = (1000, 3, 2 * NOISE_ROWS);
        let mut whole = RowNoise::new(7, 0, n);
        let mut head = RowNoise::new(7, 0, split);
        let mut tail = RowNoise::new(7, split, n - split);
        let mut z = Matrix::zeros(n, d);
        let (mut z_head, mut z_tail) = (Matrix::zeros(split, d), Matrix::zeros(n - split, d));
        for _ in 0..3 {
            whole.fill(&mut z);
            head.fill(&mut z_head);
            tail.fill(&mut z_tail);
            assert_eq!(&z.as_slice()[..split * d], z_head.as_slice());
            assert_eq!(&z.as_slice()[split * d..], z_tail.as_slice());
        }
        let chunk = NOISE_ROWS * d;
        assert_ne!(z.as_slice()[..chunk], z.as_slice()[chunk..2 * chunk]);
        let mut other = RowNoise::new(8, 0, n);
        let mut z_other = Matrix::zeros(n, d);
        other.fill(&mut z_other);
        assert_ne!(z_other.as_slice()[..chunk], z.as_slice()[..chunk]);
    }

    /// The draws are standard normal: mean and variance of 10⁵ values within 5 standard errors of
    /// 0 and 1 (the standard errors of the mean and of the variance of N(0, 1) are 1/√N and √(2/N)).
    #[test]
    fn draws_are_standard_normal() {
        let n = 50_000;
        let mut z = Matrix::zeros(n, 2);
        RowNoise::new(3, 0, n).fill(&mut z);
        let values = z.as_slice();
        let count = values.len() as f64;
        let mean = values.iter().sum::<f64>() / count;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
        assert!(mean.abs() < 5.0 / count.sqrt(), "mean {mean}");
        assert!(
            (var - 1.0).abs() < 5.0 * (2.0 / count).sqrt(),
            "variance {var}"
        );
    }
}

//! What the diffusion samplers ([`super::Ddim`], [`super::DpmSolverPp`], [`super::EdmHeun`],
//! [`super::PredictorCorrector`]) share: they step a batch through a grid of noise levels
//! ([`super::grid`]) calling a [`Denoiser`], and every update they make is affine in the current
//! points, the last few denoised estimates and fresh Gaussian noise,
//! `x ← c_x x + Σ_j c_j x̂1^{(j)} + c_z z` — one kernel ([`Update`]) applies them all.
//!
//! Notation (MATH.md §4, in otto's time): a step goes from the level s to the next level t (closer
//! to the data), `λ = log(α/σ)`, `h = λ_t − λ_s > 0`; at σ_t = 0, h = ∞ and every update returns
//! α_t x̂1.

/// The `seed`, `first_row` and `record` builder setters every stochastic diffusion sampler shares
/// (its struct has fields `noise: NoiseSource` and `record: Record`).
macro_rules! noise_and_record_setters {
    () => {
        /// Seed of the noise (default 0; unused by the deterministic settings).
        pub fn seed(mut self, seed: u64) -> Self {
            self.noise.seed = seed;
            self
        }

        /// The index of the first row of `x` in the batch it is a block of (default 0): the noise
        /// is drawn per row index ([`NOISE_ROWS`](super::row_noise::NOISE_ROWS) rows per stream),
        /// so blocks solved on their own get the rows' noise of the whole batch. A multiple of
        /// `NOISE_ROWS`; `solve` fails with [`Error::InvalidOption`](crate::Error) otherwise.
        pub fn first_row(mut self, first_row: usize) -> Self {
            self.noise.first_row = first_row;
            self
        }

        /// Which states to keep ([`Record::Final`] or [`Record::EveryStep`]).
        pub fn record(mut self, record: Record) -> Self {
            self.record = record;
            self
        }
    };
}
pub(crate) use noise_and_record_setters;

use otto_ot::Matrix;

use super::row_noise::{RowNoise, NOISE_ROWS};
use super::{check_problem, Record, Recorder, Solution, Stats, Status};
use crate::error::{Error, Result};
use crate::field::Denoiser;
use crate::path::Level;

/// Where a run's noise comes from: the seed, and the index of the run's first row in the batch
/// it is a block of ([`RowNoise`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct NoiseSource {
    pub seed: u64,
    pub first_row: usize,
}

/// The affine update `x ← c_x x + Σ_j c_j m_j + c_z z` of one step, `m_j` the denoised estimates
/// (most recent first), z ~ N(0, I).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Update {
    pub x: f64,
    pub m: [f64; 3],
    pub noise: f64,
}

/// The state of a diffusion sampler's run: the points, their denoised estimates (most recent
/// first), the noise stream, the counts and the recorder.
pub(crate) struct Run<'a> {
    pub x: Matrix,
    pub m: [Matrix; 3],
    pub z: Matrix,
    noise: RowNoise,
    pub stats: Stats,
    recorder: Recorder<'a>,
    denoiser: &'a dyn Denoiser,
}

impl<'a> Run<'a> {
    /// Checks the problem (the points as [`super::OdeSolver::solve`] does; at least two levels,
    /// finite, with α > 0 and σ > 0 except σ = 0 on the last) and starts a run at `levels[0]`.
    /// Errors: as [`super::OdeSolver::solve`], and [`Error::InvalidOption`] for the levels or for
    /// [`Record::Times`] (the diffusion samplers land on their own grid only).
    pub fn start(
        denoiser: &'a dyn Denoiser,
        x: &Matrix,
        levels: &[Level],
        noise: NoiseSource,
        record: &'a Record,
    ) -> Result<Self> {
        if !noise.first_row.is_multiple_of(NOISE_ROWS) {
            return Err(Error::InvalidOption {
                name: "first_row",
                value: format!("{} (not a multiple of {NOISE_ROWS})", noise.first_row),
                reason: "the noise is drawn per chunk of NOISE_ROWS rows; a block begins a chunk",
            });
        }
        if levels.len() < 2 {
            return Err(Error::InvalidOption {
                name: "levels",
                value: levels.len().to_string(),
                reason: "a diffusion sampler needs at least two noise levels (one step)",
            });
        }
        let first = levels[0].t;
        let last = levels[levels.len() - 1].t;
        check_problem(denoiser.dim(), x, first, last, &Record::Final)?;
        for (i, level) in levels.iter().enumerate() {
            let is_last = i + 1 == levels.len();
            let valid = level.t.is_finite()
                && level.alpha > 0.0
                && level.alpha.is_finite()
                && level.sigma.is_finite()
                && (level.sigma > 0.0 || (is_last && level.sigma == 0.0));
            if !valid {
                return Err(Error::InvalidOption {
                    name: "levels",
                    value: format!("{level:?} at index {i}"),
                    reason: "every level needs finite α > 0 and σ > 0 (σ = 0 only on the last)",
                });
            }
            if i > 0 && level.log_snr() <= levels[i - 1].log_snr() {
                return Err(Error::InvalidOption {
                    name: "levels",
                    value: format!("{level:?} at index {i}"),
                    reason: "log(α/σ) must increase from each level to the next (noise to data)",
                });
            }
        }
        if matches!(record, Record::Times(_)) {
            return Err(Error::InvalidOption {
                name: "record",
                value: "Times".into(),
                reason: "diffusion samplers record their own levels only (Final or EveryStep)",
            });
        }
        let (n, d) = x.shape();
        let mut recorder = Recorder::new(record);
        recorder.visit(first, x, true);
        Ok(Self {
            x: x.clone(),
            m: [
                Matrix::zeros(n, d),
                Matrix::zeros(n, d),
                Matrix::zeros(n, d),
            ],
            z: Matrix::zeros(n, d),
            noise: RowNoise::new(noise.seed, noise.first_row, n),
            stats: Stats::default(),
            recorder,
            denoiser,
        })
    }

    /// Shifts the stored estimates (m₀ → m₁ → m₂) and writes x̂1(`x`) at `level` into m₀.
    pub fn denoise_current(&mut self, level: &Level) {
        self.m.rotate_right(1);
        self.denoiser.denoise(level, &self.x, &mut self.m[0]);
        self.stats.nfe += 1;
    }

    /// x̂1 of the current points at `level` into `out`, counted (the stored estimates stay).
    pub fn denoise_points(&mut self, level: &Level, out: &mut Matrix) {
        self.denoiser.denoise(level, &self.x, out);
        self.stats.nfe += 1;
    }

    /// x̂1(`points`) at `level` into `out`, counted.
    pub fn denoise(&mut self, level: &Level, points: &Matrix, out: &mut Matrix) {
        self.denoiser.denoise(level, points, out);
        self.stats.nfe += 1;
    }

    /// Fills the noise buffer `z` with fresh N(0, I) draws, each row from its index's stream
    /// ([`RowNoise`]).
    pub fn draw_noise(&mut self) {
        self.noise.fill(&mut self.z);
    }

    /// Applies `update` to the points; the noise term uses the buffer of the last
    /// [`Run::draw_noise`] (drawn here when `update.noise ≠ 0` and `fresh_noise`).
    pub fn apply(&mut self, update: Update, fresh_noise: bool) {
        if update.noise != 0.0 && fresh_noise {
            self.draw_noise();
        }
        let x = self.x.as_mut_slice();
        for (xi, &m0) in x.iter_mut().zip(self.m[0].as_slice()) {
            *xi = update.x * *xi + update.m[0] * m0;
        }
        // One pass per further term, each only when its coefficient is nonzero: every point
        // gets the same operations in the same order as one fused expression, and the passes
        // vectorize (a branch per element did not).
        let terms = [
            (update.m[1], &self.m[1]),
            (update.m[2], &self.m[2]),
            (update.noise, &self.z),
        ];
        for (c, values) in terms {
            if c != 0.0 {
                for (xi, &v) in x.iter_mut().zip(values.as_slice()) {
                    *xi += c * v;
                }
            }
        }
    }

    /// Ends a step at `level`: records the points and reports whether they are still finite.
    pub fn finish_step(&mut self, level: &Level) -> bool {
        self.stats.accepted_steps += 1;
        let finite = self.x.as_slice().iter().all(|v| v.is_finite());
        if finite {
            self.recorder.visit(level.t, &self.x, true);
        }
        finite
    }

    /// The solution: completed at `level`, or diverged there.
    pub fn into_solution(self, level: &Level, completed: bool) -> Solution {
        Solution {
            x: self.x,
            t: level.t,
            status: if completed {
                Status::Completed
            } else {
                Status::Diverged
            },
            stats: self.stats,
            trajectory: self.recorder.trajectory,
        }
    }
}

/// Runs `step(run, k, s, t)` for every pair of consecutive levels and returns the solution, or a
/// diverged one at the first step whose points are not finite.
pub(crate) fn sample<'a>(
    mut run: Run<'a>,
    levels: &[Level],
    mut step: impl FnMut(&mut Run<'a>, usize, &Level, &Level),
) -> Solution {
    for (k, pair) in levels.windows(2).enumerate() {
        step(&mut run, k, &pair[0], &pair[1]);
        if !run.finish_step(&pair[1]) {
            return run.into_solution(&pair[1], false);
        }
    }
    run.into_solution(&levels[levels.len() - 1], true)
}

/// The ratio e^{−h} = (α_s σ_t)/(σ_s α_t) of a step s → t (0 when σ_t = 0).
pub(crate) fn exp_neg_h(s: &Level, t: &Level) -> f64 {
    (s.alpha * t.sigma) / (s.sigma * t.alpha)
}

#[cfg(test)]
mod tests;

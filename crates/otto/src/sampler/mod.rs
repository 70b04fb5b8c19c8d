//! The sampler axis: how a field is integrated. [`ode`] holds explicit Runge–Kutta solvers (Euler,
//! midpoint, Heun, RK4 and adaptive Dopri5) for any [`crate::field::VectorField`]; [`sde`] holds
//! Euler–Maruyama for the SDE with the same marginals, for any [`crate::field::ScoreField`]. The
//! diffusion samplers — [`Ddim`], [`DpmSolverPp`] (1, 2M, 3M, 2S, SDE-2M), [`EdmHeun`] and
//! [`PredictorCorrector`] (reverse-SDE Euler–Maruyama with a Langevin corrector) and [`UniPc`] —
//! step any [`crate::field::Denoiser`] through a grid of noise levels ([`grid`]); [`named`] picks
//! one by name ([`DiffusionSampler`]) with its [`DiffusionOptions`].
//!
//! Every solver follows one shape: an options struct (Default + builder setters, validated by
//! `solve`), then `solve(field, x, t0, t1)` returning a [`Solution`]: the final points, how the
//! run stopped ([`Status`]), its counts ([`Stats`]: NFE = field evaluations of the whole batch) and
//! the [`Trajectory`] requested with [`Record`]. Time follows [`crate::path`]'s convention; the
//! solvers integrate in either direction (t1 < t0 runs backward).

mod butcher;
pub mod ddim;
mod diffusion;
pub mod dpm_solver;
pub mod edm;
pub mod grid;
pub mod named;
pub mod ode;
pub mod predictor_corrector;
pub mod row_blocks;
pub mod row_noise;
pub mod sde;
pub mod unipc;

pub use ddim::Ddim;
pub use dpm_solver::{DpmSolverPp, DpmVariant};
pub use edm::EdmHeun;
pub use grid::{Discretization, TimeGrid};
pub use named::{DiffusionOptions, DiffusionSampler};
pub use ode::{Method, OdeSolver};
pub use predictor_corrector::PredictorCorrector;
pub use row_blocks::solve_by_row_blocks;
pub use sde::{Diffusion, EulerMaruyama};
pub use unipc::UniPc;

use otto_ot::Matrix;

use crate::error::{check_finite, Error, Result};

/// Which intermediate states a solver keeps.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Record {
    /// Only the final state (the default).
    #[default]
    Final,
    /// The initial state and the state after every (accepted) step.
    EveryStep,
    /// The states at exactly these times, which lie between t0 and t1 and are ordered in the
    /// direction of integration; the solvers land on each of them (fixed-step solvers insert them
    /// into their uniform grid, Dopri5 shortens the step that would cross one).
    Times(Vec<f64>),
}

/// Recorded states: `states[i]` at time `times[i]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trajectory {
    /// The times of the recorded states, in the order of integration.
    pub times: Vec<f64>,
    /// The recorded states (each n×d).
    pub states: Vec<Matrix>,
}

/// How a solver stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    /// It reached t1.
    Completed,
    /// Dopri5 used its step budget (accepted plus rejected steps) before t1; the state at the
    /// time reached is returned, flagged.
    StepCap,
    /// Dopri5's step size fell below the resolution of the time variable before t1.
    StepSizeUnderflow,
    /// The state became non-finite; it must not be used.
    Diverged,
}

impl Status {
    /// True for [`Status::Completed`].
    pub fn is_completed(&self) -> bool {
        matches!(self, Status::Completed)
    }
}

/// What a solver counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Number of function evaluations: calls of `velocity` or `score` on the whole batch.
    pub nfe: usize,
    /// Steps taken (for fixed-step solvers, all of them).
    pub accepted_steps: usize,
    /// Steps rejected by the error control (always 0 for fixed-step solvers).
    pub rejected_steps: usize,
}

/// The result of a solver: the state at time `t` (t1 unless the run stopped early), how it stopped,
/// its counts and its recorded trajectory (empty under [`Record::Final`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// The final state, n×d.
    pub x: Matrix,
    /// The time reached.
    pub t: f64,
    /// How the run stopped.
    pub status: Status,
    /// Counts.
    pub stats: Stats,
    /// The recorded states.
    pub trajectory: Trajectory,
}

/// The empirical convergence order p of a fixed-step solver: minus the least-squares slope of
/// `log error` against `log steps`, so that `error ≈ C · steps^(−p)` (p ≈ 1 for Euler, 4 for RK4;
/// Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.1). Errors must be positive.
///
/// Panics if the slices differ in length or hold fewer than two points.
pub fn convergence_order(errors: &[f64], steps: &[usize]) -> f64 {
    assert!(
        errors.len() == steps.len() && errors.len() >= 2,
        "convergence_order needs two or more (error, steps) pairs, got {} errors and {} step counts",
        errors.len(),
        steps.len()
    );
    let xs: Vec<f64> = steps.iter().map(|&s| (s as f64).ln()).collect();
    let ys: Vec<f64> = errors.iter().map(|e| e.ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    -sxy / sxx
}

/// The problem every solver checks before running: a finite, non-empty batch of the field's
/// dimension, finite times, and record times between t0 and t1 in the direction of integration.
fn check_problem(dim: usize, x: &Matrix, t0: f64, t1: f64, record: &Record) -> Result<()> {
    if x.rows() == 0 {
        return Err(Error::Empty {
            what: "initial points",
        });
    }
    if x.cols() != dim {
        return Err(Error::Shape {
            what: "initial points",
            expected: format!("{dim} columns (the field's dimension)"),
            got: format!("{} columns", x.cols()),
        });
    }
    check_finite("initial points", x.as_slice())?;
    check_finite("integration interval [t0, t1]", &[t0, t1])?;
    if let Record::Times(times) = record {
        check_finite("record times", times)?;
        let direction = (t1 - t0).signum();
        let mut previous = t0;
        for &t in times {
            if (t - previous) * direction < 0.0 || (t1 - t) * direction < 0.0 {
                return Err(Error::InvalidOption {
                    name: "record times",
                    value: t.to_string(),
                    reason: "record times must lie between t0 and t1, ordered from t0 to t1",
                });
            }
            previous = t;
        }
    }
    Ok(())
}

/// Collects the states a [`Record`] asks for as the solver passes its grid points.
struct Recorder<'a> {
    record: &'a Record,
    next: usize,
    trajectory: Trajectory,
}

impl<'a> Recorder<'a> {
    fn new(record: &'a Record) -> Self {
        Self {
            record,
            next: 0,
            trajectory: Trajectory::default(),
        }
    }

    /// Called with the state at each time the solver lands on (t0 included); `at_stop` says
    /// whether `t` is one of the exact stop times returned by [`stop_times`].
    fn visit(&mut self, t: f64, x: &Matrix, at_stop: bool) {
        match self.record {
            Record::Final => {}
            Record::EveryStep => self.push(t, x),
            Record::Times(times) => {
                while at_stop && self.next < times.len() && times[self.next] == t {
                    self.push(t, x);
                    self.next += 1;
                }
            }
        }
    }

    fn push(&mut self, t: f64, x: &Matrix) {
        self.trajectory.times.push(t);
        self.trajectory.states.push(x.clone());
    }
}

/// The times a solver must land on exactly, in the order of integration, ending with t1: the
/// record times (if any) after t0, then t1.
fn stop_times(record: &Record, t0: f64, t1: f64) -> Vec<f64> {
    let mut stops: Vec<f64> = match record {
        Record::Times(times) => times.iter().copied().filter(|&t| t != t0).collect(),
        _ => Vec::new(),
    };
    stops.dedup();
    if stops.last() != Some(&t1) {
        stops.push(t1);
    }
    stops
}

/// The uniform grid of `steps` steps from t0 to t1 with the stop times inserted (a stop within
/// 1e-9 of a step of a grid point replaces it), as (time, is a stop) pairs starting at t0.
fn fixed_grid(steps: usize, t0: f64, t1: f64, stops: &[f64]) -> Vec<(f64, bool)> {
    let h = (t1 - t0) / steps as f64;
    let tolerance = 1e-9 * h.abs();
    let mut grid = vec![(t0, false)];
    let mut stops = stops.iter().peekable();
    for i in 1..=steps {
        let t = if i == steps { t1 } else { t0 + i as f64 * h };
        while let Some(&&s) = stops.peek() {
            if (t - s) * h.signum() <= tolerance {
                break;
            }
            grid.push((s, true));
            stops.next();
        }
        match stops.peek() {
            Some(&&s) if (s - t).abs() <= tolerance => {
                grid.push((s, true));
                stops.next();
            }
            _ => grid.push((t, false)),
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convergence_order_recovers_a_power_law() {
        // Truth: errors exactly C·N^(−3) give slope −3; a constant factor does not change it.
        let steps = [8, 16, 32, 64];
        let errors: Vec<f64> = steps.iter().map(|&n| 7.0 * (n as f64).powi(-3)).collect();
        assert!((convergence_order(&errors, &steps) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn fixed_grid_inserts_stops() {
        // Truth: the uniform grid 0, .25, .5, .75, 1 with 0.3 inserted and 0.5 kept as a stop.
        let grid = fixed_grid(4, 0.0, 1.0, &[0.3, 0.5, 1.0]);
        let times: Vec<f64> = grid.iter().map(|g| g.0).collect();
        assert_eq!(times, vec![0.0, 0.25, 0.3, 0.5, 0.75, 1.0]);
        assert_eq!(grid.iter().filter(|g| g.1).count(), 3);
        let back = fixed_grid(2, 1.0, 0.0, &[0.7, 0.0]);
        let times: Vec<f64> = back.iter().map(|g| g.0).collect();
        assert_eq!(times, vec![1.0, 0.7, 0.5, 0.0]);
    }
}

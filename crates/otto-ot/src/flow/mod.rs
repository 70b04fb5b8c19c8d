//! Wasserstein gradient flows: the Fokker–Planck PDE, the exact Gaussian JKO scheme, the entropic
//! JKO scheme and Langevin particles, side by side on one problem (MATH.md §6).
//!
//! The Fokker–Planck equation `∂_t ρ = ∇·(ρ∇V) + DΔρ` is the Wasserstein gradient flow of the free
//! energy `F(ρ) = D∫ρ log ρ + ∫Vρ` ([`energy`]), and the JKO scheme (Jordan, Kinderlehrer & Otto
//! 1998, *The variational formulation of the Fokker–Planck equation*, SIAM J. Math. Anal. 29)
//!
//! `ρ_{k+1} = argmin_ρ W2²(ρ, ρ_k)/(2h) + F(ρ)`
//!
//! is its implicit Euler step, first order in `h`. This module holds
//! - [`grid`]: uniform 1-D and 2-D grids and unit-mass densities on them;
//! - [`energy`]: free energies (entropy, potential, porous-medium terms) and potentials;
//! - [`fokker_planck`]: the reference PDE solver (Scharfetter–Gummel fluxes, implicit in time);
//! - [`jko`]: the exact JKO recursion and the exact Fokker–Planck solution for Gaussians and a
//!   quadratic potential;
//! - [`entropic_jko`]: the entropic JKO scheme of Peyré (2015) on grids, with
//!   [`gibbs_convolution`], its Gibbs kernel as separable log-domain convolutions;
//! - [`langevin`]: unadjusted Langevin and MALA particles, and their W2 distance to a grid density.
//!
//! **Time conventions.** `t` is physical time of the PDE. A JKO step of size `h` advances time by
//! `h`. Peyré (2015) writes the step as `argmin W_γ(ρ, ρ_k) + τF(ρ)` with `W_γ` the entropic cost
//! for `|x − y|²`; dividing by τ shows that `τ = 2h`, so an entropic step with parameter τ
//! advances time by `τ/2`. Every result records the physical time of each step.

pub mod energy;
pub mod entropic_jko;
pub mod fokker_planck;
pub mod gibbs_convolution;
pub mod grid;
pub mod jko;
pub mod langevin;
mod prox;

pub use energy::{FreeEnergy, GridEnergy, Potential};
pub use entropic_jko::EntropicJko;
pub use fokker_planck::FokkerPlanck;
pub use grid::{Grid, GridDensity};
pub use jko::{GaussianJko, OrnsteinUhlenbeck};
pub use langevin::Langevin;

use crate::error::{OtError, Result};
use crate::status::Status;

/// What one step of a grid scheme did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLog {
    /// Physical time after the step.
    pub time: f64,
    /// The free energy `F(ρ)` after the step.
    pub energy: f64,
    /// Iterations of the step's inner solver (Sinkhorn iterations for the entropic JKO; 1 for
    /// the direct solves of Fokker–Planck).
    pub iterations: usize,
    /// The step's error: the final marginal error `‖πᵀ1 − ρ_k ΔV‖₁` of the entropic JKO, the
    /// mass change `|Σρ_{k+1}ΔV − Σρ_kΔV|` of Fokker–Planck.
    pub error: f64,
    /// The transport cost `⟨c, π⟩` of the step's plan (an upper bound on `W2²(ρ_{k+1}, ρ_k)`),
    /// for the JKO schemes.
    pub transport_cost: Option<f64>,
}

/// A density saved along a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Physical time.
    pub time: f64,
    /// The density at that time.
    pub density: GridDensity,
}

/// The result of a grid scheme run: saved densities, one [`StepLog`] per step, and how it stopped.
#[derive(Debug, Clone)]
pub struct FlowRun {
    /// The initial density, every `save_every`-th step, and the final density.
    pub snapshots: Vec<Snapshot>,
    /// `F(ρ_0)`, the free energy of the initial density.
    pub initial_energy: f64,
    /// One entry per step.
    pub log: Vec<StepLog>,
    /// `Converged` when every step met its tolerance (`iterations` summed over steps, `error` the
    /// largest step error); `IterationCap` when some step hit its cap; `Diverged` when a step
    /// produced non-finite values (the run stops there).
    pub status: Status,
}

impl FlowRun {
    /// The last saved density (the final one).
    pub fn last(&self) -> &GridDensity {
        &self
            .snapshots
            .last()
            .expect("a run saves its initial density")
            .density
    }

    /// The free energy before the first step and after every step.
    pub fn energies(&self) -> Vec<f64> {
        std::iter::once(self.initial_energy)
            .chain(self.log.iter().map(|s| s.energy))
            .collect()
    }
}

/// How many steps of size about `dt` reach `t_end`, and the exact step `t_end/steps`.
pub(crate) fn steps_to(t_end: f64, dt: f64) -> Result<(usize, f64)> {
    if !(t_end > 0.0 && t_end.is_finite()) {
        return Err(OtError::InvalidOption {
            name: "t_end",
            value: t_end.to_string(),
            reason: "the final time must be positive and finite",
        });
    }
    let steps = ((t_end / dt) - 1e-9).ceil().max(1.0) as usize;
    Ok((steps, t_end / steps as f64))
}

/// Checks a positive, finite option.
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<()> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(OtError::InvalidOption {
            name,
            value: value.to_string(),
            reason: "must be positive and finite",
        })
    }
}

/// Collects snapshots and step logs of a run and folds the step statuses into the run's.
pub(crate) struct Recorder {
    save_every: usize,
    run: FlowRun,
    iterations: usize,
    worst_error: f64,
    capped: bool,
}

impl Recorder {
    /// Starts a run at `initial` (saved) with energy `initial_energy`; `save_every = 0` saves only
    /// the initial and final densities.
    pub(crate) fn new(initial: &GridDensity, initial_energy: f64, save_every: usize) -> Self {
        Self {
            save_every,
            run: FlowRun {
                snapshots: vec![Snapshot {
                    time: 0.0,
                    density: initial.clone(),
                }],
                initial_energy,
                log: Vec::new(),
                status: Status::Converged {
                    iterations: 0,
                    error: 0.0,
                },
            },
            iterations: 0,
            worst_error: 0.0,
            capped: false,
        }
    }

    /// Records step `k` (1-based) with its status, and its density — made by `density` only when
    /// it is saved; `last` forces a snapshot. Returns false when the step diverged (the run must
    /// stop).
    pub(crate) fn step(
        &mut self,
        k: usize,
        density: impl FnOnce() -> GridDensity,
        log: StepLog,
        status: Status,
        last: bool,
    ) -> bool {
        self.iterations += status.iterations();
        if let Status::Diverged { .. } = status {
            self.run.status = Status::Diverged {
                iterations: self.iterations,
            };
            self.run.log.push(log);
            return false;
        }
        self.capped |= matches!(status, Status::IterationCap { .. });
        self.worst_error = self.worst_error.max(status.error());
        self.run.log.push(log);
        if last || (self.save_every > 0 && k.is_multiple_of(self.save_every)) {
            self.run.snapshots.push(Snapshot {
                time: log.time,
                density: density(),
            });
        }
        true
    }

    /// The finished run.
    pub(crate) fn finish(mut self) -> FlowRun {
        if !matches!(self.run.status, Status::Diverged { .. }) {
            self.run.status = if self.capped {
                Status::IterationCap {
                    iterations: self.iterations,
                    error: self.worst_error,
                }
            } else {
                Status::Converged {
                    iterations: self.iterations,
                    error: self.worst_error,
                }
            };
        }
        self.run
    }
}

/// Problems shared by the tests of this module.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{FreeEnergy, Potential};
    use crate::gaussian::Gaussian;
    use crate::matrix::Matrix;

    /// The 1-D OU free energy of MATH.md §6: V = x²/2, D = 1.
    pub(crate) fn ou_1d() -> FreeEnergy {
        let one = Matrix::new(1, 1, vec![1.0]).unwrap();
        FreeEnergy::fokker_planck(Potential::quadratic(&[0.0], &one).unwrap(), 1.0)
    }

    /// `N(mean, var)` on the line.
    pub(crate) fn normal_1d(mean: f64, var: f64) -> Gaussian {
        Gaussian::new(&[mean], &Matrix::new(1, 1, vec![var]).unwrap()).unwrap()
    }
}

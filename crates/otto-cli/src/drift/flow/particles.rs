//! The particle flow of a drift field: x ← x + η·V(x; y⁺, x), the positives y⁺ a fixed draw of
//! the target and the negatives the particles themselves (each row's own point masked), no
//! network. It is the drifting model's training with the generator replaced by free particles:
//! gradient descent with step η/2 on the drifting loss Σ‖x − sg(x + V(x))‖² (whose gradient is
//! −2V) moves x by exactly ηV. Read as explicit Euler steps of ẋ = V(x), the flows of `mmd`,
//! `kde-score` and `sinkhorn-divergence` are W2 gradient flows of MMD², a smoothed KL and S_ε.

use anyhow::{Context, Result};
use otto::drift::DriftField;
use otto_ot::Matrix;
use serde::Serialize;

use super::metrics::{Distances, Metrics};
use crate::drift::points_f32;

/// One recorded state of the flow.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Steps taken.
    pub iteration: usize,
    /// Distances from the particles to the held-out target.
    #[serde(flatten)]
    pub distances: Distances,
    /// (1/n) Σ_i ‖V(x_i)‖², the field's magnitude: 0 at the fixed point p = q.
    pub mean_velocity_sq: f64,
    /// Particles whose kernel values underflowed (V = 0 there).
    pub dead_rows: usize,
}

/// How a flow stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// All iterations ran.
    Completed,
    /// A particle coordinate became non-finite after `iteration` steps (η too large).
    Diverged {
        /// The step whose update produced the non-finite value.
        iteration: usize,
    },
}

/// A flow's options: the field, the step η, the number of steps and how often to record.
pub struct ParticleFlow {
    pub field: DriftField,
    pub eta: f64,
    pub iters: usize,
    pub record_every: usize,
}

/// What a flow produced.
pub struct FlowRun {
    /// The states at iterations 0, R, 2R, …, and the last.
    pub records: Vec<Record>,
    /// The particles at each record (n × d each).
    pub frames: Vec<Matrix>,
    /// How it stopped.
    pub stop: Stop,
    /// The largest number of dead rows at any step, and a temperature that would revive them.
    pub dead_rows: usize,
    pub suggested_temperature: Option<f64>,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Completed => f.write_str("completed"),
            Stop::Diverged { iteration } => write!(
                f,
                "diverged: a coordinate became non-finite at step {iteration}; lower --eta"
            ),
        }
    }
}

impl FlowRun {
    /// The particles at the last record.
    pub fn last(&self) -> &Matrix {
        self.frames.last().expect("a flow records its start")
    }
}

/// Rows of f32 coordinates as an n × d matrix.
fn matrix(x: &[f32], d: usize) -> Matrix {
    Matrix::new(x.len() / d, d, x.iter().map(|&v| f64::from(v)).collect())
        .expect("rows of d coordinates")
}

/// (1/n) Σ_i ‖v_i‖² of a row-major n × d field.
pub fn mean_velocity_sq(v: &[f32], d: usize) -> f64 {
    v.iter().map(|&c| f64::from(c) * f64::from(c)).sum::<f64>() / (v.len() / d).max(1) as f64
}

impl ParticleFlow {
    /// Runs the flow from `x0` toward `positives`, recording distances to `metrics`' held-out
    /// target; `tick(step, message)` after every step. Errors: the field's (bad points, an
    /// entropic problem that does not converge) and the metrics'.
    pub fn run(
        &self,
        x0: &Matrix,
        positives: &Matrix,
        metrics: &Metrics,
        tick: &mut dyn FnMut(usize, &str),
    ) -> Result<FlowRun> {
        let d = x0.cols();
        let mut x = points_f32(x0);
        let y = points_f32(positives);
        let mut run = FlowRun {
            records: Vec::new(),
            frames: Vec::new(),
            stop: Stop::Completed,
            dead_rows: 0,
            suggested_temperature: None,
        };
        let name = self.field.variant().name();
        for k in 0..=self.iters {
            let drift = self
                .field
                .evaluate(&x, &y, None, d)
                .with_context(|| format!("{name}, iteration {k}"))?;
            if drift.dead_rows > run.dead_rows {
                run.dead_rows = drift.dead_rows;
                run.suggested_temperature = drift.suggested_temperature;
            }
            let speed = mean_velocity_sq(&drift.velocity, d);
            if k % self.record_every == 0 || k == self.iters {
                let state = matrix(&x, d);
                run.records.push(Record {
                    iteration: k,
                    distances: metrics
                        .measure(&state)
                        .with_context(|| format!("{name}, iteration {k}"))?,
                    mean_velocity_sq: speed,
                    dead_rows: drift.dead_rows,
                });
                run.frames.push(state);
            }
            if k == self.iters {
                break;
            }
            let eta = self.eta as f32;
            x.iter_mut()
                .zip(&drift.velocity)
                .for_each(|(xi, vi)| *xi += eta * vi);
            if x.iter().any(|v| !v.is_finite()) {
                run.stop = Stop::Diverged { iteration: k + 1 };
                break;
            }
            let w2 = run.records.last().map_or(f64::NAN, |r| r.distances.w2);
            tick(k + 1, &format!("{name}  ‖V‖² {speed:.2e}  W2 {w2:.3}"));
        }
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otto::drift::Variant;

    #[test]
    fn one_step_of_kde_score_moves_each_particle_by_eta_times_the_field() {
        // Truth: the field itself, evaluated independently at the start; after one step of
        // η = 0.5 the particles are x0 + 0.5·V(x0) (f32 arithmetic, so 1e-6).
        let x0 = otto::data::Toy::Gaussian { dim: 2 }.sample(40, 1);
        let y = otto::data::Toy::Moons.sample(50, 2);
        let field = DriftField::new(Variant::KdeScore);
        let v = field
            .evaluate(&points_f32(&x0), &points_f32(&y), None, 2)
            .unwrap()
            .velocity;
        let metrics = Metrics::new(otto::data::Toy::Moons.sample(50, 3));
        let flow = ParticleFlow {
            field,
            eta: 0.5,
            iters: 1,
            record_every: 1,
        };
        let run = flow.run(&x0, &y, &metrics, &mut |_, _| {}).unwrap();
        assert_eq!(run.records.len(), 2);
        assert_eq!(run.stop, Stop::Completed);
        for (k, (&after, &before)) in run.last().as_slice().iter().zip(x0.as_slice()).enumerate() {
            let expected = before + 0.5 * f64::from(v[k]);
            assert!((after - expected).abs() < 1e-6, "{after} vs {expected}");
        }
    }
}

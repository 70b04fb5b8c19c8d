//! A trained network as a field: the network's output is read through its parameterization
//! (velocity, score, noise or data) and converted to the velocity a sampler integrates — or, on an
//! affine Gaussian path, to the score an SDE sampler needs ([`crate::path::Parameterization`]).

use std::sync::Mutex;

use otto_ot::Matrix;

use super::{Denoiser, ScoreField, VectorField};
use crate::network::{Mlp, Workspace};
use crate::path::{Level, Parameterization, Schedule, SchedulePoint};

/// A trained [`Mlp`] with what its output means.
pub struct NetworkField {
    mlp: Mlp,
    parameterization: Parameterization,
    schedule: Option<Box<dyn Schedule>>,
    workspace: Mutex<Option<Workspace>>,
}

/// Why a network cannot be used as a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// Only velocity outputs can be integrated without the schedule of an affine Gaussian path.
    #[error("a network predicting {0} needs the schedule of its affine path to give a velocity")]
    NeedsSchedule(&'static str),
    /// The network's input and output dimensions differ.
    #[error("the network maps dimension {input} to {output}; a field needs them equal")]
    Dimensions { input: usize, output: usize },
}

impl NetworkField {
    /// Wraps `mlp`, whose output is `parameterization` on a path with `schedule` (`None` for
    /// torchcfm's interpolants, which only velocity networks use).
    pub fn new(
        mlp: Mlp,
        parameterization: Parameterization,
        schedule: Option<Box<dyn Schedule>>,
    ) -> Result<Self, FieldError> {
        let c = mlp.config();
        if c.input_dim != c.output_dim {
            return Err(FieldError::Dimensions {
                input: c.input_dim,
                output: c.output_dim,
            });
        }
        if schedule.is_none() && parameterization != Parameterization::Velocity {
            return Err(FieldError::NeedsSchedule(parameterization.name()));
        }
        Ok(Self {
            mlp,
            parameterization,
            schedule,
            workspace: Mutex::new(None),
        })
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The field with its score, when the path is affine Gaussian (a schedule is known).
    pub fn with_score(&self) -> Option<&dyn ScoreField> {
        self.schedule.as_ref().map(|_| self as &dyn ScoreField)
    }

    /// The field as a denoiser, when the path is affine Gaussian (a schedule is known).
    pub fn with_denoiser(&self) -> Option<NetworkDenoiser<'_>> {
        self.schedule.as_deref().map(|schedule| NetworkDenoiser {
            field: self,
            schedule,
        })
    }

    /// The network output at time t for every row of x, converted to `to` at the schedule's
    /// values at t, or at `level`'s α and σ when given.
    fn evaluate(
        &self,
        t: f64,
        level: Option<&Level>,
        x: &Matrix,
        to: Parameterization,
        out: &mut Matrix,
    ) {
        let (n, d) = x.shape();
        let ts = vec![t as f32; n];
        let xs: Vec<f32> = x.as_slice().iter().map(|&v| v as f32).collect();
        let mut raw = vec![0.0f32; n * d];
        {
            let mut guard = self.workspace.lock().unwrap_or_else(|e| e.into_inner());
            let ws = match guard.as_mut() {
                Some(ws) if ws.capacity() >= n => ws,
                _ => guard.insert(Workspace::new(&self.mlp, n)),
            };
            self.mlp
                .forward(&ts, &xs, &mut raw, ws)
                .expect("the buffers are sized from the network's own configuration");
        }
        let value =
            Matrix::new(n, d, raw.into_iter().map(f64::from).collect()).expect("n × d values");
        match &self.schedule {
            Some(s) => {
                let point = match level {
                    Some(level) => SchedulePoint::at_level(s.as_ref(), level),
                    None => SchedulePoint::at(s.as_ref(), t),
                };
                self.parameterization
                    .conversion_at(to, &point)
                    .apply(x, &value, out)
            }
            // A velocity network without a schedule: the only conversion is the identity; any
            // other request is a misuse that must not pass for a result.
            None if to == Parameterization::Velocity => {
                out.as_mut_slice().copy_from_slice(value.as_slice())
            }
            None => out.as_mut_slice().fill(f64::NAN),
        }
    }
}

impl VectorField for NetworkField {
    fn dim(&self) -> usize {
        self.mlp.config().input_dim
    }

    fn velocity(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        self.evaluate(t, None, x, Parameterization::Velocity, out);
    }
}

impl ScoreField for NetworkField {
    /// The score through the parameterization's conversion; only reachable through
    /// [`NetworkField::with_score`], which requires a schedule.
    fn score(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        self.evaluate(t, None, x, Parameterization::Score, out);
    }
}

/// A [`NetworkField`] on an affine Gaussian path read as a [`Denoiser`]
/// ([`NetworkField::with_denoiser`]).
pub struct NetworkDenoiser<'a> {
    field: &'a NetworkField,
    schedule: &'a dyn Schedule,
}

impl Denoiser for NetworkDenoiser<'_> {
    fn dim(&self) -> usize {
        self.field.mlp.config().input_dim
    }

    /// The network at the level's time, its output converted to x̂1 with the level's α and σ.
    fn denoise(&self, level: &Level, x: &Matrix, out: &mut Matrix) {
        self.field
            .evaluate(level.t, Some(level), x, Parameterization::Data, out);
    }

    fn schedule(&self) -> &dyn Schedule {
        self.schedule
    }
}

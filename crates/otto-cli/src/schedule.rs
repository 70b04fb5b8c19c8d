//! Schedules of affine paths by name, the one place the command line turns a name into a
//! [`Schedule`].

use anyhow::{bail, Result};
use otto::path::{CondOt, Schedule, VpLinear, VpTrig};

/// The names [`parse`] accepts.
pub const NAMES: [&str; 3] = ["cond-ot", "vp-trig", "vp-linear"];

/// A schedule chosen by name: `cond-ot` (α = t, σ = 1 − t), `vp-trig` (α = sin(πt/2),
/// σ = cos(πt/2)) or `vp-linear` (variance-preserving linear β, β0 = 0.1, β1 = 20).
pub struct NamedSchedule(Box<dyn Schedule>);

/// The schedule called `name`; the error lists the valid names.
pub fn parse(name: &str) -> Result<NamedSchedule> {
    let schedule: Box<dyn Schedule> = match name {
        "cond-ot" => Box::new(CondOt::default()),
        "vp-trig" => Box::new(VpTrig),
        "vp-linear" => Box::new(VpLinear::default()),
        other => bail!(
            "unknown schedule '{other}'; valid schedules: {}",
            NAMES.join(", ")
        ),
    };
    Ok(NamedSchedule(schedule))
}

impl Schedule for NamedSchedule {
    fn alpha(&self, t: f64) -> f64 {
        self.0.alpha(t)
    }
    fn sigma(&self, t: f64) -> f64 {
        self.0.sigma(t)
    }
    fn d_alpha(&self, t: f64) -> f64 {
        self.0.d_alpha(t)
    }
    fn d_sigma(&self, t: f64) -> f64 {
        self.0.d_sigma(t)
    }
    fn sigma_d_sigma(&self, t: f64) -> f64 {
        self.0.sigma_d_sigma(t)
    }
}

//! Schedules of affine paths by name, the one place the command line turns a name into a
//! [`Schedule`].

use anyhow::Result;
use otto::path::{Schedule, ScheduleKind};

/// The schedule called `name` (`cond-ot`, `vp-trig`, `vp-linear`, `vp-cosine`, `sub-vp`, `ve`,
/// `edm`) with its published defaults; the error lists the valid names.
pub fn parse(name: &str) -> Result<Box<dyn Schedule>> {
    Ok(name.parse::<ScheduleKind>()?.build())
}

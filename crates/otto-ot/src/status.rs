//! How a solver stopped. Every solver in `otto-ot` returns one of these with its result, so that a
//! result that did not converge is flagged, never silently passed on.

/// How an iterative solver stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    /// The stopping criterion was met after `iterations` iterations; `error` is the final value of
    /// the criterion (marginal violation for Sinkhorn, most negative reduced cost for exact OT).
    Converged { iterations: usize, error: f64 },
    /// The iteration cap was reached first; the result is usable but flagged.
    IterationCap { iterations: usize, error: f64 },
    /// Non-finite values appeared; the result must not be used.
    Diverged { iterations: usize },
}

impl Status {
    /// True for [`Status::Converged`].
    pub fn is_converged(&self) -> bool {
        matches!(self, Status::Converged { .. })
    }

    /// Iterations performed.
    pub fn iterations(&self) -> usize {
        match *self {
            Status::Converged { iterations, .. }
            | Status::IterationCap { iterations, .. }
            | Status::Diverged { iterations } => iterations,
        }
    }

    /// Final value of the stopping criterion (NaN when diverged).
    pub fn error(&self) -> f64 {
        match *self {
            Status::Converged { error, .. } | Status::IterationCap { error, .. } => error,
            Status::Diverged { .. } => f64::NAN,
        }
    }

    /// A short lowercase name: `converged`, `iteration_cap` or `diverged`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Converged { .. } => "converged",
            Status::IterationCap { .. } => "iteration_cap",
            Status::Diverged { .. } => "diverged",
        }
    }
}

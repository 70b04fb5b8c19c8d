//! Typed errors of every solver in `otto-ot`. Bad input is an error that names the offending input,
//! never a panic.

/// What went wrong, with the name of the input it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OtError {
    /// An input has the wrong shape.
    #[error("{what}: expected {expected}, got {got}")]
    Shape {
        what: &'static str,
        expected: String,
        got: String,
    },
    /// An input is empty where at least one entry is needed.
    #[error("{what} is empty")]
    Empty { what: &'static str },
    /// An input holds NaN or ±∞.
    #[error("{what} holds a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        what: &'static str,
        index: usize,
        value: f64,
    },
    /// A weight vector holds a negative entry.
    #[error("{what} holds a negative weight ({value}) at index {index}")]
    NegativeWeight {
        what: &'static str,
        index: usize,
        value: f64,
    },
    /// A weight vector has zero total mass.
    #[error("{what} has zero total mass")]
    ZeroMass { what: &'static str },
    /// Balanced transport needs both marginals to carry the same mass.
    #[error("the marginals carry different mass: sum(a) = {mass_a}, sum(b) = {mass_b} (they differ by {:.3e}, relative {:.3e})", (mass_a - mass_b).abs(), (mass_a - mass_b).abs() / mass_a.max(*mass_b))]
    MassMismatch { mass_a: f64, mass_b: f64 },
    /// An option of a solver is out of its valid range.
    #[error("invalid option {name} = {value}: {reason}")]
    InvalidOption {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    /// A matrix that must be symmetric positive (semi-)definite is not.
    #[error("{what} is not symmetric positive {kind}definite")]
    NotPositiveDefinite {
        /// The matrix, with why it fails where that helps (e.g. "(not symmetric)").
        what: String,
        /// `"semi-"` for semidefinite, else empty.
        kind: &'static str,
    },
    /// Probability weights must sum to one.
    #[error("{what} sum to {sum}, not 1 (off by {:.3e})", (sum - 1.0).abs())]
    NotNormalized { what: &'static str, sum: f64 },
    /// The caller cancelled the solve (e.g. Ctrl-C from Python) before it finished.
    #[error("the solve was cancelled")]
    Cancelled,
    /// A solver cannot handle this (valid) input, e.g. particles for a potential known only on a grid.
    #[error("{what} is not supported: {reason}")]
    Unsupported {
        what: &'static str,
        reason: &'static str,
    },
}

/// Shorthand for results of `otto-ot`.
pub type Result<T> = std::result::Result<T, OtError>;

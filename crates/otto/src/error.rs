//! Typed errors of `otto`. Bad input or a bad option is an error that names the offending field
//! and value, never a panic.

/// What went wrong, with the name of the input or option it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
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
    /// An option is out of its valid range.
    #[error("invalid option {name} = {value}: {reason}")]
    InvalidOption {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    /// A weight vector holds a negative entry.
    #[error("{what} holds a negative weight ({value}) at index {index}")]
    NegativeWeight {
        what: &'static str,
        index: usize,
        value: f64,
    },
    /// Probability weights must sum to one (to [`crate::data::gmm::WEIGHT_SUM_TOLERANCE`]).
    #[error("{what} sum to {sum}, not 1 (off by {:.3e})", (sum - 1.0).abs())]
    NotNormalized { what: &'static str, sum: f64 },
    /// A matrix that must be symmetric positive definite is not.
    #[error("{what} is not symmetric positive definite: {reason}")]
    NotPositiveDefinite { what: String, reason: &'static str },
}

/// Shorthand for results of `otto`.
pub type Result<T> = std::result::Result<T, Error>;

/// Fails with [`Error::NonFinite`] naming `what` at the first NaN or ±∞ of `values`.
pub(crate) fn check_finite(what: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Fails with [`Error::InvalidOption`] unless `ok`.
pub(crate) fn ensure(ok: bool, name: &'static str, value: f64, reason: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidOption {
            name,
            value: value.to_string(),
            reason,
        })
    }
}

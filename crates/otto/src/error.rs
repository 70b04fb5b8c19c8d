//! Typed errors of `otto`. Bad input or a bad option is an error that names the offending field
//! and value, never a panic.
//!
//! The input checks of `otto` (shapes, emptiness, NaN/∞, weights, options, definiteness) are the
//! same as those of `otto-ot`, so `otto` shares its error type: [`Error`] is
//! [`otto_ot::OtError`].

pub use otto_ot::marginal::check_finite;
pub use otto_ot::OtError as Error;

/// Shorthand for results of `otto`.
pub type Result<T> = std::result::Result<T, Error>;

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

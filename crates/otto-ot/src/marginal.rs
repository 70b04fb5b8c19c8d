//! Marginals (histograms) and the checks every solver runs on its inputs.

use crate::error::{OtError, Result};

/// Relative tolerance on `|Σa − Σb| / max(Σa, Σb)` for balanced problems.
pub const MASS_TOLERANCE: f64 = 1e-6;

/// Fails if any entry of `values` is NaN or infinite.
pub fn check_finite(what: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(OtError::NonFinite {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Checks that `w` is a histogram of length `len` (non-empty, finite, non-negative, positive mass)
/// and returns its mass `Σ w`.
pub fn check_histogram(what: &'static str, w: &[f64], len: usize) -> Result<f64> {
    if w.len() != len {
        return Err(OtError::Shape {
            what,
            expected: format!("{len} weights"),
            got: format!("{} weights", w.len()),
        });
    }
    if w.is_empty() {
        return Err(OtError::Empty { what });
    }
    check_finite(what, w)?;
    if let Some(index) = w.iter().position(|&v| v < 0.0) {
        return Err(OtError::NegativeWeight {
            what,
            index,
            value: w[index],
        });
    }
    let mass: f64 = w.iter().sum();
    if mass <= 0.0 {
        return Err(OtError::ZeroMass { what });
    }
    Ok(mass)
}

/// Checks two histograms for a balanced problem: both valid and of equal mass up to
/// [`MASS_TOLERANCE`] (relative). Returns the common mass `Σ a`.
pub fn check_balanced(a: &[f64], n: usize, b: &[f64], m: usize) -> Result<f64> {
    let mass_a = check_histogram("source weights a", a, n)?;
    let mass_b = check_histogram("target weights b", b, m)?;
    if (mass_a - mass_b).abs() > MASS_TOLERANCE * mass_a.max(mass_b) {
        return Err(OtError::MassMismatch { mass_a, mass_b });
    }
    Ok(mass_a)
}

/// The uniform histogram `1/n` of length `n`.
pub fn uniform(n: usize) -> Vec<f64> {
    vec![1.0 / n as f64; n]
}

/// True when every weight equals the first one (to `1e-12` relative).
pub fn is_uniform(w: &[f64]) -> bool {
    let w0 = w.first().copied().unwrap_or(0.0);
    w.iter().all(|&v| (v - w0).abs() <= 1e-12 * w0.abs())
}

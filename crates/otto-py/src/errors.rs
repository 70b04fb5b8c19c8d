//! otto's typed errors as Python exceptions: bad input is an [`InputError`] (a `ValueError`
//! subclass) whose message names the argument; a bug in otto (a Rust panic, caught before it can
//! unwind into Python) is an [`InternalError`] (a `RuntimeError` subclass).

use otto_ot::OtError;
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::PyErr;

create_exception!(
    _core,
    InputError,
    PyValueError,
    "An argument is invalid (shape, dtype, NaN/inf, negative weights, mass mismatch, option range); the message names it."
);
create_exception!(
    _core,
    InternalError,
    PyRuntimeError,
    "A bug in otto: a Rust panic caught at the boundary. Please report it with the inputs that caused it."
);

/// The Python names of the inputs otto-ot's errors describe.
const ARGUMENTS: [(&str, &str); 6] = [
    ("source weights a", "a (source weights)"),
    ("target weights b", "b (target weights)"),
    ("cost matrix", "M (cost matrix)"),
    ("mean", "ms/mt (mean)"),
    ("covariance", "Cs/Ct (covariance)"),
    ("source covariance", "Cs (source covariance)"),
];

/// An otto-ot error as an [`InputError`], its subject spelled as the Python argument.
pub fn input(e: OtError) -> PyErr {
    let mut message = e.to_string();
    for (what, argument) in ARGUMENTS {
        if message.starts_with(what) {
            message = format!("{argument}{}", &message[what.len()..]);
            break;
        }
    }
    InputError::new_err(message)
}

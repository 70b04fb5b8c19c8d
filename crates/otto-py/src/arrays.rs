//! NumPy arrays in and out. Inputs are read in their logical (row, column) order whatever their
//! memory layout — C order, Fortran order or any strides — into one owned `f64` copy (the only
//! copy an input costs), with NaN/∞ refused by name; float32 is widened exactly. Outputs are moved
//! into NumPy without a copy.

use numpy::ndarray::{Array2, ArrayView1, ArrayView2};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use otto_ot::Matrix;
use pyo3::prelude::*;

use crate::errors::InputError;

/// The 2-D array `obj` (float64 or float32) as an owned row-major matrix; `name` is the Python
/// argument, for errors.
pub fn matrix(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Matrix> {
    let (rows, cols, data) = if let Ok(x) = obj.extract::<PyReadonlyArray2<'_, f64>>() {
        let v = x.as_array();
        (v.nrows(), v.ncols(), collect2(v, |x| x))
    } else if let Ok(x) = obj.extract::<PyReadonlyArray2<'_, f32>>() {
        let v = x.as_array();
        (v.nrows(), v.ncols(), collect2(v, f64::from))
    } else {
        return Err(wrong_array(obj, name, 2));
    };
    check_finite2(name, &data, cols)?;
    Ok(Matrix::new(rows, cols, data).expect("the shape matches the data"))
}

/// The 1-D array `obj` (float64 or float32) as an owned vector; `name` is the Python argument.
pub fn vector(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<f64>> {
    let data = if let Ok(x) = obj.extract::<PyReadonlyArray1<'_, f64>>() {
        collect1(x.as_array(), |x| x)
    } else if let Ok(x) = obj.extract::<PyReadonlyArray1<'_, f32>>() {
        collect1(x.as_array(), f64::from)
    } else {
        return Err(wrong_array(obj, name, 1));
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(InputError::new_err(format!(
            "{name} holds a non-finite value ({}) at index {i}",
            data[i]
        )));
    }
    Ok(data)
}

/// Like [`vector`], `None` standing for the uniform histogram of length `n`.
pub fn weights(obj: Option<&Bound<'_, PyAny>>, name: &str, n: usize) -> PyResult<Vec<f64>> {
    match obj {
        Some(w) => vector(w, name),
        None => Ok(otto_ot::marginal::uniform(n)),
    }
}

/// A transport problem's `(a, b, M)`: the cost matrix and its two histograms (`None`: uniform).
pub fn problem(
    a: Option<&Bound<'_, PyAny>>,
    b: Option<&Bound<'_, PyAny>>,
    m: &Bound<'_, PyAny>,
) -> PyResult<(Vec<f64>, Vec<f64>, Matrix)> {
    let cost = matrix(m, "M")?;
    let a = weights(a, "a", cost.rows())?;
    let b = weights(b, "b", cost.cols())?;
    Ok((a, b, cost))
}

/// Two weighted point clouds `(x, a)`, `(y, b)`; `names` are the Python names of x and y.
pub fn clouds(
    (x, y): (&Bound<'_, PyAny>, &Bound<'_, PyAny>),
    (a, b): (Option<&Bound<'_, PyAny>>, Option<&Bound<'_, PyAny>>),
    names: (&str, &str),
) -> PyResult<(Matrix, Vec<f64>, Matrix, Vec<f64>)> {
    let x = matrix(x, names.0)?;
    let y = matrix(y, names.1)?;
    let a = weights(a, "a", x.rows())?;
    let b = weights(b, "b", y.rows())?;
    Ok((x, a, y, b))
}

fn collect2<T: Copy>(v: ArrayView2<'_, T>, widen: impl Fn(T) -> f64) -> Vec<f64> {
    match v.as_slice() {
        Some(s) => s.iter().map(|&x| widen(x)).collect(),
        // Fortran order or strided: `iter` walks the logical row-major order.
        None => v.iter().map(|&x| widen(x)).collect(),
    }
}

fn collect1<T: Copy>(v: ArrayView1<'_, T>, widen: impl Fn(T) -> f64) -> Vec<f64> {
    v.iter().map(|&x| widen(x)).collect()
}

fn check_finite2(name: &str, data: &[f64], cols: usize) -> PyResult<()> {
    match data.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(InputError::new_err(format!(
            "{name} holds a non-finite value ({}) at [{}, {}]",
            data[k],
            k / cols.max(1),
            k % cols.max(1)
        ))),
        None => Ok(()),
    }
}

/// The error for an argument that is not a float array of dimension `ndim`, saying what it is.
fn wrong_array(obj: &Bound<'_, PyAny>, name: &str, ndim: usize) -> PyErr {
    let what = match obj.cast::<PyUntypedArray>() {
        Ok(arr) => format!(
            "a {}-D array of dtype {} with shape {:?}",
            arr.ndim(),
            arr.dtype(),
            arr.shape()
        ),
        Err(_) => format!(
            "an object of type {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ),
    };
    InputError::new_err(format!(
        "{name} must be a {ndim}-D float64 or float32 NumPy array, got {what}"
    ))
}

/// A row-major matrix as a new NumPy array (no copy).
pub fn to_numpy2<'py>(py: Python<'py>, m: Matrix) -> Bound<'py, PyArray2<f64>> {
    let (rows, cols) = m.shape();
    Array2::from_shape_vec((rows, cols), m.into_vec())
        .expect("the shape matches the data")
        .into_pyarray(py)
}

/// A vector as a new NumPy array (no copy).
pub fn to_numpy1(py: Python<'_>, v: Vec<f64>) -> Bound<'_, PyArray1<f64>> {
    v.into_pyarray(py)
}

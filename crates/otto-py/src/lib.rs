//! `otto_ot._core`: the compiled half of the `otto-ot` Python package (PyO3 + rust-numpy). Each
//! function copies its NumPy inputs once into otto-ot's types, solves on otto's own thread pool
//! with the GIL released (see `runtime`) and returns NumPy arrays; POT-compatible signatures,
//! `log` dicts and warnings are in the Python layer (`python/otto_ot/`).

use pyo3::prelude::*;

mod arrays;
mod errors;
mod gaussian;
mod generative;
mod line;
mod runtime;
mod sampling;
mod solvers;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("InputError", py.get_type::<errors::InputError>())?;
    m.add("InternalError", py.get_type::<errors::InternalError>())?;
    m.add_function(wrap_pyfunction!(solvers::emd, m)?)?;
    m.add_function(wrap_pyfunction!(solvers::sinkhorn, m)?)?;
    m.add_function(wrap_pyfunction!(solvers::sinkhorn_divergence, m)?)?;
    m.add_function(wrap_pyfunction!(solvers::sqeuclidean, m)?)?;
    m.add_function(wrap_pyfunction!(line::emd_1d, m)?)?;
    m.add_function(wrap_pyfunction!(line::sliced_w2, m)?)?;
    m.add_function(wrap_pyfunction!(line::w2, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian::bures_wasserstein_distance, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian::bures_wasserstein_mapping, m)?)?;
    m.add_function(wrap_pyfunction!(
        gaussian::gaussian_mccann_interpolation,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(gaussian::gaussian_entropic_plan, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian::gaussian_bridge_marginal, m)?)?;
    m.add_function(wrap_pyfunction!(sampling::sample_plan, m)?)?;
    m.add_function(wrap_pyfunction!(sampling::exact_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(sampling::exact_pairs_sqeuclidean, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_panic_in_worker, m)?)?;
    m.add_class::<generative::Run>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

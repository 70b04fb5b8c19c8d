//! # otto
//!
//! Generative modeling in Wasserstein space. A generative model is a time-dependent vector field
//! that transports a source measure ρ₀ (t = 0, noise or a data set) to a target ρ₁ (t = 1, data);
//! methods differ along a few axes (data, coupling, path, parameterization, objective, field,
//! sampler, metric). Optimal transport comes from [`otto_ot`].
//!
//! Time convention, everywhere: t = 0 is the source (noise or the first data set), t = 1 the target
//! (data), as in torchcfm and facebookresearch/flow_matching (details in [`path`]). Points are
//! [`otto_ot::Matrix`] values (f64, one point per row); the network engine computes in f32
//! internally.

pub mod coupling;
pub mod data;
pub mod drift;
pub mod error;
pub mod field;
mod lanes;
pub mod likelihood;
pub mod metric;
pub mod network;
pub mod objective;
pub mod path;
pub mod sampler;
pub mod train;

pub use error::{Error, Result};
pub use otto_ot;

//! # otto
//!
//! Generative modeling in Wasserstein space. A generative model is a time-dependent vector field
//! that transports a source measure ρ₀ (t = 0, noise or a data set) to a target ρ₁ (t = 1, data);
//! methods differ along a few axes (data, coupling, path, parameterization, objective, field,
//! sampler, metric). Optimal transport comes from [`otto_ot`].
//!
//! This first layer holds the data axis: seedable samplers of the built-in 2-D data sets.

pub mod data;

pub use otto_ot;

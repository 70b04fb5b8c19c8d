//! The data axis: where ρ₀ and ρ₁ come from. Point sets are [`otto_ot::Matrix`] values with one
//! point per row.

pub mod toy;

pub use toy::{Toy, UnknownToy};

//! The objective axis: which regression the network is trained on. Every objective here is a
//! regression of the network output onto a target computed without gradients from a
//! [`PathSample`] (DESIGN.md "Networks"), so the trainer and the network know no method.
//!
//! - [`Objective::FlowMatching`]: the conditional velocity `u_t = ȧ_t x0 + ḃ_t x1 + ċ_t ε`
//!   (Lipman et al. 2023, eq. 9; Tong et al. 2024, Table 1); the network predicts the velocity.
//! - [`Objective::NoisePrediction`]: the noise ε of an affine Gaussian path `x_t = α_t x1 + σ_t ε`
//!   (Ho et al. 2020, "Denoising diffusion probabilistic models", eq. 14); the network predicts
//!   ε, which [`crate::path::Parameterization`] converts to a score or a velocity for sampling.

use otto_ot::Matrix;

use crate::path::{ConditionalPath, Parameterization, PathSample};

/// A regression objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Velocity regression (flow matching).
    FlowMatching,
    /// Noise regression (ε-prediction, denoising).
    NoisePrediction,
}

impl Objective {
    /// What the trained network predicts.
    pub fn parameterization(&self) -> Parameterization {
        match self {
            Objective::FlowMatching => Parameterization::Velocity,
            Objective::NoisePrediction => Parameterization::Noise,
        }
    }

    /// The regression target of every row of `sample` drawn along `path`.
    pub fn target(&self, path: &dyn ConditionalPath, sample: &PathSample) -> Matrix {
        match self {
            Objective::FlowMatching => path.conditional_velocity(sample),
            Objective::NoisePrediction => sample.noise.clone(),
        }
    }
}

//! EDM's preconditioning (Karras et al. 2022, "Elucidating the design space of diffusion-based
//! generative models", Table 1 and eq. 7; MATH.md §4): the denoiser is
//! `D(y; σ) = c_skip(σ) y + c_out(σ) F(c_in(σ) y; c_noise(σ))` with
//! `c_skip = σ_d²/(σ² + σ_d²)`, `c_out = σ σ_d/√(σ² + σ_d²)`, `c_in = 1/√(σ² + σ_d²)`,
//! `c_noise = ¼ ln σ`, written in the variance-exploding variables `y = x/α`, `σ = σ_t/α_t` of any
//! affine path, so that a preconditioned network serves every schedule. The loss weight
//! `λ(σ) = (σ² + σ_d²)/(σ σ_d)²` times `c_out²` is 1: the regression of F onto
//! `(x1 − c_skip y)/c_out` is unweighted.

use crate::error::{ensure, Result};

/// EDM's preconditioning with data scale σ_d.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdmPreconditioning {
    sigma_data: f64,
}

impl Default for EdmPreconditioning {
    /// σ_d = 0.5 (Karras et al. 2022).
    fn default() -> Self {
        Self { sigma_data: 0.5 }
    }
}

impl EdmPreconditioning {
    /// The preconditioning with data standard deviation `sigma_data > 0` (finite).
    pub fn new(sigma_data: f64) -> Result<Self> {
        ensure(
            sigma_data > 0.0 && sigma_data.is_finite(),
            "sigma_data",
            sigma_data,
            "must be positive and finite",
        )?;
        Ok(Self { sigma_data })
    }

    /// σ_d.
    pub fn sigma_data(&self) -> f64 {
        self.sigma_data
    }

    /// c_skip(σ) = σ_d²/(σ² + σ_d²).
    pub fn c_skip(&self, sigma: f64) -> f64 {
        let d2 = self.sigma_data * self.sigma_data;
        d2 / (sigma * sigma + d2)
    }

    /// c_out(σ) = σ σ_d/√(σ² + σ_d²).
    pub fn c_out(&self, sigma: f64) -> f64 {
        sigma * self.sigma_data / (sigma * sigma + self.sigma_data * self.sigma_data).sqrt()
    }

    /// c_in(σ) = 1/√(σ² + σ_d²).
    pub fn c_in(&self, sigma: f64) -> f64 {
        1.0 / (sigma * sigma + self.sigma_data * self.sigma_data).sqrt()
    }

    /// c_noise(σ) = ¼ ln σ, the network's time input.
    pub fn c_noise(&self, sigma: f64) -> f64 {
        0.25 * sigma.ln()
    }

    /// The loss weight λ(σ) = (σ² + σ_d²)/(σ σ_d)².
    pub fn loss_weight(&self, sigma: f64) -> f64 {
        (sigma * sigma + self.sigma_data * self.sigma_data) / (sigma * self.sigma_data).powi(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_weight_is_one_and_d_is_exact_for_gaussian_data() {
        // Truth: Karras et al. 2022 App. B.6 — λ(σ) c_out(σ)² = 1; and for data N(0, σ_d²) the
        // ideal denoiser σ_d²/(σ_d² + σ²) y equals c_skip y, i.e. F = 0 is exact (round-off).
        let p = EdmPreconditioning::default();
        for sigma in [0.002, 0.1, 0.5, 3.0, 80.0] {
            assert!((p.loss_weight(sigma) * p.c_out(sigma).powi(2) - 1.0).abs() < 1e-12);
            let ideal = 0.25 / (0.25 + sigma * sigma);
            assert!((p.c_skip(sigma) - ideal).abs() < 1e-15);
            // Unit variance of the network's input and of its target under N(0, σ_d²) data:
            // Var(c_in y) = c_in²(σ_d² + σ²) = 1; Var((x1 − c_skip y)/c_out) = 1.
            let target_var = ((1.0 - p.c_skip(sigma)).powi(2) * 0.25
                + p.c_skip(sigma).powi(2) * sigma * sigma)
                / p.c_out(sigma).powi(2);
            assert!((p.c_in(sigma).powi(2) * (0.25 + sigma * sigma) - 1.0).abs() < 1e-12);
            assert!((target_var - 1.0).abs() < 1e-12);
        }
        assert!(EdmPreconditioning::new(0.0).is_err());
    }
}

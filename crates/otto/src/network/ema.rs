//! Exponential moving average of parameters (Polyak averaging with exponential forgetting), the
//! weights most diffusion and flow-matching papers sample from.

use super::{check_len, NetworkError};

/// A shadow copy of the parameters, updated after each optimizer step as
/// `shadow ← decay · shadow + (1 − decay) · params`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ema {
    decay: f32,
    shadow: Vec<f32>,
}

impl Ema {
    /// Starts the average at `params`. `decay` must lie in [0, 1] (torchcfm uses 0.9999).
    pub fn new(decay: f32, params: &[f32]) -> Result<Self, NetworkError> {
        if !(0.0..=1.0).contains(&decay) {
            return Err(NetworkError::Config {
                field: "decay",
                value: decay.to_string(),
                reason: "must lie in [0, 1]",
            });
        }
        Ok(Ema {
            decay,
            shadow: params.to_vec(),
        })
    }

    /// The decay rate.
    pub fn decay(&self) -> f32 {
        self.decay
    }

    /// The averaged parameters, in the layout of the network's flat buffer.
    pub fn shadow(&self) -> &[f32] {
        &self.shadow
    }

    /// Replaces the average (for resuming from a checkpoint).
    pub fn set_shadow(&mut self, shadow: &[f32]) -> Result<(), NetworkError> {
        check_len("shadow", self.shadow.len(), shadow.len())?;
        self.shadow.copy_from_slice(shadow);
        Ok(())
    }

    /// One update, `shadow ← decay · shadow + (1 − decay) · params`, in one pass.
    pub fn update(&mut self, params: &[f32]) -> Result<(), NetworkError> {
        check_len("params", self.shadow.len(), params.len())?;
        let (a, b) = (self.decay, 1.0 - self.decay);
        for (s, &p) in self.shadow.iter_mut().zip(params) {
            *s = a * *s + b * p;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed form: with constant params p and start s₀, after k updates
    /// shadow = p + decayᵏ (s₀ − p). Checked in f64; 1e-5 covers k = 50 f32 roundings of O(1) values.
    #[test]
    fn constant_target_follows_closed_form() {
        let decay = 0.9_f32;
        let mut ema = Ema::new(decay, &[2.0, -1.0]).unwrap();
        let p = [0.5_f32, 3.0];
        for _ in 0..50 {
            ema.update(&p).unwrap();
        }
        for (j, s0) in [2.0_f64, -1.0].into_iter().enumerate() {
            let want = p[j] as f64 + (decay as f64).powi(50) * (s0 - p[j] as f64);
            assert!(
                (ema.shadow()[j] as f64 - want).abs() < 1e-5,
                "{} vs {want}",
                ema.shadow()[j]
            );
        }
    }

    #[test]
    fn bad_decay_and_length_are_errors() {
        assert!(Ema::new(1.5, &[0.0]).is_err());
        let mut ema = Ema::new(0.5, &[0.0]).unwrap();
        assert!(ema.update(&[0.0, 1.0]).is_err());
    }
}

//! AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2) as one
//! fused pass over a flat parameter buffer, with PyTorch's `torch.optim.AdamW` semantics.

use rayon::prelude::*;

use super::{check_len, flush_subnormal, NetworkError};

/// The AdamW optimizer and its state (first and second moments, step count).
///
/// One step, exactly as PyTorch's `torch.optim.AdamW` (non-amsgrad, non-maximize) computes it,
/// with k the step number after increment:
/// ```text
/// θ ← θ · (1 − lr·λ)                       decoupled weight decay
/// m ← m + (1 − β₁)(g − m)                  (PyTorch: exp_avg.lerp_(g, 1 − β₁))
/// v ← β₂ v + (1 − β₂) g²
/// θ ← θ − lr/(1 − β₁ᵏ) · m / (√v / √(1 − β₂ᵏ) + ε)
/// ```
/// Defaults are PyTorch's: lr = 1e-3, β = (0.9, 0.999), ε = 1e-8, λ = 0.01. Weight decay applies to
/// every parameter, biases included, as with `AdamW(model.parameters())`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamW {
    /// Learning rate (may be changed between steps, e.g. by a schedule).
    pub lr: f32,
    /// Decay rate of the first moment.
    pub beta1: f32,
    /// Decay rate of the second moment.
    pub beta2: f32,
    /// Added to the bias-corrected √v.
    pub eps: f32,
    /// Decoupled weight decay λ (multiplied by lr).
    pub weight_decay: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    step: u64,
}

impl AdamW {
    /// An optimizer for `num_params` parameters with PyTorch's defaults and zero state.
    pub fn new(num_params: usize) -> Self {
        AdamW {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            m: vec![0.0; num_params],
            v: vec![0.0; num_params],
            step: 0,
        }
    }

    /// Sets the learning rate.
    pub fn with_lr(mut self, lr: f32) -> Self {
        self.lr = lr;
        self
    }

    /// Sets (β₁, β₂).
    pub fn with_betas(mut self, beta1: f32, beta2: f32) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets ε.
    pub fn with_eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the weight decay λ.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Checks the hyperparameters; the error names the first bad one.
    pub fn validate(&self) -> Result<(), NetworkError> {
        let checks: [(&'static str, f32, bool, &'static str); 5] = [
            (
                "lr",
                self.lr,
                self.lr >= 0.0 && self.lr.is_finite(),
                "must be finite and ≥ 0",
            ),
            (
                "beta1",
                self.beta1,
                (0.0..1.0).contains(&self.beta1),
                "must lie in [0, 1)",
            ),
            (
                "beta2",
                self.beta2,
                (0.0..1.0).contains(&self.beta2),
                "must lie in [0, 1)",
            ),
            (
                "eps",
                self.eps,
                self.eps >= 0.0 && self.eps.is_finite(),
                "must be finite and ≥ 0",
            ),
            (
                "weight_decay",
                self.weight_decay,
                self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
                "must be finite and ≥ 0",
            ),
        ];
        for (field, value, ok, reason) in checks {
            if !ok {
                return Err(NetworkError::Config {
                    field,
                    value: value.to_string(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The first and second moment estimates (m, v), for checkpointing.
    pub fn moments(&self) -> (&[f32], &[f32]) {
        (&self.m, &self.v)
    }

    /// Restores a checkpointed state (step count and moments).
    pub fn set_state(&mut self, step: u64, m: &[f32], v: &[f32]) -> Result<(), NetworkError> {
        check_len("m", self.m.len(), m.len())?;
        check_len("v", self.v.len(), v.len())?;
        self.m.copy_from_slice(m);
        self.v.copy_from_slice(v);
        self.step = step;
        Ok(())
    }

    /// One AdamW update of `params` with gradient `grads`, in place, in one fused pass (split across
    /// rayon's threads for large buffers; each entry's arithmetic is the same either way).
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) -> Result<(), NetworkError> {
        self.validate()?;
        check_len("params", self.m.len(), params.len())?;
        check_len("grads", self.m.len(), grads.len())?;
        self.step += 1;
        let k = self.step as f64;
        let bias_correction1 = 1.0 - (self.beta1 as f64).powf(k);
        let bias_correction2 = 1.0 - (self.beta2 as f64).powf(k);
        let coefficients = Coefficients {
            decay: 1.0 - self.lr * self.weight_decay,
            one_minus_beta1: 1.0 - self.beta1,
            beta2: self.beta2,
            one_minus_beta2: 1.0 - self.beta2,
            step_size: (self.lr as f64 / bias_correction1) as f32,
            bias_correction2_sqrt: bias_correction2.sqrt() as f32,
            eps: self.eps,
        };
        const CHUNK: usize = 32 * 1024;
        if params.len() <= 2 * CHUNK {
            update(&coefficients, params, grads, &mut self.m, &mut self.v);
        } else {
            params
                .par_chunks_mut(CHUNK)
                .zip(grads.par_chunks(CHUNK))
                .zip(
                    self.m
                        .par_chunks_mut(CHUNK)
                        .zip(self.v.par_chunks_mut(CHUNK)),
                )
                .for_each(|((p, g), (m, v))| update(&coefficients, p, g, m, v));
        }
        Ok(())
    }
}

/// The per-step scalars of the update, in f32 as PyTorch applies them to f32 tensors.
struct Coefficients {
    decay: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    eps: f32,
}

fn update(c: &Coefficients, params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { update_avx2(c, params, grads, m, v) };
            return;
        }
    }
    update_portable(c, params, grads, m, v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_avx2(
    c: &Coefficients,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    update_portable(c, params, grads, m, v);
}

#[inline(always)]
fn update_portable(
    c: &Coefficients,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    for (((p, &g), m), v) in params
        .iter_mut()
        .zip(grads)
        .zip(m.iter_mut())
        .zip(v.iter_mut())
    {
        // A first moment below f32's normal range is 0 (`flush_subnormal`): its update
        // step_size·m/(√v̂ + ε) would be below 1e-33 for the default ε, and a subnormal m decaying
        // by β₁ per step after its gradient stopped made every later step slower.
        *m = flush_subnormal(*m + c.one_minus_beta1 * (g - *m));
        *v = c.beta2 * *v + c.one_minus_beta2 * (g * g);
        let denom = v.sqrt() / c.bias_correction2_sqrt + c.eps;
        *p = *p * c.decay - c.step_size * (*m / denom);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps computed by hand in f64 from the formulas of the paper (Algorithm 2 with PyTorch's
    /// bias correction), for one parameter: θ₀ = 1, g₁ = 0.5, g₂ = −0.25, lr = 0.1, λ = 0.1.
    /// Step 1: θ = 1·(1 − 0.01) = 0.99; m = 0.05; v = 0.00025; m̂ = 0.5; √v̂ = 0.5;
    ///         θ = 0.99 − 0.1 · 0.5/(0.5 + 1e-8) = 0.89 (+2e-9).
    /// Step 2: θ = 0.89·0.99 = 0.8811; m = 0.9·0.05 + 0.1·(−0.25) = 0.02; v = 0.999·0.00025 +
    ///         0.001·0.0625 = 0.00031225; m̂ = 0.02/0.19; v̂ = 0.00031225/0.001999.
    /// The tolerance 1e-6 covers f32 rounding of a handful of operations on O(1) values.
    #[test]
    fn two_steps_match_hand_computation() {
        let mut opt = AdamW::new(1).with_lr(0.1).with_weight_decay(0.1);
        let mut theta = [1.0_f32];
        opt.step(&mut theta, &[0.5]).unwrap();
        let step1 = 0.99 - 0.1 * 0.5 / (0.5 + 1e-8);
        assert!(
            (theta[0] as f64 - step1).abs() < 1e-6,
            "{} vs {step1}",
            theta[0]
        );
        opt.step(&mut theta, &[-0.25]).unwrap();
        let (m_hat, v_hat) = (0.02 / 0.19, 0.000_312_25_f64 / 0.001_999);
        let step2 = step1 * 0.99 - 0.1 * m_hat / (v_hat.sqrt() + 1e-8);
        assert!(
            (theta[0] as f64 - step2).abs() < 1e-6,
            "{} vs {step2}",
            theta[0]
        );
        assert_eq!(opt.step_count(), 2);
    }

    /// The parallel chunked path computes each entry exactly as the serial one.
    #[test]
    fn chunked_and_serial_updates_agree_bitwise() {
        let n = 100_000;
        let grads: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let mut big = vec![0.3_f32; n];
        let mut opt = AdamW::new(n);
        opt.step(&mut big, &grads).unwrap();
        let mut serial = vec![0.3_f32; n];
        let mut opt_serial = AdamW::new(n);
        let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
        opt_serial.step = 1;
        let c = Coefficients {
            decay: 1.0 - 1e-3 * 1e-2,
            one_minus_beta1: 1.0 - 0.9,
            beta2: 0.999,
            one_minus_beta2: 1.0 - 0.999,
            step_size: (1e-3_f64 / (1.0 - 0.9_f32 as f64)) as f32,
            bias_correction2_sqrt: ((1.0 - 0.999_f32 as f64).sqrt()) as f32,
            eps: 1e-8,
        };
        update_portable(&c, &mut serial, &grads, &mut m, &mut v);
        assert_eq!(big, serial);
    }

    /// A parameter whose gradient stops: its first moment decays by β₁ per step down to exactly 0
    /// and is never subnormal on the way (before the flush it was for ≈ 150 steps, from about step
    /// 805), and the parameter ends where it stood at step 400, long before the flush could act
    /// (its updates fell below its ulp).
    #[test]
    fn a_stopped_gradient_leaves_no_subnormal_moment() {
        let mut opt = AdamW::new(1).with_weight_decay(0.0);
        let mut theta = [0.3_f32];
        opt.step(&mut theta, &[1.0]).unwrap();
        let mut at_400 = f32::NAN;
        for step in 2..=2000 {
            opt.step(&mut theta, &[0.0]).unwrap();
            assert!(!opt.m[0].is_subnormal(), "step {step}: m = {:e}", opt.m[0]);
            if step == 400 {
                at_400 = theta[0];
            }
        }
        assert_eq!(opt.m[0], 0.0);
        assert_eq!(theta[0], at_400);
    }

    #[test]
    fn bad_options_and_lengths_are_errors() {
        let mut opt = AdamW::new(2).with_betas(1.0, 0.999);
        assert!(matches!(
            opt.step(&mut [0.0; 2], &[0.0; 2]),
            Err(NetworkError::Config { field: "beta1", .. })
        ));
        let mut opt = AdamW::new(2);
        assert!(matches!(
            opt.step(&mut [0.0; 2], &[0.0; 3]),
            Err(NetworkError::Length { what: "grads", .. })
        ));
    }
}

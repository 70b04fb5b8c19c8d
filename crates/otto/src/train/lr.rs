//! Learning-rate schedule: linear warmup, then cosine decay (Loshchilov & Hutter 2017, SGDR),
//! `lr(s) = lr_max · s/warmup` for `s < warmup`, then
//! `lr_min + ½ (lr_max − lr_min)(1 + cos(π (s − warmup)/(total − warmup)))`.

use serde::{Deserialize, Serialize};

/// Warmup + cosine schedule over `total` steps; `cosine = false` keeps `lr_max` after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Peak learning rate.
    pub lr_max: f64,
    /// Final learning rate of the cosine decay.
    pub lr_min: f64,
    /// Linear warmup steps (0: none).
    pub warmup: usize,
    /// Total number of steps.
    pub total: usize,
    /// Whether to decay after warmup.
    pub cosine: bool,
}

impl LrSchedule {
    /// The learning rate at step `step` (0-based).
    pub fn at(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.lr_max * (step + 1) as f64 / self.warmup as f64;
        }
        if !self.cosine || self.total <= self.warmup {
            return self.lr_max;
        }
        let progress = ((step - self.warmup) as f64 / (self.total - self.warmup) as f64).min(1.0);
        self.lr_min
            + 0.5 * (self.lr_max - self.lr_min) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_endpoints() {
        // Truth: the formula's values at its breakpoints — lr_max/warmup at step 0, lr_max when
        // warmup ends, the midpoint ½(lr_max + lr_min) halfway through the decay, lr_min at the end.
        let s = LrSchedule {
            lr_max: 1e-3,
            lr_min: 1e-5,
            warmup: 10,
            total: 110,
            cosine: true,
        };
        assert!((s.at(0) - 1e-4).abs() < 1e-15);
        assert!((s.at(9) - 1e-3).abs() < 1e-15);
        assert!((s.at(10) - 1e-3).abs() < 1e-15);
        assert!((s.at(60) - 0.5 * (1e-3 + 1e-5)).abs() < 1e-15);
        assert!((s.at(110) - 1e-5).abs() < 1e-15);
        let constant = LrSchedule { cosine: false, ..s };
        assert_eq!(constant.at(100), 1e-3);
    }
}

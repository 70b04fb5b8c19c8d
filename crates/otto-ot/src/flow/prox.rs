//! The KL proximal maps of the entropic JKO scheme (Peyré 2015, §3):
//! `Prox^{KL}_{σF}(s) = argmin_p KL(p ‖ s) + σF(p)`, pointwise on a grid for
//! `F = D∫ρ log ρ + ∫Vρ + c∫ρ^m/(m − 1)`, in the log domain.
//!
//! With `p_i` masses (`ρ_i = p_i/ΔV`) the optimality condition at node i is
//! `log(p/s) + σ(D log p + V_i + c' p^{m−1}) = const`, `c' = c m ΔV^{1−m}/(m − 1)` (constants of
//! `δF/δρ` are absorbed by the multiplier of the fixed marginal and dropped):
//! - without the porous term, `log p = (log s − σV)/(1 + σD)` (Peyré, Prop. 2);
//! - with it, `y = log p` solves `(1 + σD) y + σc' e^{(m−1)y} = log s − σV`, whose root is closed
//!   form through the Lambert function: with `k = 1 + σD`, `β = σc'(m − 1)/k`, `r = (log s − σV)/k`,
//!   `y = (t − log β)/(m − 1)` where `t + e^t = log β + (m − 1) r` (no cancellation).

use rayon::prelude::*;

use crate::flow::energy::GridEnergy;
use crate::flow::gibbs_convolution::MIN_PAR_LEN;

/// The pointwise proximal map `log s ↦ log Prox^{KL}_{σF}(s)`.
pub(crate) struct Prox {
    /// `σ V_i`.
    sigma_v: Vec<f64>,
    /// `1 + σD`.
    k: f64,
    /// For the porous term: `(m − 1, log β)` with `β = σ c' (m − 1)/k`.
    porous: Option<(f64, f64)>,
}

impl Prox {
    pub(crate) fn new(energy: &GridEnergy, sigma: f64, cell_volume: f64) -> Self {
        let k = 1.0 + sigma * energy.diffusion();
        let porous = energy.porous().map(|(c, m)| {
            let c_prime = c * m * cell_volume.powf(1.0 - m) / (m - 1.0);
            (m - 1.0, (sigma * c_prime * (m - 1.0) / k).ln())
        });
        Self {
            sigma_v: energy.potential().iter().map(|v| sigma * v).collect(),
            k,
            porous,
        }
    }

    /// `log p_i` from `log s_i` (−∞ stays −∞).
    #[inline]
    pub(crate) fn log_p(&self, i: usize, log_s: f64) -> f64 {
        if log_s == f64::NEG_INFINITY {
            return f64::NEG_INFINITY;
        }
        let r = (log_s - self.sigma_v[i]) / self.k;
        match self.porous {
            None => r,
            Some((m1, log_beta)) => {
                // u = (m−1)y solves u + β e^u = (m−1)r; with u = t − log β,
                // t solves t + e^t = L = log β + (m−1)r.
                let t = log_lambert(log_beta + m1 * r);
                (t - log_beta) / m1
            }
        }
    }

    /// The default over-relaxation (see [`crate::flow::EntropicJko::overrelaxation`]).
    pub(crate) fn default_overrelaxation(&self) -> f64 {
        match self.porous {
            None => 2.0 / (2.0 - (1.0 - 1.0 / self.k)),
            Some(_) => 1.0,
        }
    }

    /// `log a_i ← log a_i + ω (log p_i − log s_i − log a_i)` for every node (`log a_i = −∞` where
    /// `s_i = 0`; a non-finite old value is replaced, not relaxed).
    pub(crate) fn log_a(&self, log_s: &[f64], log_a: &mut [f64], omega: f64) {
        log_a
            .par_iter_mut()
            .with_min_len(MIN_PAR_LEN)
            .zip(log_s.par_iter())
            .enumerate()
            .for_each(|(i, (a, &s))| {
                let new = log_ratio(self.log_p(i, s), s);
                *a = if a.is_finite() && new.is_finite() {
                    *a + omega * (new - *a)
                } else {
                    new
                };
            });
    }
}

/// `t = log W(e^L)`: the root of `t + e^t = L`, by Newton's method from a point right of the root
/// (the function is convex and increasing, so the iterates decrease monotonically to it).
fn log_lambert(l: f64) -> f64 {
    let mut t = if l > 1.0 { l.ln() } else { l };
    for _ in 0..60 {
        let et = t.exp();
        let step = (et + t - l) / (et + 1.0);
        t -= step;
        if step.abs() <= 1e-15 * (1.0 + t.abs()) {
            break;
        }
    }
    t
}

/// `x − y` in the log domain with `−∞ − (−∞) = −∞` (a zero scaling where both vanish).
#[inline]
pub(crate) fn log_ratio(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else {
        x - y
    }
}

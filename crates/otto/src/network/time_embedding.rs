//! How the time t enters the network: appended to the data as one extra input (torchcfm's MLP), or
//! as fixed sinusoidal / random Fourier features. The network's input row is `[x, emb(t)]`.
//!
//! Both feature maps share one form: a vector of angular frequencies ω (length dim/2) and
//! `emb(t) = [sin(ω₁t), …, sin(ω_{dim/2}t), cos(ω₁t), …, cos(ω_{dim/2}t)]`. The frequencies are not
//! trained; they are saved with the weights (`time_embedding.frequencies`) so that a file fully
//! determines the function it computes.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::NetworkError;

/// The time input of an [`Mlp`](super::Mlp).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum TimeEmbedding {
    /// t appended as one more input: the row is `[x, t]` (torchcfm's `MLP`, input `dim + 1`).
    #[default]
    Concat,
    /// No time input: the row is `x` alone (a drifting model's one-step generator f(ε)).
    None,
    /// Transformer / DDPM sinusoidal features (Vaswani et al. 2017 §3.5; Ho et al. 2020) of 1000·t,
    /// so that t ∈ [0, 1] spans the range of DDPM's integer steps: ω_j = 1000 · 10000^(−j/(dim/2)),
    /// j = 0, …, dim/2 − 1. `dim` must be even and at least 2.
    Sinusoidal {
        /// Number of features (sines plus cosines).
        dim: usize,
    },
    /// Random Fourier features (Tancik et al. 2020; Song et al. 2021's `GaussianFourierProjection`):
    /// ω = 2π·scale·ξ with ξ ~ N(0, 1) drawn once from the network's seed. `dim` must be even and
    /// at least 2; `scale` positive and finite (Song et al. use 16 for scores, smaller values
    /// give smoother fields in t).
    Fourier {
        /// Number of features (sines plus cosines).
        dim: usize,
        /// Standard deviation of ξ·scale, i.e. of the frequencies in cycles per unit t.
        scale: f32,
    },
}

impl TimeEmbedding {
    /// Number of input columns the embedding adds to the data columns.
    pub fn dim(&self) -> usize {
        match *self {
            TimeEmbedding::Concat => 1,
            TimeEmbedding::None => 0,
            TimeEmbedding::Sinusoidal { dim } | TimeEmbedding::Fourier { dim, .. } => dim,
        }
    }

    /// The name stored in a file's metadata.
    pub fn name(&self) -> &'static str {
        match self {
            TimeEmbedding::Concat => "concat",
            TimeEmbedding::None => "none",
            TimeEmbedding::Sinusoidal { .. } => "sinusoidal",
            TimeEmbedding::Fourier { .. } => "fourier",
        }
    }

    pub(crate) fn validate(&self) -> Result<(), NetworkError> {
        let dim = match *self {
            TimeEmbedding::Concat | TimeEmbedding::None => return Ok(()),
            TimeEmbedding::Sinusoidal { dim } => dim,
            TimeEmbedding::Fourier { dim, scale } => {
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(NetworkError::Config {
                        field: "time_embedding.scale",
                        value: scale.to_string(),
                        reason: "must be positive and finite",
                    });
                }
                dim
            }
        };
        if dim < 2 || dim % 2 != 0 {
            return Err(NetworkError::Config {
                field: "time_embedding.dim",
                value: dim.to_string(),
                reason: "must be even and at least 2 (half sines, half cosines)",
            });
        }
        Ok(())
    }

    /// The angular frequencies ω (empty for `Concat` and `None`); Fourier draws them from `seed` on a stream of
    /// its own, so they do not shift the weight initialization.
    pub(crate) fn frequencies(&self, seed: u64) -> Vec<f32> {
        match *self {
            TimeEmbedding::Concat | TimeEmbedding::None => Vec::new(),
            TimeEmbedding::Sinusoidal { dim } => {
                let half = dim / 2;
                (0..half)
                    .map(|j| (1000.0 * (-(10_000f64.ln()) * j as f64 / half as f64).exp()) as f32)
                    .collect()
            }
            TimeEmbedding::Fourier { dim, scale } => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(1);
                let two_pi_scale = 2.0 * std::f64::consts::PI * scale as f64;
                (0..dim / 2)
                    .map(|_| {
                        let xi: f64 = StandardNormal.sample(&mut rng);
                        (two_pi_scale * xi) as f32
                    })
                    .collect()
            }
        }
    }
}

/// Writes the network input rows `[x_i, emb(t_i)]` for a block of rows: `x` is rows × d, `input`
/// rows × (d + embedding dim). `frequencies` are ω (empty for `Concat`).
pub(crate) fn assemble_input(t: &[f32], x: &[f32], frequencies: &[f32], input: &mut [f32]) {
    let rows = t.len();
    let d = x.len() / rows.max(1);
    let input_cols = input.len() / rows.max(1);
    for ((&ti, xi), row) in t
        .iter()
        .zip(x.chunks_exact(d.max(1)))
        .zip(input.chunks_exact_mut(input_cols))
    {
        let (data, time) = row.split_at_mut(d);
        data.copy_from_slice(&xi[..d]);
        if time.is_empty() {
            // No time input.
        } else if frequencies.is_empty() {
            time[0] = ti;
        } else {
            let (sines, cosines) = time.split_at_mut(frequencies.len());
            for ((s, c), &w) in sines.iter_mut().zip(cosines.iter_mut()).zip(frequencies) {
                // The same f32 product PyTorch forms (t[:, None] * ω[None, :]), then sin and cos.
                let angle = ti * w;
                *s = angle.sin();
                *c = angle.cos();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_data_then_embedding() {
        let t = [0.25_f32, 0.5];
        let x = [1.0_f32, 2.0, 3.0, 4.0];
        let mut concat = [0.0; 6];
        assemble_input(&t, &x, &[], &mut concat);
        assert_eq!(concat, [1.0, 2.0, 0.25, 3.0, 4.0, 0.5]);

        let embedding = TimeEmbedding::Sinusoidal { dim: 4 };
        let w = embedding.frequencies(0);
        // ω_0 = 1000, ω_1 = 1000 · 10000^(−1/2) = 10: exact values of the definition.
        assert_eq!(w.len(), 2);
        assert!((w[0] - 1000.0).abs() < 1e-3 && (w[1] - 10.0).abs() < 1e-5);
        let mut rows = [0.0; 12];
        assemble_input(&t, &x, &w, &mut rows);
        let angle = 0.5_f32 * w[1];
        assert_eq!(&rows[6..8], &[3.0, 4.0]);
        assert_eq!(rows[9], angle.sin());
        assert_eq!(rows[11], angle.cos());
    }

    #[test]
    fn fourier_frequencies_follow_the_seed_and_scale() {
        let embedding = TimeEmbedding::Fourier {
            dim: 512,
            scale: 2.0,
        };
        let a = embedding.frequencies(7);
        assert_eq!(a, embedding.frequencies(7));
        assert_ne!(a, embedding.frequencies(8));
        // Sample standard deviation of ω/(2π) ≈ scale: with 256 draws its standard error is about
        // scale/√512 ≈ 0.09, so 0.4 is a > 4σ band.
        let std = (a
            .iter()
            .map(|w| (w / std::f32::consts::TAU).powi(2))
            .sum::<f32>()
            / a.len() as f32)
            .sqrt();
        assert!((std - 2.0).abs() < 0.4, "std {std}");
    }

    #[test]
    fn odd_or_tiny_dimensions_are_rejected() {
        assert!(TimeEmbedding::Sinusoidal { dim: 3 }.validate().is_err());
        assert!(TimeEmbedding::Sinusoidal { dim: 0 }.validate().is_err());
        assert!(TimeEmbedding::Fourier { dim: 8, scale: 0.0 }
            .validate()
            .is_err());
        assert!(TimeEmbedding::Fourier { dim: 8, scale: 1.0 }
            .validate()
            .is_ok());
    }
}

//! Test-only f64 reference of the network: the same mathematics written as naive loops with exact
//! (libm / series) activations, independent of the fused passes, GEMMs and polynomial
//! approximations it checks. Finite differences of this f64 function are accurate to ~1e-10, far
//! below the f32 error of the engine, so they are an independent truth for its gradients and JVPs.

use super::{Activation, Mlp};

/// φ(z) in f64: libm `exp`/`expm1`, and Φ from [`normal_cdf`].
pub fn activation(activation: Activation, z: f64) -> f64 {
    match activation {
        Activation::Selu => {
            let (scale, alpha) = (1.050_700_987_355_480_5_f64, 1.673_263_242_354_377_3_f64);
            if z > 0.0 {
                scale * z
            } else {
                scale * alpha * z.exp_m1()
            }
        }
        Activation::Silu => z / (1.0 + (-z).exp()),
        Activation::Gelu => z * normal_cdf(z),
        Activation::Relu => z.max(0.0),
    }
}

/// Φ(z) = ½ erfc(−z/√2) in f64, to ~1e-14 relative: erf's Maclaurin series for |x| < 2.5 (terms
/// stay below ~100, so cancellation costs at most two digits), Laplace's continued fraction for
/// erfc beyond (Abramowitz & Stegun 7.1.14, 120 terms, converged to f64 precision for x ≥ 2.5).
pub fn normal_cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let erfc = |x: f64| -> f64 {
        if x.abs() < 2.5 {
            // erf(x) = 2/√π Σ_n (−1)ⁿ x^(2n+1) / (n! (2n+1)).
            let (mut term, mut sum) = (x, x);
            for n in 1..200 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            let ax = x.abs();
            let mut fraction = ax;
            for k in (1..=120).rev() {
                fraction = ax + (k as f64 / 2.0) / fraction;
            }
            let tail = (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * fraction);
            if x > 0.0 {
                tail
            } else {
                2.0 - tail
            }
        }
    };
    0.5 * erfc(x)
}

/// f(t, x) for every row, in f64, with parameters `params` (the network's layout).
pub fn forward(mlp: &Mlp, params: &[f64], t: &[f32], x: &[f64]) -> Vec<f64> {
    let config = mlp.config();
    let d = config.input_dim;
    let mut out = Vec::with_capacity(t.len() * config.output_dim);
    for (i, &ti) in t.iter().enumerate() {
        let mut h: Vec<f64> = x[i * d..(i + 1) * d].to_vec();
        if mlp.frequencies().is_empty() {
            h.push(ti as f64);
        } else {
            // The engine forms the angle t·ω in f32, as PyTorch does; use that same angle.
            h.extend(mlp.frequencies().iter().map(|&w| ((ti * w) as f64).sin()));
            h.extend(mlp.frequencies().iter().map(|&w| ((ti * w) as f64).cos()));
        }
        for (l, layer) in mlp.layers().iter().enumerate() {
            let w = &params[layer.weight()];
            let b = &params[layer.bias()];
            let z: Vec<f64> = (0..layer.out_dim)
                .map(|o| {
                    b[o] + (0..layer.in_dim)
                        .map(|j| w[o * layer.in_dim + j] * h[j])
                        .sum::<f64>()
                })
                .collect();
            h = if l == config.depth {
                z
            } else if layer.residual {
                z.iter()
                    .zip(&h)
                    .map(|(&zo, &ho)| ho + activation(config.activation, zo))
                    .collect()
            } else {
                z.iter()
                    .map(|&zo| activation(config.activation, zo))
                    .collect()
            };
        }
        out.extend(h);
    }
    out
}

/// The weighted mean squared error of [`Mlp::loss_and_grad`], in f64.
pub fn loss(
    mlp: &Mlp,
    params: &[f64],
    t: &[f32],
    x: &[f64],
    target: &[f32],
    weight: Option<&[f32]>,
) -> f64 {
    let out = forward(mlp, params, t, x);
    let cols = mlp.config().output_dim;
    let total: f64 = out
        .chunks(cols)
        .zip(target.chunks(cols))
        .enumerate()
        .map(|(i, (f, y))| {
            weight.map_or(1.0, |w| w[i] as f64)
                * f.iter()
                    .zip(y)
                    .map(|(&a, &b)| (a - b as f64).powi(2))
                    .sum::<f64>()
        })
        .sum();
    total / out.len() as f64
}

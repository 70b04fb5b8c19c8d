//! The MMD gradient flow's velocity (Arbel, Korba, Salim & Gretton 2019, "Maximum mean
//! discrepancy gradient flow"): for F(q) = ½ MMD²(q, p), the flow's velocity is
//!
//! `V(x) = −∇ δF/δq (x) = E_{y∼p} ∇ₓk(x, y) − E_{y∼q} ∇ₓk(x, y)`,
//!
//! with empirical means over the positives and the negatives (V-statistics: when the negatives
//! are the points x themselves, x_i's own term, whose gradient vanishes, counts in the mean over
//! n). Then V_i = −(n/2) ∂MMD²/∂x_i for the V-statistic MMD² of x against the positives.
//! Gaussian kernel k = exp(−‖x − y‖²/(2h²)): ∇ₓk = k (y − x)/h²; Laplace kernel
//! k = exp(−‖x − y‖/τ): ∇ₓk = k (y − x)/(τ‖x − y‖) (0 at x = y).

use multiversion::multiversion;
use rayon::prelude::*;

use super::affinity::{exp, Block, Columns, Profile};
use super::{one_temperature, Drift, MmdKernel};
use crate::lanes;

/// The field at the rows of `x` against `blocks` (positives, then negatives).
pub(super) fn field(
    x: &[f32],
    blocks: &[Block],
    dim: usize,
    kernel: MmdKernel,
    temperature: f32,
) -> Drift {
    let columns = Columns::new(blocks, dim);
    let (profile, tau) = match kernel {
        MmdKernel::Gaussian => (Profile::HalfSquared, temperature * temperature),
        MmdKernel::Laplace => (Profile::Distance { scale: 1.0 }, temperature),
    };
    let m = columns.len();
    let mut velocity = vec![0.0f32; x.len()];
    let mut top = vec![0.0f32; x.len() / dim];
    velocity
        .par_chunks_mut(dim)
        .zip(top.par_iter_mut())
        .enumerate()
        .for_each_init(
            || (vec![0.0f32; m], vec![0.0f32; m]),
            |(phi, coefficient), (i, (vi, top))| {
                *top = mmd_row(
                    &columns,
                    (&x[i * dim..(i + 1) * dim], i),
                    (kernel, profile, tau),
                    vi,
                    (phi, coefficient),
                );
            },
        );
    let power = match kernel {
        MmdKernel::Gaussian => 2,
        MmdKernel::Laplace => 1,
    };
    let dead: Vec<bool> = top.iter().map(|&e| e < f32::EPSILON.ln()).collect();
    one_temperature(velocity, &dead, &top, (temperature as f64, power))
}

/// V at row `i` of x (point `xi`) into `vi`; returns the largest exponent toward the positives
/// (the attraction vanishes when every kernel value toward them does). `phi` and `coefficient`
/// are scratch rows of the columns' length.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn mmd_row(
    columns: &Columns,
    (xi, i): (&[f32], usize),
    (kernel, profile, tau): (MmdKernel, Profile, f32),
    vi: &mut [f32],
    (phi, coefficient): (&mut [f32], &mut [f32]),
) -> f32 {
    columns.profile_row(xi, i, profile, f32::INFINITY, phi);
    let sides = columns.sides();
    let top = -lanes::min(&phi[sides[0].clone()]) / tau;
    for (c, &p) in coefficient.iter_mut().zip(phi.iter()) {
        let k = exp(-p / tau);
        *c = match kernel {
            MmdKernel::Gaussian => k / tau,
            MmdKernel::Laplace if p > 0.0 => k / (tau * p),
            MmdKernel::Laplace => 0.0,
        };
    }
    for (s, range) in sides.iter().enumerate() {
        let c = &coefficient[range.clone()];
        let mass = lanes::sum(c);
        let sign = if s == 0 { 1.0 } else { -1.0 };
        let count = range.len() as f32;
        for (k, vik) in vi.iter_mut().enumerate() {
            let moment = lanes::dot(c, &columns.coordinate(k)[range.clone()]);
            *vik += sign * (moment - mass * xi[k]) / count;
        }
    }
    top
}

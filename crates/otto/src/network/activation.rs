//! Pointwise nonlinearities of the MLP, their derivatives, and the fused pass that adds the bias,
//! applies the activation and (for training) stores its derivative in one sweep over a layer.
//!
//! Every formula is branch-free (compare-and-select), uses only `+ − × ÷` and one exponential per
//! element, so the row loops vectorize; the exponential is a polynomial (below) rather than libm's
//! scalar `expf`, which would dominate a SiLU layer's cost. On x86-64 the fused sweep is compiled
//! three times — for the baseline target, for AVX2 + FMA and for AVX-512 — and the widest copy the
//! CPU runs is picked at run time. The FMA copies round each multiply-add of the polynomials once
//! instead of twice, so they can differ from the baseline copy in the last ulp; the AVX2 and
//! AVX-512 copies compute every element with the same operations (the loops are element-wise) and
//! agree bit for bit, so on one machine results are always the same.

use std::str::FromStr;

use super::flush_subnormal;

/// The nonlinearity applied after every hidden linear layer (never after the output layer).
///
/// Each matches the PyTorch module of the same name with default arguments, to within a few f32
/// ulps (the exponential and `erfc` below are polynomial approximations, not libm's) — except deep
/// in SiLU's and GELU's negative tails (z < −80, z < −12.5), where the values are below 1e-32 and
/// kept from going subnormal (`SILU_FLOOR`, `GELU_RANGE` in this module): there to 2e-33 absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// `nn.SELU`: λ·z for z > 0, λα(eᶻ − 1) otherwise, with λ ≈ 1.0507, α ≈ 1.6733
    /// (Klambauer et al. 2017, "Self-Normalizing Neural Networks", eq. 2). torchcfm's default.
    #[default]
    Selu,
    /// `nn.SiLU` (swish): z·σ(z) (Elfwing et al. 2018; Ramachandran et al. 2017).
    Silu,
    /// `nn.GELU()` with its default `approximate='none'`: the exact z·Φ(z) = ½z(1 + erf(z/√2))
    /// (Hendrycks & Gimpel 2016), not the tanh approximation.
    Gelu,
    /// `nn.ReLU`: max(z, 0); its derivative at 0 is taken as 0, as PyTorch does.
    Relu,
}

/// The error for a name that is not an activation; it lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown activation '{0}'; activations are: selu, silu, gelu, relu")]
pub struct UnknownActivation(pub String);

impl FromStr for Activation {
    type Err = UnknownActivation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "selu" => Ok(Activation::Selu),
            "silu" | "swish" => Ok(Activation::Silu),
            "gelu" => Ok(Activation::Gelu),
            "relu" => Ok(Activation::Relu),
            _ => Err(UnknownActivation(s.to_string())),
        }
    }
}

/// SELU's scale λ (Klambauer et al. 2017), the same f32 value PyTorch uses.
const SELU_SCALE: f32 = 1.050_701;
/// SELU's α (Klambauer et al. 2017).
const SELU_ALPHA: f32 = 1.673_263_2;
/// Where SiLU's σ(z) stops following z downwards: σ(−80) ≈ 1.8e-35, so that the value z·σ and
/// the slope σ·(1 + z(1 − σ)) of a deeply negative unit stay normal f32 numbers (|·| ≥ 1e-33; the
/// exact ones pass below 1.2e-38 near z = −83). Subnormal values and slopes made every later
/// multiply that read them a microcode assist on x86: a SiLU training step slowed from 0.21 to
/// 0.41 ms over 4000 steps as units saturated. The values differ from the exact ones by < 2e-33.
const SILU_FLOOR: f32 = -80.0;
/// Where GELU's Φ(z) and φ(z) stop following z, both ways: Φ(−12.5) ≈ 3.7e-36 and φ(±12.5) ≈
/// 1.6e-35 are normal f32 numbers, past ±13.2 the exact ones are subnormal (the same assists as
/// [`SILU_FLOOR`]: a GELU training step went from 0.4 to 4.1 ms as units saturated). Above +12.5
/// the value and slope are z and 1 either way; below −12.5 they differ from the exact ones by
/// < 1e-32.
const GELU_RANGE: f32 = 12.5;
/// 1/√(2π), the standard normal density at 0.
const INV_SQRT_2PI: f32 = 0.398_942_3;

impl Activation {
    /// The lower-case name used in files and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Selu => "selu",
            Activation::Silu => "silu",
            Activation::Gelu => "gelu",
            Activation::Relu => "relu",
        }
    }

    /// The PyTorch module that computes the same function (for `bench/peers/mlp_check.py`).
    pub fn torch_module(&self) -> &'static str {
        match self {
            Activation::Selu => "nn.SELU()",
            Activation::Silu => "nn.SiLU()",
            Activation::Gelu => "nn.GELU()",
            Activation::Relu => "nn.ReLU()",
        }
    }

    /// φ(z) and φ'(z) for one value, exactly as the engine's passes compute them on this CPU.
    pub fn value_and_derivative(&self, z: f32) -> (f32, f32) {
        if fma_available() {
            self.evaluate::<true>(z)
        } else {
            self.evaluate::<false>(z)
        }
    }

    /// φ(z) and φ'(z); `FMA` selects fused multiply-adds (see [`madd`]).
    #[inline(always)]
    fn evaluate<const FMA: bool>(&self, z: f32) -> (f32, f32) {
        match self {
            Activation::Selu => {
                // Only the lower clamp can bite: the argument is at most 0.
                let below = if z < EXP_MIN { EXP_MIN } else { z };
                let e = exp_in_range::<FMA>(if z < 0.0 { below } else { 0.0 });
                let positive = z > 0.0;
                let value = if positive {
                    SELU_SCALE * z
                } else {
                    madd::<FMA>(SELU_SCALE * SELU_ALPHA, e, -SELU_SCALE * SELU_ALPHA)
                };
                let slope = if positive {
                    SELU_SCALE
                } else {
                    SELU_SCALE * SELU_ALPHA * e
                };
                (value, slope)
            }
            Activation::Silu => {
                let s = sigmoid::<FMA>(z);
                (z * s, s * madd::<FMA>(z, 1.0 - s, 1.0))
            }
            Activation::Gelu => {
                let (cdf, density) = normal_cdf_and_density::<FMA>(z);
                (z * cdf, madd::<FMA>(z, density, cdf))
            }
            Activation::Relu => {
                let positive = z > 0.0;
                (
                    if positive { z } else { 0.0 },
                    if positive { 1.0 } else { 0.0 },
                )
            }
        }
    }
}

/// Whether the CPU runs the AVX2 + FMA copy of the kernels.
fn fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// a·b + c, with one rounding (`mul_add`, a single instruction in the FMA copy of the kernels) or
/// two (a separate multiply and add, everywhere else).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// σ(z) = 1/(1 + e^(−z)) for z ≥ [`SILU_FLOOR`] (σ of the floor below it), never subnormal.
#[inline(always)]
fn sigmoid<const FMA: bool>(z: f32) -> f32 {
    // e^(−z) from z clamped to [SILU_FLOOR, 87]: the negation folds into the exponential's first
    // multiply-adds (no separate sign flip).
    let clamped = if z > -EXP_MIN { -EXP_MIN } else { z };
    let clamped = if clamped < SILU_FLOOR {
        SILU_FLOOR
    } else {
        clamped
    };
    1.0 / (1.0 + exp_in_range::<FMA>(-clamped))
}

/// Φ(z) and φ(z) (standard normal cdf and density) for |z| ≤ [`GELU_RANGE`] (those at ±range
/// beyond it: never subnormal), with Φ computed from `erfc` so that the left tail keeps its
/// relative accuracy.
#[inline(always)]
fn normal_cdf_and_density<const FMA: bool>(z: f32) -> (f32, f32) {
    let z = if z < -GELU_RANGE { -GELU_RANGE } else { z };
    let z = if z > GELU_RANGE { GELU_RANGE } else { z };
    // Φ(z) = ½ erfc(−z/√2). erfc(x) for x ≥ 0 from the Chebyshev fit of Numerical Recipes (3rd ed.,
    // §6.2.2, fractional error < 1.2e-7 everywhere); erfc(−x) = 2 − erfc(x).
    const C: [f32; 10] = [
        -1.265_512_2,
        1.000_023_7,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_204,
        1.488_515_9,
        -0.822_152_23,
        0.170_872_77,
    ];
    let x = -z * std::f32::consts::FRAC_1_SQRT_2;
    let ax = if x < 0.0 { -x } else { x };
    let t = 1.0 / madd::<FMA>(0.5, ax, 1.0);
    let mut poly = C[9];
    for &c in C[..9].iter().rev() {
        poly = madd::<FMA>(poly, t, c);
    }
    let minus_x2 = -ax * ax;
    let gauss = exp::<FMA>(minus_x2);
    let erfc_ax = t * exp::<FMA>(minus_x2 + poly);
    let erfc_x = if x >= 0.0 { erfc_ax } else { 2.0 - erfc_ax };
    // e^{−z²/2} = e^{−x²}: the density shares the exponential's argument.
    (0.5 * erfc_x, INV_SQRT_2PI * gauss)
}

/// eˣ in f32 to about 1 ulp on [−87, 88] (Cephes `expf`: x = n·ln2 + r, |r| ≤ ln2/2, a degree-6
/// polynomial for eʳ, 2ⁿ put into the exponent bits). Branch-free so that it vectorizes; inputs
/// beyond the range are clamped (e⁻⁸⁷ ≈ 1.6e-38 stands in for underflow), NaN stays NaN.
#[inline(always)]
fn exp<const FMA: bool>(x: f32) -> f32 {
    let x = if x > EXP_MAX { EXP_MAX } else { x };
    let x = if x < EXP_MIN { EXP_MIN } else { x };
    exp_in_range::<FMA>(x)
}

/// The clamps of [`exp`]: its range.
const EXP_MIN: f32 = -87.0;
const EXP_MAX: f32 = 88.0;

/// [`exp`] for x already in [`EXP_MIN`, `EXP_MAX`] (or NaN), for callers that know which clamp
/// can bite and apply only that one.
#[inline(always)]
fn exp_in_range<const FMA: bool>(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        5e-1,
    ];
    // 1.5·2²³: adding it rounds to the nearest integer and leaves that integer in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let shifted = madd::<FMA>(x, LOG2_E, ROUND);
    let n = shifted - ROUND;
    let r = madd::<FMA>(-n, LN2_LO, madd::<FMA>(-n, LN2_HI, x));
    let mut p = P[0];
    for &c in &P[1..] {
        p = madd::<FMA>(p, r, c);
    }
    let er = madd::<FMA>(p, r * r, r) + 1.0;
    // eʳ·2ⁿ by adding n to eʳ's exponent field: `shifted`'s bits are ROUND's plus n, and ROUND's
    // bits shifted left by 23 vanish (their low 9 bits are 0), so the shift leaves n·2²³. Exact, as
    // a product with 2ⁿ would be: the clamps keep the result normal (at x = −87, n = −126 and
    // eʳ ≥ 1.4 has the exponent field 127).
    f32::from_bits(er.to_bits().wrapping_add(shifted.to_bits() << 23))
}

/// One fused sweep over a layer's pre-activations `z` (rows × width, row-major, written by the GEMM
/// without bias): `z ← z + b`, then `h = φ(z)` (plus `skip` for a residual layer: `h = skip + φ(z)`)
/// overwrites `z`, and when `derivative` is given, `φ'(z)` is stored there (backward and JVP read it).
pub(crate) fn bias_activate(
    activation: Activation,
    z: &mut [f32],
    bias: &[f32],
    skip: Option<&[f32]>,
    derivative: Option<&mut [f32]>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if avx512_available() {
            // SAFETY: the CPU supports AVX-512F, AVX2 and FMA, checked just above.
            unsafe { bias_activate_avx512(activation, z, bias, skip, derivative) };
            return;
        }
        if fma_available() {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            unsafe { bias_activate_fma(activation, z, bias, skip, derivative) };
            return;
        }
    }
    bias_activate_portable::<false>(activation, z, bias, skip, derivative);
}

/// Whether the CPU runs the AVX-512 copy of the fused sweep (AVX-512F on top of AVX2 + FMA).
#[cfg(target_arch = "x86_64")]
fn avx512_available() -> bool {
    fma_available() && std::is_x86_feature_detected!("avx512f")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn bias_activate_avx512(
    activation: Activation,
    z: &mut [f32],
    bias: &[f32],
    skip: Option<&[f32]>,
    derivative: Option<&mut [f32]>,
) {
    bias_activate_portable::<true>(activation, z, bias, skip, derivative);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn bias_activate_fma(
    activation: Activation,
    z: &mut [f32],
    bias: &[f32],
    skip: Option<&[f32]>,
    derivative: Option<&mut [f32]>,
) {
    bias_activate_portable::<true>(activation, z, bias, skip, derivative);
}

#[inline(always)]
fn bias_activate_portable<const FMA: bool>(
    activation: Activation,
    z: &mut [f32],
    bias: &[f32],
    skip: Option<&[f32]>,
    derivative: Option<&mut [f32]>,
) {
    // Dispatching on the activation outside the loops gives each one its own vectorized loop.
    match activation {
        Activation::Selu => sweep::<FMA>(Activation::Selu, z, bias, skip, derivative),
        Activation::Silu => sweep::<FMA>(Activation::Silu, z, bias, skip, derivative),
        Activation::Gelu => sweep::<FMA>(Activation::Gelu, z, bias, skip, derivative),
        Activation::Relu => sweep::<FMA>(Activation::Relu, z, bias, skip, derivative),
    }
}

#[inline(always)]
fn sweep<const FMA: bool>(
    activation: Activation,
    z: &mut [f32],
    bias: &[f32],
    skip: Option<&[f32]>,
    derivative: Option<&mut [f32]>,
) {
    let width = bias.len();
    match (skip, derivative) {
        (None, None) => {
            for row in z.chunks_exact_mut(width) {
                for (zj, &bj) in row.iter_mut().zip(bias) {
                    *zj = activation.evaluate::<FMA>(*zj + bj).0;
                }
            }
        }
        (None, Some(derivative)) => {
            for (row, drow) in z
                .chunks_exact_mut(width)
                .zip(derivative.chunks_exact_mut(width))
            {
                for ((zj, dj), &bj) in row.iter_mut().zip(drow.iter_mut()).zip(bias) {
                    (*zj, *dj) = activation.evaluate::<FMA>(*zj + bj);
                }
            }
        }
        (Some(skip), None) => {
            for (row, srow) in z.chunks_exact_mut(width).zip(skip.chunks_exact(width)) {
                for ((zj, &sj), &bj) in row.iter_mut().zip(srow).zip(bias) {
                    *zj = sj + activation.evaluate::<FMA>(*zj + bj).0;
                }
            }
        }
        (Some(skip), Some(derivative)) => {
            let rows = z.chunks_exact_mut(width).zip(skip.chunks_exact(width));
            for ((row, srow), drow) in rows.zip(derivative.chunks_exact_mut(width)) {
                for (((zj, dj), &sj), &bj) in
                    row.iter_mut().zip(drow.iter_mut()).zip(srow).zip(bias)
                {
                    let (value, slope) = activation.evaluate::<FMA>(*zj + bj);
                    *zj = sj + value;
                    *dj = slope;
                }
            }
        }
    }
}

/// Backward through a hidden layer's activation: `delta ← upstream ⊙ φ'(z)` stored into
/// `derivative` (which held φ'(z)), and the bias gradient `db = Σ_rows delta` written to `bias_grad`.
/// A delta below f32's smallest normal number is stored as 0 ([`flush_subnormal`]: a saturated
/// unit's slope times a small upstream gradient would otherwise be read by both products of the
/// layer's backward pass).
pub(crate) fn chain_and_bias_grad(upstream: &[f32], derivative: &mut [f32], bias_grad: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { chain_and_bias_grad_avx2(upstream, derivative, bias_grad) };
            return;
        }
    }
    chain_and_bias_grad_portable(upstream, derivative, bias_grad);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn chain_and_bias_grad_avx2(
    upstream: &[f32],
    derivative: &mut [f32],
    bias_grad: &mut [f32],
) {
    chain_and_bias_grad_portable(upstream, derivative, bias_grad);
}

#[inline(always)]
fn chain_and_bias_grad_portable(upstream: &[f32], derivative: &mut [f32], bias_grad: &mut [f32]) {
    let width = bias_grad.len();
    bias_grad.fill(0.0);
    for (urow, drow) in upstream
        .chunks_exact(width)
        .zip(derivative.chunks_exact_mut(width))
    {
        for ((dj, &uj), gj) in drow.iter_mut().zip(urow).zip(bias_grad.iter_mut()) {
            let delta = flush_subnormal(uj * *dj);
            *dj = delta;
            *gj += delta;
        }
    }
}

/// Forward-mode tangent through a hidden layer: `tangent ← tangent ⊙ φ'(z)` (+ `skip` for a
/// residual layer), the JVP counterpart of [`chain_and_bias_grad`].
pub(crate) fn tangent_through(tangent: &mut [f32], derivative: &[f32], skip: Option<&[f32]>) {
    #[cfg(target_arch = "x86_64")]
    {
        if avx512_available() {
            // SAFETY: the CPU supports AVX-512F, AVX2 and FMA, checked just above.
            unsafe { tangent_through_avx512(tangent, derivative, skip) };
            return;
        }
    }
    tangent_through_portable(tangent, derivative, skip);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn tangent_through_avx512(tangent: &mut [f32], derivative: &[f32], skip: Option<&[f32]>) {
    tangent_through_portable(tangent, derivative, skip);
}

/// Element-wise (a product, plus the skip), so every copy gives the same bits.
#[inline(always)]
fn tangent_through_portable(tangent: &mut [f32], derivative: &[f32], skip: Option<&[f32]>) {
    match skip {
        Some(skip) => {
            for ((tj, &dj), &sj) in tangent.iter_mut().zip(derivative).zip(skip) {
                *tj = sj + *tj * dj;
            }
        }
        None => {
            for (tj, &dj) in tangent.iter_mut().zip(derivative) {
                *tj *= dj;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::reference::activation as reference;

    const ALL: [Activation; 4] = [
        Activation::Selu,
        Activation::Silu,
        Activation::Gelu,
        Activation::Relu,
    ];

    /// The polynomial exponential, in both roundings, against f64 `exp`: Cephes documents ~1 ulp on
    /// its range; we allow 2 ulps (relative 2.4e-7) for the rounding of the argument reduction.
    #[test]
    fn exp_is_within_two_ulps_of_f64() {
        let mut worst = 0.0_f64;
        let mut x = -87.0_f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            for got in [exp::<false>(x), exp::<true>(x)] {
                worst = worst.max(((got as f64 - want) / want).abs());
            }
            x += 0.013_7;
        }
        assert!(worst < 2.4e-7, "worst relative error {worst:e}");
        // Below the range the clamp holds the value at e⁻⁸⁷, still a normal f32 (the exponent is
        // put in by integer addition, which a subnormal result would break).
        for fma in [false, true] {
            let low = if fma {
                exp::<true>(-1e4)
            } else {
                exp::<false>(-1e4)
            };
            assert!(
                low.is_normal() && ((low as f64 - (-87.0_f64).exp()) / low as f64).abs() < 2.4e-7
            );
        }
        assert!(exp::<false>(f32::NAN).is_nan() && exp::<true>(f32::NAN).is_nan());
    }

    /// Values against the exact f64 functions, and derivatives against central differences of the
    /// f64 functions (h = 1e-6, truncation error O(h²) ≈ 1e-12, far below f32 resolution). The
    /// tolerance, 1e-6 relative to max(1, |φ|), is a few f32 ulps: each value is one or two rounded
    /// operations past a ~1-ulp exponential or the 1.2e-7 erfc fit.
    #[test]
    fn activations_match_exact_f64_values_and_slopes() {
        for activation in ALL {
            let mut z = -9.0_f32;
            while z < 9.0 {
                let (value, slope) = activation.value_and_derivative(z);
                let zf = z as f64;
                let want = reference(activation, zf);
                let h = 1e-6;
                let want_slope =
                    (reference(activation, zf + h) - reference(activation, zf - h)) / (2.0 * h);
                let scale = want.abs().max(1.0);
                assert!(
                    (value as f64 - want).abs() < 1e-6 * scale,
                    "{activation:?}({z}) = {value}, want {want}"
                );
                if zf.abs() > 1e-5 {
                    // (ReLU's kink at 0 is skipped by the grid; SELU's slope jumps there too.)
                    assert!(
                        (slope as f64 - want_slope).abs() < 2e-6 * want_slope.abs().max(1.0),
                        "{activation:?}'({z}) = {slope}, want {want_slope}"
                    );
                }
                z += 0.0173;
            }
        }
    }

    /// Every copy of the fused sweep the CPU can run, on a layer of the engine's width (64: whole
    /// 8- and 16-lane vectors) over values spanning both sides of every kink and the exponential's
    /// clamps, against the scalar definition with the same rounding, bit for bit.
    #[test]
    fn wide_sweeps_match_the_scalar_definition_bit_for_bit() {
        let width = 64;
        let rows = 37;
        let bias: Vec<f32> = (0..width).map(|j| 0.05 * j as f32 - 1.6).collect();
        let z0: Vec<f32> = (0..rows * width)
            .map(|i| ((i * 7919 % 4001) as f32 - 2000.0) * 0.05)
            .collect();
        for activation in ALL {
            let check = |z: &[f32], d: &[f32], fma: bool| {
                for i in 0..z.len() {
                    let x = z0[i] + bias[i % width];
                    let (v, s) = if fma {
                        activation.evaluate::<true>(x)
                    } else {
                        activation.evaluate::<false>(x)
                    };
                    assert_eq!((z[i].to_bits(), d[i].to_bits()), (v.to_bits(), s.to_bits()));
                }
            };
            let (mut z, mut d) = (z0.clone(), vec![0.0; z0.len()]);
            bias_activate_portable::<false>(activation, &mut z, &bias, None, Some(&mut d));
            check(&z, &d, false);
            #[cfg(target_arch = "x86_64")]
            {
                if fma_available() {
                    let (mut z, mut d) = (z0.clone(), vec![0.0; z0.len()]);
                    // SAFETY: AVX2 and FMA checked just above.
                    unsafe { bias_activate_fma(activation, &mut z, &bias, None, Some(&mut d)) };
                    check(&z, &d, true);
                }
                if avx512_available() {
                    let (mut z, mut d) = (z0.clone(), vec![0.0; z0.len()]);
                    // SAFETY: AVX-512F, AVX2 and FMA checked just above.
                    unsafe { bias_activate_avx512(activation, &mut z, &bias, None, Some(&mut d)) };
                    check(&z, &d, true);
                }
            }
        }
    }

    /// The fused sweep equals the scalar definition element by element (same formulas and rounding,
    /// so exactly), with and without the residual skip and the stored slope.
    #[test]
    fn fused_sweep_matches_scalar_definition() {
        let width = 5;
        let bias: Vec<f32> = (0..width).map(|j| 0.1 * j as f32 - 0.2).collect();
        let z0: Vec<f32> = (0..3 * width)
            .map(|i| ((i * 37 % 19) as f32 - 9.0) * 0.31)
            .collect();
        let skip: Vec<f32> = (0..3 * width).map(|i| i as f32 * 0.01).collect();
        for activation in ALL {
            let mut z = z0.clone();
            let mut d = vec![0.0; z.len()];
            bias_activate(activation, &mut z, &bias, Some(&skip), Some(&mut d));
            let mut values_only = z0.clone();
            bias_activate(activation, &mut values_only, &bias, None, None);
            for i in 0..z.len() {
                let (v, s) = activation.value_and_derivative(z0[i] + bias[i % width]);
                assert_eq!(z[i], skip[i] + v);
                assert_eq!(values_only[i], v);
                assert_eq!(d[i], s);
            }
        }
    }

    /// No subnormal number enters a multiply (on x86 each such multiply is a microcode assist,
    /// ~100 times slower): not the activations' values and slopes, nor the σ, Φ and φ they are
    /// built from, for any finite pre-activation — a logarithmic grid out to ±1e30 on both sides
    /// of 0, both roundings. Before the floors, σ(z < −87) and Φ(z < −13), φ(|z| > 13) were.
    #[test]
    fn nothing_is_subnormal() {
        let magnitudes = (0..=600).map(|i| 10f32.powf(i as f32 / 20.0));
        let grid: Vec<f32> = magnitudes
            .flat_map(|m| [m, -m, m / 1e30, -m / 1e30])
            .collect();
        for &z in &grid {
            let mut values = vec![sigmoid::<false>(z), sigmoid::<true>(z)];
            let (c, d) = normal_cdf_and_density::<false>(z);
            let (cf, df) = normal_cdf_and_density::<true>(z);
            values.extend([c, d, cf, df]);
            for activation in ALL {
                for (v, s) in [
                    activation.evaluate::<false>(z),
                    activation.evaluate::<true>(z),
                ] {
                    values.extend([v, s]);
                }
            }
            assert!(
                values.iter().all(|v| !v.is_subnormal()),
                "z = {z}: {values:?}"
            );
        }
    }

    /// The backward delta u·φ'(z) is the exact product where that is a normal number (or 0, or a
    /// NaN), and 0 where it would be subnormal; the bias gradient sums what was stored.
    #[test]
    fn backward_deltas_are_never_subnormal() {
        let upstream = [1e-20_f32, -3e-19, 0.5, 2.0, 1e-30, f32::NAN];
        let slopes = [1e-20_f32, 2e-21, -0.25, 1e-36, 1e-10, 1.0];
        let mut derivative = slopes;
        let mut bias_grad = [f32::NAN; 6];
        chain_and_bias_grad(&upstream, &mut derivative, &mut bias_grad);
        let want = [0.0, 0.0, -0.125, 2e-36, 0.0, f32::NAN];
        for (j, (&got, &w)) in derivative.iter().zip(&want).enumerate() {
            assert!(
                got == w || (got.is_nan() && w.is_nan()),
                "{j}: {got:e} vs {w:e}"
            );
            assert!(!got.is_subnormal(), "{j}: {got:e}");
            assert!(bias_grad[j] == got || (got.is_nan() && bias_grad[j].is_nan()));
        }
        assert!(
            (upstream[0] * slopes[0]).is_subnormal() && (upstream[4] * slopes[4]).is_subnormal()
        );
    }

    #[test]
    fn names_round_trip() {
        for activation in ALL {
            assert_eq!(activation.name().parse::<Activation>().unwrap(), activation);
        }
        assert!("tanh".parse::<Activation>().is_err());
    }
}

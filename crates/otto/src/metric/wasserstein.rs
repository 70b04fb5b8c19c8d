//! W2 between generated samples and held-out points, the metric of the published protocol (SF2M
//! paper, App. F; torchcfm's `wasserstein(a, b, power=2)` in
//! `runner/src/models/components/optimal_transport.py`, √ of POT's `emd2` on squared distances):
//!
//! W2(μ̂, ν̂) = (min_{π ∈ Π(1/n, 1/m)} Σ_{ij} π_ij ‖x_i − y_j‖²)^{1/2},
//!
//! between the uniform empirical measures, by exact optimal transport
//! ([`otto_ot::wasserstein::w2_exact`]). The n×m cost matrix is stored (8·n·m bytes: 800 MB for
//! the protocol's 10 000 vs 10 000 points).

use otto_ot::Matrix;

use super::MetricError;

/// W2 (the distance, not its square) between the uniform empirical measures on the rows of `x`
/// and of `y`; the sizes may differ.
pub fn w2(x: &Matrix, y: &Matrix) -> Result<f64, MetricError> {
    otto_ot::cost::check_point_clouds(x, y)?;
    let a = vec![1.0 / x.rows() as f64; x.rows()];
    let b = vec![1.0 / y.rows() as f64; y.rows()];
    Ok(otto_ot::wasserstein::w2_exact(x, &a, y, &b)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Toy;

    #[test]
    fn a_translate_is_at_the_translation_norm() {
        // Truth: W2²(μ, (x ↦ x + v)#μ) = ‖v‖² for any μ (W2² splits into the squared distance of
        // the means plus W2² of the centred measures, which coincide). Exact LP: tolerance 1e-9.
        let x = Toy::Moons.sample(300, 4);
        let v = [0.7, -2.4];
        let y = Matrix::from_fn(300, 2, |i, j| x.get(i, j) + v[j]);
        let norm = (v[0] * v[0] + v[1] * v[1]).sqrt();
        assert!((w2(&x, &y).unwrap() - norm).abs() < 1e-9);
        assert!(w2(&x, &x).unwrap().abs() < 1e-9);
    }

    #[test]
    fn unequal_sizes_and_symmetry() {
        // Truth: 1-D, {0} vs {−1, 1}: the mass at 0 moves half to −1 and half to 1, so
        // W2² = ½·1 + ½·1 = 1. W2 is symmetric.
        let x = Matrix::zeros(1, 1);
        let y = Matrix::from_fn(2, 1, |i, _| if i == 0 { -1.0 } else { 1.0 });
        assert!((w2(&x, &y).unwrap() - 1.0).abs() < 1e-12);
        let a = Toy::Circles.sample(200, 1);
        let b = Toy::Checkerboard.sample(150, 2);
        let (ab, ba) = (w2(&a, &b).unwrap(), w2(&b, &a).unwrap());
        assert!((ab - ba).abs() < 1e-9 * ab, "{ab} {ba}");
    }

    #[test]
    fn dimension_mismatch_is_an_error() {
        let e = w2(&Matrix::zeros(3, 2), &Matrix::zeros(3, 3)).unwrap_err();
        assert!(matches!(e, MetricError::Input(_)), "{e}");
    }
}

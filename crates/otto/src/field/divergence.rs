//! The divergence `∇·u_t(x) = tr J_x u_t(x)` of a field, which the likelihood integrates along the
//! probability-flow ODE (MATH.md §7). A field supplies Jacobian–vector products `J_x u_t(x) v`;
//! the divergence follows from them, exactly (d products with the unit vectors, as FFJORD's
//! `divergence_bf` and flow_matching's exact mode) or by Hutchinson's estimator `zᵀ J z` with
//! Rademacher probes z (E[z zᵀ] = I, so E[zᵀ J z] = tr J; Hutchinson 1989; Grathwohl et al.,
//! FFJORD, ICLR 2019, §3.1).

use otto_ot::Matrix;

use super::VectorField;

/// A field whose Jacobian `J_x u_t(x)` can be applied to tangent vectors, row by row.
pub trait Divergence: VectorField {
    /// Writes `J_x u_t(x_i) v_i` into row i of `out` for every row `x_i` of `x` and `v_i` of `v`
    /// (all three n×d). t is held fixed.
    fn jvp(&self, t: f64, x: &Matrix, v: &Matrix, out: &mut Matrix);

    /// The exact divergence `∇·u_t(x_i) = Σ_j e_jᵀ J_x u_t(x_i) e_j` of every row, written into
    /// `out` (length n): d Jacobian–vector products with the unit vectors.
    fn divergence(&self, t: f64, x: &Matrix, out: &mut [f64]) {
        let d = x.cols();
        quadratic_forms(self, t, x, d, 1.0, out, |j, tangent| {
            let values = tangent.as_mut_slice();
            values.fill(0.0);
            values.iter_mut().skip(j).step_by(d).for_each(|v| *v = 1.0);
        });
    }

    /// The velocity and the exact divergence together (`out` n×d, `divergence` length n): by
    /// default [`VectorField::velocity`] then [`Divergence::divergence`]; a field that can share
    /// work between them (a network's primal pass) overrides it.
    fn velocity_and_divergence(
        &self,
        t: f64,
        x: &Matrix,
        out: &mut Matrix,
        divergence: &mut [f64],
    ) {
        self.velocity(t, x, out);
        self.divergence(t, x, divergence);
    }

    /// The velocity and Hutchinson's estimate together (`out` n×d, `divergence` length n): by
    /// default [`VectorField::velocity`] then [`Divergence::hutchinson`]; a field that can share
    /// work between them (a network's primal pass) overrides it.
    fn velocity_and_hutchinson(
        &self,
        t: f64,
        x: &Matrix,
        probes: &[Matrix],
        out: &mut Matrix,
        divergence: &mut [f64],
    ) {
        self.velocity(t, x, out);
        self.hutchinson(t, x, probes, divergence);
    }

    /// Hutchinson's estimate `(1/K) Σ_k z_kᵀ J_x u_t(x_i) z_k` of the divergence of every row,
    /// written into `out` (length n): K products with the probes `probes[k]` (each n×d, row i the
    /// probe of point i). Unbiased when the probes have E[z zᵀ] = I (Rademacher or Gaussian); with
    /// Rademacher probes its variance is `2 Σ_{a≠b} J̃_ab² / K`, J̃ = (J + Jᵀ)/2 (Hutchinson 1989).
    ///
    /// Panics if `probes` is empty or a probe has the wrong shape.
    fn hutchinson(&self, t: f64, x: &Matrix, probes: &[Matrix], out: &mut [f64]) {
        assert!(!probes.is_empty(), "Hutchinson's estimator needs a probe");
        let weight = 1.0 / probes.len() as f64;
        quadratic_forms(self, t, x, probes.len(), weight, out, |k, tangent| {
            tangent.as_mut_slice().copy_from_slice(probes[k].as_slice())
        });
    }
}

/// `out_i = weight · Σ_k v_kiᵀ J_x u_t(x_i) v_ki` over `count` tangent matrices v_k, each written
/// into one reused buffer by `fill(k, buffer)`.
fn quadratic_forms<F: Divergence + ?Sized>(
    field: &F,
    t: f64,
    x: &Matrix,
    count: usize,
    weight: f64,
    out: &mut [f64],
    fill: impl Fn(usize, &mut Matrix),
) {
    let (n, d) = x.shape();
    assert_eq!(out.len(), n, "one divergence per row of x");
    let mut tangent = Matrix::zeros(n, d);
    let mut product = Matrix::zeros(n, d);
    out.fill(0.0);
    for k in 0..count {
        fill(k, &mut tangent);
        field.jvp(t, x, &tangent, &mut product);
        for ((o, v), jv) in out
            .iter_mut()
            .zip(tangent.as_slice().chunks_exact(d))
            .zip(product.as_slice().chunks_exact(d))
        {
            *o += weight * v.iter().zip(jv).map(|(a, b)| a * b).sum::<f64>();
        }
    }
}

//! Free energies and potentials (JKO 1998; Santambrogio 2015, *Optimal Transport for Applied
//! Mathematicians*, ch. 8):
//!
//! `F(ρ) = D ∫ ρ log ρ + ∫ V ρ + c ∫ ρ^m/(m − 1)`,
//!
//! whose Wasserstein gradient flow `∂_t ρ = ∇·(ρ ∇ δF/δρ)` with first variation
//! `δF/δρ = D (log ρ + 1) + V + c m ρ^{m−1}/(m − 1)` is the Fokker–Planck equation
//! `∂_t ρ = ∇·(ρ∇V) + DΔρ` (c = 0) or the porous-medium equation `∂_t ρ = cΔρ^m` (D = 0, V = 0).
//! On a grid the integrals are midpoint sums `∫ f(ρ) ≈ Σ_i f(ρ_i) ΔV`.

use crate::error::{OtError, Result};
use crate::flow::grid::{Grid, GridDensity};
use crate::matrix::Matrix;

/// A confining potential `V`.
#[derive(Debug, Clone, PartialEq)]
pub enum Potential {
    /// `V(x) = ½ (x − c)ᵀ A (x − c)` with `A` symmetric (the Ornstein–Uhlenbeck potential when
    /// `A` is positive definite). Build with [`Potential::quadratic`].
    Quadratic {
        /// The centre `c`.
        center: Vec<f64>,
        /// The symmetric matrix `A`, d×d.
        a: Matrix,
    },
    /// The double well `V(x) = Σ_k (x_k² − 1)²`, one well pair per coordinate.
    DoubleWell,
    /// Values at the nodes of a grid (storage order), e.g. read from a `.npy` file. It has no
    /// gradient off the grid, so particle schemes reject it.
    OnGrid(Vec<f64>),
}

impl Potential {
    /// `V(x) = ½ (x − c)ᵀ A (x − c)`; `A` must be d×d (d = `center.len()`), finite and symmetric
    /// (to 1e-12 relative; it is symmetrized exactly).
    pub fn quadratic(center: &[f64], a: &Matrix) -> Result<Self> {
        let d = center.len();
        if d == 0 {
            return Err(OtError::Empty {
                what: "potential centre",
            });
        }
        if a.shape() != (d, d) {
            return Err(OtError::Shape {
                what: "potential matrix A",
                expected: format!("{d}×{d} (the dimension of the centre)"),
                got: format!("{}×{}", a.rows(), a.cols()),
            });
        }
        crate::marginal::check_finite("potential centre", center)?;
        a.check_finite("potential matrix A")?;
        let scale = a.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let sym = Matrix::from_fn(d, d, |i, j| 0.5 * (a.get(i, j) + a.get(j, i)));
        if (0..d * d).any(|k| (a.as_slice()[k] - sym.as_slice()[k]).abs() > 1e-12 * scale) {
            return Err(OtError::NotPositiveDefinite {
                what: "potential matrix A (not symmetric)".into(),
                kind: "semi-",
            });
        }
        Ok(Self::Quadratic {
            center: center.to_vec(),
            a: sym,
        })
    }

    /// `V` at the point `x`; [`Potential::OnGrid`] has no value off its grid.
    pub fn value(&self, x: &[f64]) -> Result<f64> {
        match self {
            Self::Quadratic { center, a } => {
                self.check_dim(x.len())?;
                let y: Vec<f64> = x.iter().zip(center).map(|(p, c)| p - c).collect();
                let mut v = 0.0;
                for (i, yi) in y.iter().enumerate() {
                    for (j, yj) in y.iter().enumerate() {
                        v += yi * a.get(i, j) * yj;
                    }
                }
                Ok(0.5 * v)
            }
            Self::DoubleWell => Ok(x.iter().map(|&v| (v * v - 1.0).powi(2)).sum()),
            Self::OnGrid(_) => Err(self.off_grid()),
        }
    }

    /// `∇V(x)` written into `out` (same length as `x`): `A(x − c)` or `4x_k(x_k² − 1)`;
    /// [`Potential::OnGrid`] has none.
    pub fn gradient(&self, x: &[f64], out: &mut [f64]) -> Result<()> {
        match self {
            Self::Quadratic { center, a } => {
                self.check_dim(x.len())?;
                for (i, o) in out.iter_mut().enumerate() {
                    *o = (0..x.len()).map(|j| a.get(i, j) * (x[j] - center[j])).sum();
                }
            }
            Self::DoubleWell => {
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = 4.0 * v * (v * v - 1.0);
                }
            }
            Self::OnGrid(_) => return Err(self.off_grid()),
        }
        Ok(())
    }

    /// `V` at every node of `grid` (storage order). For [`Potential::OnGrid`] the values are
    /// checked (one per node, finite) and returned as they are.
    pub fn on_grid(&self, grid: &Grid) -> Result<Vec<f64>> {
        match self {
            Self::OnGrid(values) => {
                grid.check_len("potential values", values)?;
                crate::marginal::check_finite("potential values", values)?;
                Ok(values.clone())
            }
            _ => {
                self.check_dim(grid.dim())?;
                Ok(grid.map(|x| self.value(x).expect("dimension checked")))
            }
        }
    }

    fn check_dim(&self, d: usize) -> Result<()> {
        if let Self::Quadratic { center, .. } = self {
            if center.len() != d {
                return Err(OtError::Shape {
                    what: "point for the quadratic potential",
                    expected: format!("dimension {}", center.len()),
                    got: format!("dimension {d}"),
                });
            }
        }
        Ok(())
    }

    fn off_grid(&self) -> OtError {
        OtError::Unsupported {
            what: "a potential given on a grid, off that grid",
            reason: "it has values at the grid nodes only (no value or gradient elsewhere)",
        }
    }
}

/// The free energy `F(ρ) = D ∫ρ log ρ + ∫Vρ + c ∫ρ^m/(m − 1)`, each term optional. Build with
/// [`FreeEnergy::new`] (entropy with `D = 1` alone) and the setters; validated by the solvers.
#[derive(Debug, Clone, PartialEq)]
pub struct FreeEnergy {
    diffusion: f64,
    potential: Option<Potential>,
    porous: Option<(f64, f64)>,
}

impl Default for FreeEnergy {
    /// The entropy `∫ρ log ρ` alone (`D = 1`, no potential, no porous term): the heat flow.
    fn default() -> Self {
        Self {
            diffusion: 1.0,
            potential: None,
            porous: None,
        }
    }
}

impl FreeEnergy {
    /// The default: entropy with `D = 1`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The Fokker–Planck free energy `D ∫ρ log ρ + ∫Vρ`, whose stationary state is `∝ e^{−V/D}`.
    pub fn fokker_planck(potential: Potential, diffusion: f64) -> Self {
        Self::new().diffusion(diffusion).potential(potential)
    }

    /// The porous-medium energy `c ∫ρ^m/(m − 1)` alone (`D = 0`, no potential).
    pub fn porous_medium(c: f64, m: f64) -> Self {
        Self::new().diffusion(0.0).porous(c, m)
    }

    /// The diffusion coefficient `D ≥ 0` of the entropy term (0 switches it off).
    pub fn diffusion(mut self, diffusion: f64) -> Self {
        self.diffusion = diffusion;
        self
    }

    /// Adds the potential energy `∫Vρ`.
    pub fn potential(mut self, potential: Potential) -> Self {
        self.potential = Some(potential);
        self
    }

    /// Adds the internal energy `c ∫ρ^m/(m − 1)`, `c ≥ 0`, `m > 1` (porous medium for `c > 0`).
    pub fn porous(mut self, c: f64, m: f64) -> Self {
        self.porous = Some((c, m));
        self
    }

    /// `D`.
    pub fn diffusion_coefficient(&self) -> f64 {
        self.diffusion
    }

    /// The potential, if any.
    pub fn potential_term(&self) -> Option<&Potential> {
        self.potential.as_ref()
    }

    /// `(c, m)` of the porous term, if any.
    pub fn porous_term(&self) -> Option<(f64, f64)> {
        self.porous
    }

    /// Checks every coefficient, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, reason| {
            Err(OtError::InvalidOption {
                name,
                value: value.to_string(),
                reason,
            })
        };
        if !(self.diffusion >= 0.0 && self.diffusion.is_finite()) {
            return bad(
                "diffusion",
                self.diffusion,
                "must be non-negative and finite",
            );
        }
        if let Some((c, m)) = self.porous {
            if !(c >= 0.0 && c.is_finite()) {
                return bad("porous coefficient c", c, "must be non-negative and finite");
            }
            if !(m > 1.0 && m.is_finite()) {
                return bad("porous exponent m", m, "must be finite and > 1");
            }
        }
        Ok(())
    }

    /// The energy with its potential evaluated on `grid`, ready for repeated evaluation.
    pub fn on(&self, grid: &Grid) -> Result<GridEnergy> {
        self.validate()?;
        let potential = match &self.potential {
            Some(p) => p.on_grid(grid)?,
            None => vec![0.0; grid.len()],
        };
        Ok(GridEnergy {
            diffusion: self.diffusion,
            potential,
            porous: self.porous.filter(|&(c, _)| c > 0.0),
            cell_volume: grid.cell_volume(),
        })
    }

    /// `F(ρ)` as a midpoint sum on the density's grid.
    pub fn value(&self, rho: &GridDensity) -> Result<f64> {
        Ok(self.on(rho.grid())?.value(rho.values()))
    }

    /// The first variation `δF/δρ = D (log ρ + 1) + V + c m ρ^{m−1}/(m − 1)` at every node
    /// (−∞ where `ρ = 0` and `D > 0`).
    pub fn first_variation(&self, rho: &GridDensity) -> Result<Vec<f64>> {
        Ok(self.on(rho.grid())?.first_variation(rho.values()))
    }
}

/// A [`FreeEnergy`] bound to a grid: its potential as node values. Works on point values `ρ_i`.
#[derive(Debug, Clone, PartialEq)]
pub struct GridEnergy {
    diffusion: f64,
    potential: Vec<f64>,
    porous: Option<(f64, f64)>,
    cell_volume: f64,
}

impl GridEnergy {
    /// `D`.
    pub fn diffusion(&self) -> f64 {
        self.diffusion
    }

    /// `V` at the nodes (zeros when the energy has no potential).
    pub fn potential(&self) -> &[f64] {
        &self.potential
    }

    /// `(c, m)` of the porous term when `c > 0`.
    pub fn porous(&self) -> Option<(f64, f64)> {
        self.porous
    }

    /// `F = Σ_i [D ρ_i log ρ_i + V_i ρ_i + c ρ_i^m/(m − 1)] ΔV` (with `0 log 0 = 0`).
    pub fn value(&self, rho: &[f64]) -> f64 {
        let d = self.diffusion;
        let sum: f64 = rho
            .iter()
            .zip(&self.potential)
            .map(|(&r, &v)| {
                let mut f = v * r;
                if d > 0.0 && r > 0.0 {
                    f += d * r * r.ln();
                }
                if let Some((c, m)) = self.porous {
                    f += c * r.powf(m) / (m - 1.0);
                }
                f
            })
            .sum();
        sum * self.cell_volume
    }

    /// `δF/δρ_i = D (log ρ_i + 1) + V_i + c m ρ_i^{m−1}/(m − 1)`.
    pub fn first_variation(&self, rho: &[f64]) -> Vec<f64> {
        rho.iter()
            .zip(&self.potential)
            .map(|(&r, &v)| {
                let mut g = v;
                if self.diffusion > 0.0 {
                    g += self.diffusion * (r.ln() + 1.0);
                }
                if let Some((c, m)) = self.porous {
                    g += c * m * r.powf(m - 1.0) / (m - 1.0);
                }
                g
            })
            .collect()
    }
}

/// The Gibbs density `e^{−V/D}/Z` on `grid` (normalized on the grid), the stationary state of
/// Fokker–Planck and of its discretization in [`crate::flow::fokker_planck`]. Needs `D > 0` and no
/// porous term.
pub fn gibbs_density(energy: &FreeEnergy, grid: &Grid) -> Result<GridDensity> {
    let bound = energy.on(grid)?;
    if bound.diffusion <= 0.0 || bound.porous.is_some() {
        return Err(OtError::Unsupported {
            what: "a Gibbs state e^{−V/D}",
            reason: "it needs D > 0 and no porous term",
        });
    }
    let vmin = bound.potential.iter().fold(f64::INFINITY, |m, &v| m.min(v));
    let values = bound
        .potential
        .iter()
        .map(|v| (-(v - vmin) / bound.diffusion).exp())
        .collect();
    Ok(GridDensity::from_values(grid, values)?.density)
}

/// `KL(ρ ‖ σ) = Σ_i ρ_i log(ρ_i/σ_i) ΔV` between two densities on the same grid (+∞ if `ρ` has
/// mass where `σ` has none).
pub fn kl_divergence(rho: &GridDensity, sigma: &GridDensity) -> Result<f64> {
    rho.l1_distance(sigma)?;
    let sum: f64 = rho
        .values()
        .iter()
        .zip(sigma.values())
        .map(|(&r, &s)| if r > 0.0 { r * (r / s).ln() } else { 0.0 })
        .sum();
    Ok(sum * rho.grid().cell_volume())
}

/// `KL(ρ ‖ e^{−V/D}/Z) = Σ_i ρ_i (log ρ_i + (V_i − V_min)/D + log Z) ΔV` with
/// `Z = Σ_i e^{−(V_i − V_min)/D} ΔV`, in the log domain: far from the wells e^{−V/D} underflows to 0
/// (a double well at |x| = 6 has V/D ≈ 1225) while a scheme may keep a positive density there,
/// which would make the ratio form of [`kl_divergence`] infinite.
pub fn kl_to_gibbs(energy: &FreeEnergy, rho: &GridDensity) -> Result<f64> {
    let bound = energy.on(rho.grid())?;
    if bound.diffusion <= 0.0 || bound.porous.is_some() {
        return Err(OtError::Unsupported {
            what: "KL to a Gibbs state e^{−V/D}",
            reason: "it needs D > 0 and no porous term",
        });
    }
    let d = bound.diffusion;
    let vmin = bound.potential.iter().fold(f64::INFINITY, |m, &v| m.min(v));
    let dv = rho.grid().cell_volume();
    let log_z = (bound
        .potential
        .iter()
        .map(|x| (-(x - vmin) / d).exp())
        .sum::<f64>()
        * dv)
        .ln();
    Ok(rho
        .values()
        .iter()
        .zip(&bound.potential)
        .filter(|(r, _)| **r > 0.0)
        .map(|(r, x)| r * (r.ln() + (x - vmin) / d + log_z))
        .sum::<f64>()
        * dv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gaussian::Gaussian;

    #[test]
    fn kl_to_gibbs_agrees_with_the_ratio_form_and_survives_underflow() {
        // Truth: where e^{−V/D} does not underflow both formulas are the same sum (to round-off);
        // on a double well at |x| ≤ 6 with D = 0.05 the Gibbs density underflows to 0 in the tails,
        // where a Gaussian still has (tiny) mass, so the ratio form is +∞ and the log form finite.
        let grid = Grid::line(-6.0, 6.0, 600).unwrap();
        let g = Gaussian::new(&[0.3], &Matrix::new(1, 1, vec![0.5]).unwrap()).unwrap();
        let rho = GridDensity::gaussian(&grid, &g).unwrap();
        let quadratic =
            Potential::quadratic(&[0.0], &Matrix::new(1, 1, vec![1.0]).unwrap()).unwrap();
        let energy = FreeEnergy::fokker_planck(quadratic, 1.0);
        let ratio = kl_divergence(&rho, &gibbs_density(&energy, &grid).unwrap()).unwrap();
        let log_form = kl_to_gibbs(&energy, &rho).unwrap();
        assert!((ratio - log_form).abs() < 1e-10, "{ratio} vs {log_form}");
        let cold = FreeEnergy::fokker_planck(Potential::DoubleWell, 0.05);
        let wide = GridDensity::gaussian(
            &grid,
            &Gaussian::new(&[0.0], &Matrix::new(1, 1, vec![4.0]).unwrap()).unwrap(),
        )
        .unwrap();
        assert!(kl_divergence(&wide, &gibbs_density(&cold, &grid).unwrap())
            .unwrap()
            .is_infinite());
        assert!(kl_to_gibbs(&cold, &wide).unwrap().is_finite());
    }

    #[test]
    fn gaussian_free_energy_matches_its_closed_form() {
        // Truth: for ρ = N(μ, s²) and V = x²/2, F = ∫ρ log ρ + ∫Vρ = −½ log(2πe s²) + (μ² + s²)/2.
        // Midpoint sums on [−10, 10] with 2000 cells are exact to ~1e-12 for Gaussians.
        let grid = Grid::line(-10.0, 10.0, 2000).unwrap();
        let g = Gaussian::new(&[0.7], &Matrix::new(1, 1, vec![0.64]).unwrap()).unwrap();
        let rho = GridDensity::gaussian(&grid, &g).unwrap();
        let v = Potential::quadratic(&[0.0], &Matrix::new(1, 1, vec![1.0]).unwrap()).unwrap();
        let f = FreeEnergy::fokker_planck(v, 1.0).value(&rho).unwrap();
        let e = std::f64::consts::E;
        let want = -0.5 * (2.0 * std::f64::consts::PI * e * 0.64).ln() + (0.49 + 0.64) / 2.0;
        assert!((f - want).abs() < 1e-10, "{f} vs {want}");
    }

    #[test]
    fn first_variation_is_the_derivative_of_the_sum() {
        // Truth: ∂F/∂ρ_i = ΔV · δF/δρ_i for the midpoint sum; central finite differences with
        // step 1e-6 are accurate to ~1e-9 here.
        let grid = Grid::line(-2.0, 2.0, 8).unwrap();
        let e = FreeEnergy::new()
            .diffusion(0.5)
            .potential(Potential::DoubleWell)
            .porous(0.3, 2.5)
            .on(&grid)
            .unwrap();
        let rho: Vec<f64> = (0..8).map(|i| 0.1 + 0.05 * i as f64).collect();
        let g = e.first_variation(&rho);
        for i in 0..8 {
            let (mut up, mut down) = (rho.clone(), rho.clone());
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let fd = (e.value(&up) - e.value(&down)) / 2e-6 / grid.cell_volume();
            assert!((fd - g[i]).abs() < 1e-7, "{i}: {fd} vs {}", g[i]);
        }
    }

    #[test]
    fn bad_coefficients_and_potentials_are_errors() {
        let grid = Grid::line(0.0, 1.0, 4).unwrap();
        assert!(FreeEnergy::new().diffusion(-1.0).on(&grid).is_err());
        assert!(FreeEnergy::porous_medium(1.0, 1.0).on(&grid).is_err());
        assert!(FreeEnergy::new()
            .potential(Potential::OnGrid(vec![0.0; 3]))
            .on(&grid)
            .is_err());
        let asym = Matrix::from_rows(&[vec![1.0, 0.5], vec![0.0, 1.0]]).unwrap();
        assert!(Potential::quadratic(&[0.0, 0.0], &asym).is_err());
        let mut g = [0.0];
        assert!(matches!(
            Potential::OnGrid(vec![0.0; 4]).gradient(&[0.5], &mut g),
            Err(OtError::Unsupported { .. })
        ));
    }
}

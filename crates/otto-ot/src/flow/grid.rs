//! Uniform 1-D and 2-D grids on a box and the densities that live on them.
//!
//! A grid is cell-centred: the box `[lo, hi]` of each axis is cut into `n` cells of width
//! `Δx = (hi − lo)/n` and node `i` sits at the cell centre `lo + (i + ½)Δx`. This is the natural
//! layout of the finite-volume Fokker–Planck scheme (a node per control volume, zero flux through
//! the box's faces). 2-D values are stored row-major, `flat = i·n₁ + j` for node `(x_i, y_j)`, so
//! the second axis is contiguous.
//!
//! A [`GridDensity`] holds point values `ρ_i ≥ 0` of a density per unit length (area) with unit
//! mass `Σ_i ρ_i ΔV = 1`, `ΔV` the cell volume; its masses `p_i = ρ_i ΔV` form the histogram that
//! the transport solvers see.

use crate::error::{OtError, Result};
use crate::gaussian::Gaussian;
use crate::marginal::check_finite;
use crate::matrix::Matrix;

/// One axis of a grid: `n` cells on `[lo, hi]`, nodes at the cell centres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end of the interval.
    pub hi: f64,
    /// Number of cells (and nodes).
    pub n: usize,
}

impl Axis {
    /// The cell width `Δx = (hi − lo)/n`.
    pub fn spacing(&self) -> f64 {
        (self.hi - self.lo) / self.n as f64
    }

    /// Node `i`: the cell centre `lo + (i + ½)Δx`.
    pub fn node(&self, i: usize) -> f64 {
        self.lo + (i as f64 + 0.5) * self.spacing()
    }

    /// All nodes in increasing order.
    pub fn nodes(&self) -> Vec<f64> {
        (0..self.n).map(|i| self.node(i)).collect()
    }

    fn validate(&self) -> Result<()> {
        if !(self.lo.is_finite() && self.hi.is_finite() && self.lo < self.hi) {
            return Err(OtError::InvalidOption {
                name: "domain",
                value: format!("[{}, {}]", self.lo, self.hi),
                reason: "an axis needs finite ends with lo < hi",
            });
        }
        if self.n < 3 {
            return Err(OtError::InvalidOption {
                name: "grid points",
                value: self.n.to_string(),
                reason: "an axis needs at least 3 cells",
            });
        }
        Ok(())
    }
}

/// A uniform cell-centred grid in dimension 1 or 2.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    axes: Vec<Axis>,
}

impl Grid {
    /// The 1-D grid of `n ≥ 3` cells on `[lo, hi]`.
    pub fn line(lo: f64, hi: f64, n: usize) -> Result<Self> {
        Self::new(vec![Axis { lo, hi, n }])
    }

    /// The 2-D grid of `n × n` cells on the square `[lo, hi]²`.
    pub fn square(lo: f64, hi: f64, n: usize) -> Result<Self> {
        let axis = Axis { lo, hi, n };
        Self::new(vec![axis, axis])
    }

    /// The 2-D grid of `n₀ × n₁` cells on the box `[lo₀, hi₀] × [lo₁, hi₁]`.
    pub fn rectangle(x: (f64, f64), y: (f64, f64), shape: (usize, usize)) -> Result<Self> {
        Self::new(vec![
            Axis {
                lo: x.0,
                hi: x.1,
                n: shape.0,
            },
            Axis {
                lo: y.0,
                hi: y.1,
                n: shape.1,
            },
        ])
    }

    fn new(axes: Vec<Axis>) -> Result<Self> {
        for axis in &axes {
            axis.validate()?;
        }
        Ok(Self { axes })
    }

    /// The dimension, 1 or 2.
    pub fn dim(&self) -> usize {
        self.axes.len()
    }

    /// The axes, first to last (the last is contiguous in memory).
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// The number of cells along each axis.
    pub fn shape(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.n).collect()
    }

    /// The number of nodes `Π n_k`.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.n).product()
    }

    /// Always false: every axis has at least 3 cells.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The cell volume `ΔV = Π Δx_k`.
    pub fn cell_volume(&self) -> f64 {
        self.axes.iter().map(Axis::spacing).product()
    }

    /// The coordinates of node `flat` (row-major), one per axis.
    pub fn node(&self, flat: usize) -> Vec<f64> {
        match self.axes.as_slice() {
            [x] => vec![x.node(flat)],
            [x, y] => vec![x.node(flat / y.n), y.node(flat % y.n)],
            _ => unreachable!("grids are 1-D or 2-D"),
        }
    }

    /// All nodes as a point cloud, one per row (`len × dim`), in storage order.
    pub fn points(&self) -> Matrix {
        let d = self.dim();
        let mut m = Matrix::zeros(self.len(), d);
        for flat in 0..self.len() {
            m.row_mut(flat).copy_from_slice(&self.node(flat));
        }
        m
    }

    /// `f` evaluated at every node, in storage order.
    pub fn map(&self, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        (0..self.len()).map(|flat| f(&self.node(flat))).collect()
    }

    /// Fails with [`OtError::Shape`] unless `values` has one entry per node.
    pub fn check_len(&self, what: &'static str, values: &[f64]) -> Result<()> {
        if values.len() != self.len() {
            return Err(OtError::Shape {
                what,
                expected: format!("{} values (grid {:?})", self.len(), self.shape()),
                got: format!("{} values", values.len()),
            });
        }
        Ok(())
    }
}

/// A density on a grid: point values `ρ_i ≥ 0` with unit mass `Σ_i ρ_i ΔV = 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct GridDensity {
    grid: Grid,
    values: Vec<f64>,
}

/// A density built from user values, with the mass those values had before renormalization.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The density, rescaled to unit mass.
    pub density: GridDensity,
    /// `Σ_i v_i ΔV` of the input values `v`.
    pub input_mass: f64,
}

impl Normalized {
    /// By how much the renormalization changed the values, `|1/input_mass − 1|` (relative):
    /// worth a warning when it is more than round-off.
    pub fn relative_change(&self) -> f64 {
        (1.0 / self.input_mass - 1.0).abs()
    }
}

impl GridDensity {
    /// The density with point values `values` (one per node, storage order), checked — right
    /// length, finite, non-negative, positive mass — and renormalized to unit mass.
    pub fn from_values(grid: &Grid, values: Vec<f64>) -> Result<Normalized> {
        grid.check_len("density values", &values)?;
        check_finite("density values", &values)?;
        if let Some(index) = values.iter().position(|&v| v < 0.0) {
            return Err(OtError::NegativeWeight {
                what: "density values",
                index,
                value: values[index],
            });
        }
        let input_mass = values.iter().sum::<f64>() * grid.cell_volume();
        if !(input_mass > 0.0 && input_mass.is_finite()) {
            return Err(OtError::ZeroMass {
                what: "density values",
            });
        }
        let values = values.into_iter().map(|v| v / input_mass).collect();
        Ok(Normalized {
            density: Self {
                grid: grid.clone(),
                values,
            },
            input_mass,
        })
    }

    /// Wraps values that are already a unit-mass density (from a solver); not checked.
    pub(crate) fn from_raw(grid: &Grid, values: Vec<f64>) -> Self {
        Self {
            grid: grid.clone(),
            values,
        }
    }

    /// The Gaussian `N(m, Σ)` sampled at the nodes and renormalized to unit mass on the grid
    /// (so the mass the box cuts off is spread proportionally over the box).
    pub fn gaussian(grid: &Grid, g: &Gaussian) -> Result<Self> {
        Self::mixture(grid, &[(1.0, g.clone())])
    }

    /// The mixture `Σ_k w_k N(m_k, Σ_k)` (weights ≥ 0, positive sum) sampled at the nodes and
    /// renormalized to unit mass on the grid. Every covariance must be positive definite.
    pub fn mixture(grid: &Grid, components: &[(f64, Gaussian)]) -> Result<Self> {
        if components.is_empty() {
            return Err(OtError::Empty {
                what: "mixture components",
            });
        }
        let mut values = vec![0.0; grid.len()];
        for (k, (w, g)) in components.iter().enumerate() {
            if !(*w >= 0.0 && w.is_finite()) {
                return Err(OtError::NegativeWeight {
                    what: "mixture weights",
                    index: k,
                    value: *w,
                });
            }
            let log_pdf = gaussian_log_pdf(g, grid.dim())?;
            for (flat, v) in values.iter_mut().enumerate() {
                *v += w * log_pdf(&grid.node(flat)).exp();
            }
        }
        Ok(Self::from_values(grid, values)?.density)
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The point values `ρ_i` (storage order).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The masses `p_i = ρ_i ΔV` (a histogram of unit mass).
    pub fn masses(&self) -> Vec<f64> {
        let dv = self.grid.cell_volume();
        self.values.iter().map(|v| v * dv).collect()
    }

    /// The mass `Σ ρ_i ΔV` (1 up to round-off for a density built here or by a solver).
    pub fn mass(&self) -> f64 {
        self.values.iter().sum::<f64>() * self.grid.cell_volume()
    }

    /// The mean `Σ_i x_i ρ_i ΔV / mass`, one entry per axis.
    pub fn mean(&self) -> Vec<f64> {
        let d = self.grid.dim();
        let mut mean = vec![0.0; d];
        for (flat, &v) in self.values.iter().enumerate() {
            for (m, x) in mean.iter_mut().zip(self.grid.node(flat)) {
                *m += v * x;
            }
        }
        let total: f64 = self.values.iter().sum();
        mean.iter().map(|m| m / total).collect()
    }

    /// The covariance `Σ_i (x_i − m)(x_i − m)ᵀ ρ_i ΔV / mass` (d×d).
    pub fn covariance(&self) -> Matrix {
        let d = self.grid.dim();
        let mean = self.mean();
        let mut cov = Matrix::zeros(d, d);
        for (flat, &v) in self.values.iter().enumerate() {
            let x = self.grid.node(flat);
            for r in 0..d {
                for c in 0..d {
                    let add = v * (x[r] - mean[r]) * (x[c] - mean[c]);
                    cov.set(r, c, cov.get(r, c) + add);
                }
            }
        }
        let total: f64 = self.values.iter().sum();
        cov.as_mut_slice().iter_mut().for_each(|c| *c /= total);
        cov
    }

    /// The L1 distance `Σ_i |ρ_i − σ_i| ΔV` to a density on the same grid.
    pub fn l1_distance(&self, other: &GridDensity) -> Result<f64> {
        self.same_grid(other)?;
        Ok(self
            .values
            .iter()
            .zip(&other.values)
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>()
            * self.grid.cell_volume())
    }

    /// `W2²` between two densities on the same 1-D grid: exact 1-D OT between their histograms
    /// on the nodes ([`crate::one_d::w2_squared`]).
    pub fn w2_squared_1d(&self, other: &GridDensity) -> Result<f64> {
        self.same_grid(other)?;
        if self.grid.dim() != 1 {
            return Err(OtError::Unsupported {
                what: "exact W2 between grid densities",
                reason: "it is computed by 1-D OT; use sliced W2 in 2-D",
            });
        }
        let x = self.grid.axes[0].nodes();
        let (a, mut b) = (self.masses(), other.masses());
        let scale = a.iter().sum::<f64>() / b.iter().sum::<f64>();
        b.iter_mut().for_each(|v| *v *= scale);
        crate::one_d::w2_squared(&x, &a, &x, &b)
    }

    fn same_grid(&self, other: &GridDensity) -> Result<()> {
        if self.grid != other.grid {
            return Err(OtError::Shape {
                what: "second density",
                expected: format!("the grid {:?}", self.grid.axes),
                got: format!("the grid {:?}", other.grid.axes),
            });
        }
        Ok(())
    }
}

/// `x ↦ log N(x; m, Σ)` for a Gaussian of dimension `dim` with positive-definite covariance.
fn gaussian_log_pdf(g: &Gaussian, dim: usize) -> Result<impl Fn(&[f64]) -> f64> {
    if g.dim() != dim {
        return Err(OtError::Shape {
            what: "Gaussian",
            expected: format!("dimension {dim} (the grid's)"),
            got: format!("dimension {}", g.dim()),
        });
    }
    let cov = g.cov();
    let c = nalgebra::DMatrix::from_row_slice(dim, dim, cov.as_slice());
    let chol = c.cholesky().ok_or(OtError::NotPositiveDefinite {
        what: "Gaussian covariance".into(),
        kind: "",
    })?;
    let log_det: f64 = chol.l().diagonal().iter().map(|v| 2.0 * v.ln()).sum();
    let norm = -0.5 * (log_det + dim as f64 * (2.0 * std::f64::consts::PI).ln());
    let mean = g.mean().to_vec();
    Ok(move |x: &[f64]| {
        let diff = nalgebra::DVector::from_iterator(dim, x.iter().zip(&mean).map(|(a, b)| a - b));
        norm - 0.5 * diff.dot(&chol.solve(&diff))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_volume_and_layout() {
        // Truth: the cell-centred layout by hand.
        let g = Grid::rectangle((0.0, 2.0), (-1.0, 1.0), (4, 5)).unwrap();
        assert_eq!(g.len(), 20);
        assert!((g.cell_volume() - 0.5 * 0.4).abs() < 1e-15);
        let p = g.node(7); // i = 1, j = 2
        assert!((p[0] - 0.75).abs() < 1e-15 && (p[1] - 0.0).abs() < 1e-15);
        assert!(Grid::line(1.0, 0.0, 10).is_err());
        assert!(Grid::line(0.0, 1.0, 2).is_err());
    }

    #[test]
    fn gaussian_moments_on_a_fine_grid() {
        // Truth: mean and covariance of N(m, Σ). The midpoint rule on a Gaussian converges
        // spectrally and the box [−8, 8]² cuts off < 1e-9 of the mass, so 1e-8 is generous.
        let cov = Matrix::from_rows(&[vec![1.0, 0.3], vec![0.3, 0.5]]).unwrap();
        let g = Gaussian::new(&[0.5, -0.25], &cov).unwrap();
        let grid = Grid::square(-8.0, 8.0, 160).unwrap();
        let rho = GridDensity::gaussian(&grid, &g).unwrap();
        assert!((rho.mass() - 1.0).abs() < 1e-13);
        let m = rho.mean();
        assert!(
            (m[0] - 0.5).abs() < 1e-8 && (m[1] + 0.25).abs() < 1e-8,
            "{m:?}"
        );
        let c = rho.covariance();
        for (got, want) in c.as_slice().iter().zip(cov.as_slice()) {
            assert!((got - want).abs() < 1e-8, "{got} vs {want}");
        }
    }

    #[test]
    fn user_values_are_checked_and_renormalized() {
        // Truth: the checks of item 2 and the reported mass Σ v ΔV = 4 · 2 · 0.25 = 2.
        let grid = Grid::line(0.0, 1.0, 4).unwrap();
        let n = GridDensity::from_values(&grid, vec![2.0; 4]).unwrap();
        assert!((n.input_mass - 2.0).abs() < 1e-15);
        assert!((n.relative_change() - 0.5).abs() < 1e-15);
        assert!((n.density.mass() - 1.0).abs() < 1e-15);
        let bad = |v: Vec<f64>| GridDensity::from_values(&grid, v).unwrap_err();
        assert!(matches!(bad(vec![1.0; 3]), OtError::Shape { .. }));
        assert!(matches!(
            bad(vec![1.0, f64::NAN, 1.0, 1.0]),
            OtError::NonFinite { .. }
        ));
        assert!(matches!(
            bad(vec![1.0, -1.0, 1.0, 1.0]),
            OtError::NegativeWeight { .. }
        ));
        assert!(matches!(bad(vec![0.0; 4]), OtError::ZeroMass { .. }));
    }
}

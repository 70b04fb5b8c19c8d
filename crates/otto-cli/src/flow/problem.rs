//! The problem of `otto flow`: grid, free energy and initial density, parsed from the flags and
//! checked once, with one-line errors that name the flag.

use std::path::Path;

use anyhow::{bail, Context, Result};
use otto_ot::flow::jko::OrnsteinUhlenbeck;
use otto_ot::flow::{FreeEnergy, Grid, GridDensity, Potential};
use otto_ot::gaussian::Gaussian;
use otto_ot::Matrix;

use crate::npy;

/// The built-in potentials, as `--potential` spells them (listed in errors).
pub const POTENTIALS: &str = "quadratic (½|x|²), quadratic:K (½K|x|²), quadratic:A11,A12,A22 \
     (½xᵀAx, 2-D), double-well (Σ(x_k² − 1)²), none, or a .npy file of values on the grid";

/// A parsed and checked problem.
pub struct Problem {
    pub grid: Grid,
    pub energy: FreeEnergy,
    /// How `--potential` was given, for reports.
    pub potential_name: String,
    pub initial: GridDensity,
    /// The initial Gaussian, when `--init gaussian:…` was used.
    pub initial_gaussian: Option<Gaussian>,
    /// The closed-form OU problem, when V is quadratic, D > 0 and there is no porous term.
    pub ou: Option<OrnsteinUhlenbeck>,
    pub t_end: f64,
}

/// The raw flag values `Problem::build` needs.
pub struct Spec<'a> {
    pub potential: &'a str,
    pub diffusion: f64,
    pub porous: Option<f64>,
    pub init: &'a str,
    pub dim: usize,
    pub grid: usize,
    pub domain: (f64, f64),
    pub t_end: f64,
}

impl Problem {
    /// Checks the flags and builds the problem; every failure is one line naming the flag.
    pub fn build(spec: &Spec) -> Result<Self> {
        let (lo, hi) = spec.domain;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            bail!("--domain {lo},{hi}: need finite ends A < B");
        }
        if !(spec.diffusion >= 0.0 && spec.diffusion.is_finite()) {
            bail!(
                "--diffusion must be non-negative and finite, got {}",
                spec.diffusion
            );
        }
        if let Some(m) = spec.porous {
            if !(m > 1.0 && m.is_finite()) {
                bail!("--porous M needs M > 1 (the porous-medium exponent), got {m}");
            }
        }
        if spec.diffusion == 0.0 && spec.porous.is_none() {
            bail!(
                "--diffusion 0 leaves no diffusion: give D > 0, or a porous term with --porous M"
            );
        }
        if !(spec.t_end > 0.0 && spec.t_end.is_finite()) {
            bail!(
                "the final time must be positive and finite, got {}",
                spec.t_end
            );
        }
        if spec.grid < 8 {
            bail!(
                "--grid {} is too small: use at least 8 cells per axis",
                spec.grid
            );
        }
        let grid = match spec.dim {
            1 => Grid::line(lo, hi, spec.grid)?,
            2 => Grid::square(lo, hi, spec.grid)?,
            d => bail!("--dim must be 1 or 2, got {d}"),
        };
        let (potential, length) = parse_potential(spec.potential, &grid, spec.diffusion)?;
        let mut energy = FreeEnergy::new().diffusion(spec.diffusion);
        if let Some(p) = potential.clone() {
            energy = energy.potential(p);
        }
        if let Some(m) = spec.porous {
            energy = energy.porous(1.0, m);
        }
        energy.validate()?;
        let (initial, initial_gaussian, init_sd) = parse_init(spec.init, &grid)?;
        let dx = grid.axes()[0].spacing();
        for (what, sd) in [
            ("the initial standard deviation", init_sd),
            ("the stationary standard deviation", length),
        ] {
            if let Some(sd) = sd {
                if dx > 0.5 * sd {
                    let need = ((hi - lo) / (0.5 * sd)).ceil() as usize;
                    bail!(
                        "--grid {} is too coarse for --domain {lo},{hi}: cells of width {dx:.3} exceed half \
                         {what} {sd:.3}; use --grid {need} or more",
                        spec.grid
                    );
                }
            }
        }
        let ou = match (&potential, spec.porous, spec.diffusion > 0.0) {
            (Some(Potential::Quadratic { .. }), None, true) => {
                Some(OrnsteinUhlenbeck::from_energy(&energy)?)
            }
            _ => None,
        };
        Ok(Self {
            grid,
            energy,
            potential_name: spec.potential.to_string(),
            initial,
            initial_gaussian,
            ou,
            t_end: spec.t_end,
        })
    }

    /// The grid's dimension.
    pub fn dim(&self) -> usize {
        self.grid.dim()
    }

    /// The cell width (the same on every axis).
    pub fn spacing(&self) -> f64 {
        self.grid.axes()[0].spacing()
    }

    /// True when a potential is given (KL to e^{−V/D}/Z is then reported).
    pub fn has_potential(&self) -> bool {
        self.energy.potential_term().is_some()
    }
}

/// The potential of `--potential` and the standard deviation of its Gibbs state when known
/// (the smallest length the grid must resolve).
fn parse_potential(
    text: &str,
    grid: &Grid,
    diffusion: f64,
) -> Result<(Option<Potential>, Option<f64>)> {
    let d = grid.dim();
    let gibbs_sd = |lambda_max: f64| (diffusion > 0.0).then(|| (diffusion / lambda_max).sqrt());
    if text.ends_with(".npy") {
        let values = read_on_grid(Path::new(text), grid, "--potential")?;
        return Ok((Some(Potential::OnGrid(values)), None));
    }
    let (name, params) = text.split_once(':').unwrap_or((text, ""));
    match name {
        "none" if params.is_empty() => Ok((None, None)),
        "double-well" if params.is_empty() => {
            // Near a well V ≈ 4(x ∓ 1)², so the local Gibbs width is √(D/8).
            Ok((Some(Potential::DoubleWell), gibbs_sd(8.0)))
        }
        "quadratic" => {
            let numbers = parse_numbers(params)
                .with_context(|| format!("--potential {text}: parameters must be numbers"))?;
            let a = match (numbers.as_slice(), d) {
                ([], _) => Matrix::from_fn(d, d, |i, j| f64::from(u8::from(i == j))),
                ([k], _) => Matrix::from_fn(d, d, |i, j| if i == j { *k } else { 0.0 }),
                ([a11, a12, a22], 2) => Matrix::from_rows(&[vec![*a11, *a12], vec![*a12, *a22]])?,
                _ => bail!(
                    "--potential {text}: give quadratic, quadratic:K or (in 2-D) quadratic:A11,A12,A22"
                ),
            };
            let potential = Potential::quadratic(&vec![0.0; d], &a)?;
            let lambda_max = largest_eigenvalue(&a);
            if lambda_max <= 0.0 || (d == 2 && a.get(0, 0) * a.get(1, 1) <= a.get(0, 1).powi(2)) {
                bail!("--potential {text}: the matrix A must be positive definite");
            }
            Ok((Some(potential), gibbs_sd(lambda_max)))
        }
        _ => bail!("unknown potential '{text}': expected {POTENTIALS}"),
    }
}

/// The largest eigenvalue of a symmetric 1×1 or 2×2 matrix.
fn largest_eigenvalue(a: &Matrix) -> f64 {
    if a.rows() == 1 {
        return a.get(0, 0);
    }
    let (p, q, r) = (a.get(0, 0), a.get(0, 1), a.get(1, 1));
    0.5 * (p + r) + (0.25 * (p - r).powi(2) + q * q).sqrt()
}

fn parse_numbers(text: &str) -> Result<Vec<f64>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .with_context(|| format!("'{s}' is not a number"))
        })
        .collect()
}

/// The initial density of `--init`, the Gaussian it came from, and its standard deviation.
fn parse_init(text: &str, grid: &Grid) -> Result<(GridDensity, Option<Gaussian>, Option<f64>)> {
    if text.ends_with(".npy") {
        let path = Path::new(text);
        let values = read_on_grid(path, grid, "--init")?;
        let normalized = GridDensity::from_values(grid, values)
            .with_context(|| format!("--init {}", path.display()))?;
        if normalized.relative_change() > 1e-9 {
            eprintln!(
                "warning: {}: the density had mass {:.6} on the grid; renormalized to 1 (values scaled by {:.6}, a {:.2}% change)",
                path.display(),
                normalized.input_mass,
                1.0 / normalized.input_mass,
                100.0 * normalized.relative_change()
            );
        }
        return Ok((normalized.density, None, None));
    }
    let Some(params) = text.strip_prefix("gaussian:") else {
        bail!("unknown --init '{text}': expected gaussian:MEAN,VAR or a .npy density on the grid");
    };
    let numbers = parse_numbers(params).with_context(|| format!("--init {text}"))?;
    let [mean, var] = numbers[..] else {
        bail!(
            "--init {text}: expected gaussian:MEAN,VAR (two numbers, applied to every coordinate)"
        );
    };
    if !(var > 0.0 && var.is_finite()) {
        bail!("--init {text}: the variance must be positive, got {var}");
    }
    let d = grid.dim();
    let axis = grid.axes()[0];
    if !(axis.lo < mean && mean < axis.hi) {
        bail!(
            "--init {text}: the mean {mean} lies outside --domain {},{}",
            axis.lo,
            axis.hi
        );
    }
    let cov = Matrix::from_fn(d, d, |i, j| if i == j { var } else { 0.0 });
    let g = Gaussian::new(&vec![mean; d], &cov)?;
    let density = GridDensity::gaussian(grid, &g)?;
    Ok((density, Some(g), Some(var.sqrt())))
}

/// Values on the grid from a .npy whose shape must be the grid's (`[N]` or `[N, N]`).
fn read_on_grid(path: &Path, grid: &Grid, flag: &str) -> Result<Vec<f64>> {
    let (shape, values) = npy::read_array(path)?;
    let want = grid.shape();
    if shape != want {
        bail!(
            "{flag} {}: expected shape {want:?} (the --grid {} grid in {}-D), got {shape:?}",
            path.display(),
            want[0],
            grid.dim()
        );
    }
    Ok(values)
}

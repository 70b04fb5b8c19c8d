//! `otto flow SCHEME`: Wasserstein gradient flows of `F(ρ) = D∫ρ log ρ + ∫Vρ + ∫ρ^m/(m − 1)`
//! on a 1-D or 2-D grid — the Fokker–Planck PDE, the exact Gaussian JKO, the entropic JKO and
//! Langevin particles (`otto_ot::flow`) — with densities, pictures and a summary written to
//! `--out`, and `otto flow compare` to run them side by side against a fine-step Fokker–Planck
//! reference.

mod figures;
mod problem;
mod schemes;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use otto_ot::flow::langevin::distance_to_grid;
use otto_ot::flow::{FokkerPlanck, GridDensity};
use otto_ot::sliced::SlicedW2;
use otto_ot::Matrix;
use serde_json::{json, Value};

use crate::npy;
use crate::report::{format_number, Report};
use problem::{Problem, Spec};
use schemes::{Options, Scheme, Trajectory};

#[derive(Args)]
pub struct FlowArgs {
    /// The scheme to run, or `compare` to run every scheme that applies.
    #[arg(value_enum)]
    scheme: Scheme,
    /// The potential V: quadratic (½|x|²), quadratic:K (½K|x|²), quadratic:A11,A12,A22 (½xᵀAx in
    /// 2-D), double-well (Σ(x_k² − 1)²), none, or a .npy of values on the grid ([N] or [N, N]).
    #[arg(long, default_value = "quadratic", value_name = "V")]
    potential: String,
    /// The diffusion coefficient D ≥ 0 of the entropy term D∫ρ log ρ.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "D",
        allow_hyphen_values = true
    )]
    diffusion: f64,
    /// Add the porous-medium energy ∫ρ^M/(M − 1), M > 1 (entropic JKO only; ∂_t ρ = Δρ^M when
    /// alone).
    #[arg(long, value_name = "M")]
    porous: Option<f64>,
    /// The initial density: gaussian:MEAN,VAR (the same mean and variance on every coordinate,
    /// independent coordinates), or a .npy density on the grid (renormalized, with a warning).
    #[arg(long, default_value = "gaussian:2,0.25", value_name = "INIT")]
    init: String,
    /// The dimension, 1 or 2.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    dim: u8,
    /// Cells per axis [default: 400 in 1-D, 96 in 2-D].
    #[arg(long, value_name = "N")]
    grid: Option<usize>,
    /// The box [A, B] (per axis).
    #[arg(
        long,
        default_value = "-6,6",
        value_name = "A,B",
        allow_hyphen_values = true
    )]
    domain: String,
    /// The physical time step [default: 1e-3 for fp, 0.05 for the JKO schemes (τ = 2h = 0.1),
    /// 0.01 for langevin and mala; each scheme its own in compare].
    #[arg(long, allow_hyphen_values = true)]
    h: Option<f64>,
    /// The final time.
    #[arg(
        long,
        default_value_t = 1.0,
        conflicts_with = "steps",
        allow_hyphen_values = true
    )]
    t_end: f64,
    /// Run this many steps instead (t_end = steps·h; compare then needs --h).
    #[arg(long)]
    steps: Option<usize>,
    /// The entropic blur γ of the entropic JKO, in squared-distance units.
    #[arg(long, default_value_t = 0.02, allow_hyphen_values = true)]
    gamma: f64,
    /// The number of Langevin/MALA particles.
    #[arg(long, default_value_t = 20_000)]
    particles: usize,
    /// The seed of the particles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How many densities to save after the initial one (evenly spaced in steps).
    #[arg(long, default_value_t = 10)]
    frames: usize,
    /// Where to write densities (.npy), pictures (.png, .gif in 2-D) and summaries (.json).
    #[arg(long, default_value = "out/flow", value_name = "DIR")]
    out: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

impl FlowArgs {
    fn problem(&self) -> Result<Problem> {
        let Some((a, b)) = self.domain.split_once(',') else {
            bail!("--domain {}: expected A,B (two numbers)", self.domain);
        };
        let parse = |s: &str| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| anyhow::anyhow!("--domain {}: '{s}' is not a number", self.domain))
        };
        let dim = usize::from(self.dim);
        let grid = self.grid.unwrap_or(if dim == 1 { 400 } else { 96 });
        let t_end = match self.steps {
            Some(k) => k as f64 * self.h.unwrap_or(self.scheme.default_h()),
            None => self.t_end,
        };
        Problem::build(&Spec {
            potential: &self.potential,
            diffusion: self.diffusion,
            porous: self.porous,
            init: &self.init,
            dim,
            grid,
            domain: (parse(a)?, parse(b)?),
            t_end,
        })
    }

    fn options(&self) -> Options {
        Options {
            h: self.h,
            steps: self.steps,
            gamma: self.gamma,
            particles: self.particles,
            seed: self.seed,
            frames: self.frames,
        }
    }
}

pub fn run(args: FlowArgs) -> Result<()> {
    if !(args.gamma > 0.0 && args.gamma.is_finite()) {
        bail!("--gamma must be positive and finite, got {}", args.gamma);
    }
    if args.scheme == Scheme::Compare && args.steps.is_some() && args.h.is_none() {
        bail!("compare with --steps needs --h, so that every scheme reaches the same time");
    }
    let problem = args.problem()?;
    if args.scheme == Scheme::Compare {
        return compare(&args, &problem);
    }
    let traj = schemes::run(args.scheme, &problem, &args.options())?;
    let files = write_outputs(&problem, &traj, &args.out)?;
    let report = summary(&problem, &traj, &files, false)?;
    npy::write_atomic(
        &args
            .out
            .join(format!("{}_summary.json", traj.scheme.name())),
        summary(&problem, &traj, &files, true)?
            .to_json()
            .to_string()
            .as_bytes(),
    )?;
    report.print(args.json);
    if !args.json && traj.status != "converged" {
        eprintln!(
            "warning: {} stopped with status {} (largest step error {:.3e})",
            traj.scheme.name(),
            traj.status,
            traj.step_error
        );
    }
    Ok(())
}

/// Writes the densities, pictures and particles of one run; returns the paths written.
fn write_outputs(problem: &Problem, traj: &Trajectory, out: &Path) -> Result<Vec<String>> {
    let name = traj.scheme.name();
    let mut files = Vec::new();
    let mut put = |path: PathBuf| files.push(path.display().to_string());
    let n = problem.grid.shape();
    let k = traj.snapshots.len();
    let mut shape = vec![k];
    shape.extend(&n);
    let stacked: Vec<f64> = traj
        .snapshots
        .iter()
        .flat_map(|s| s.density.values().iter().copied())
        .collect();
    let path = out.join(format!("{name}_densities.npy"));
    npy::write(&path, &shape, &stacked)?;
    put(path);
    let times: Vec<f64> = traj.snapshots.iter().map(|s| s.time).collect();
    let path = out.join(format!("{name}_times.npy"));
    npy::write(&path, &[k], &times)?;
    put(path);
    let path = out.join("grid_nodes.npy");
    npy::write(&path, &[n[0]], &problem.grid.axes()[0].nodes())?;
    put(path);
    if let Some(x) = &traj.particles {
        let path = out.join(format!("{name}_particles.npy"));
        npy::write_matrix(&path, x)?;
        put(path);
    }
    let what = if traj.scheme.is_particles() {
        format!(
            "{name} (histogram of {} particles)",
            traj.particles.as_ref().map_or(0, Matrix::rows)
        )
    } else {
        name.to_string()
    };
    let path = out.join(format!("{name}_snapshots.png"));
    figures::snapshots(&path, &format!("{what}: density over time"), traj)?;
    put(path);
    if problem.dim() == 2 {
        let path = out.join(format!("{name}.gif"));
        figures::gif(&path, name, &traj.snapshots)?;
        put(path);
    }
    let path = out.join(format!("{name}_energy.png"));
    figures::energy(&path, &format!("{what}: free energy"), &[traj])?;
    put(path);
    Ok(files)
}

/// Maximum absolute entry of the difference of two equally long slices.
fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn matrix_json(m: &Matrix) -> Value {
    json!((0..m.rows()).map(|i| m.row(i).to_vec()).collect::<Vec<_>>())
}

/// The final mean and covariance: of the particles for particle schemes (the histogram would add
/// the binning error), of the grid density otherwise.
fn moments(traj: &Trajectory) -> (Vec<f64>, Matrix) {
    let Some(x) = &traj.particles else {
        return (traj.last().mean(), traj.last().covariance());
    };
    let (n, d) = (x.rows() as f64, x.cols());
    let mean: Vec<f64> = (0..d)
        .map(|k| (0..x.rows()).map(|i| x.get(i, k)).sum::<f64>() / n)
        .collect();
    let cov = Matrix::from_fn(d, d, |r, c| {
        (0..x.rows())
            .map(|i| (x.get(i, r) - mean[r]) * (x.get(i, c) - mean[c]))
            .sum::<f64>()
            / (n - 1.0)
    });
    (mean, cov)
}

/// The summary of one run: the free energy's first and last values and, with `every_step` (the
/// `SCHEME_summary.json` file), its value at every step.
fn summary(
    problem: &Problem,
    traj: &Trajectory,
    files: &[String],
    every_step: bool,
) -> Result<Report> {
    let mut r = Report::default();
    let axis = problem.grid.axes()[0];
    let porous = problem.energy.porous_term().map(|(_, m)| m);
    r.set("scheme", traj.scheme.name())
        .set("dim", problem.dim())
        .set("grid", axis.n)
        .set("domain", json!([axis.lo, axis.hi]))
        .set("potential", problem.potential_name.as_str())
        .set("diffusion", problem.energy.diffusion_coefficient())
        .set("porous_m", json!(porous))
        .set("h", traj.h)
        .set("steps", traj.steps)
        .set("t_end", traj.t_end)
        .set("status", traj.status.as_str())
        .set("iterations", traj.iterations)
        .set("step_error", traj.step_error)
        .set("time_s", traj.time_s);
    if let Some(x) = &traj.particles {
        r.set("particles", x.rows());
    }
    if let Some(a) = traj.acceptance {
        r.set("acceptance", a);
    }
    let (mean, cov) = moments(traj);
    r.set("mass", traj.last().mass()).set("mean", json!(mean));
    if problem.dim() == 1 {
        r.set("variance", cov.get(0, 0));
    } else {
        r.set("covariance", matrix_json(&cov));
    }
    let (f0, f1) = (traj.energies[0].1, traj.energies[traj.energies.len() - 1].1);
    r.set("free_energy_initial", f0)
        .set("free_energy_final", f1)
        .set("free_energy_values", traj.energies.len());
    if every_step {
        r.set(
            "free_energy_times",
            json!(traj.energies.iter().map(|e| e.0).collect::<Vec<_>>()),
        )
        .set(
            "free_energy",
            json!(traj.energies.iter().map(|e| e.1).collect::<Vec<_>>()),
        );
    }
    let kl = match (
        problem.has_potential(),
        porous,
        problem.energy.diffusion_coefficient() > 0.0,
    ) {
        (true, None, true) => json!(otto_ot::flow::energy::kl_to_gibbs(
            &problem.energy,
            traj.last()
        )?),
        _ => Value::Null,
    };
    r.set("kl_to_gibbs", kl);
    if let (Some(ou), Some(g0)) = (&problem.ou, &problem.initial_gaussian) {
        let exact = ou.fp_solution(g0, traj.t_end)?;
        let on_grid = GridDensity::gaussian(&problem.grid, &exact)?;
        r.set("exact_mean", json!(exact.mean()))
            .set("exact_covariance", matrix_json(&exact.cov()))
            .set("mean_error", max_abs_diff(&mean, exact.mean()))
            .set(
                "covariance_error",
                max_abs_diff(cov.as_slice(), exact.cov().as_slice()),
            )
            .set("l1_to_exact", traj.last().l1_distance(&on_grid)?);
    }
    if traj.scheme.is_particles() {
        r.set(
            "density_note",
            "densities and free energies are histograms of the particles",
        );
    }
    r.set("files", json!(files));
    Ok(r)
}

/// One row of the `compare` table.
struct Row {
    traj: Trajectory,
    w2: f64,
    l1: Option<f64>,
}

fn compare(args: &FlowArgs, problem: &Problem) -> Result<()> {
    if let Some(reason) = Scheme::Fp.unsupported(problem) {
        bail!("compare measures every scheme against the Fokker–Planck reference, which does not apply: {reason}");
    }
    let options = args.options();
    let applicable: Vec<Scheme> = Scheme::ALL
        .into_iter()
        .filter(|s| s.unsupported(problem).is_none())
        .collect();
    let skipped: Vec<Value> = Scheme::ALL
        .into_iter()
        .filter_map(|s| {
            s.unsupported(problem)
                .map(|why| json!({"scheme": s.name(), "reason": why}))
        })
        .collect();
    let h_min = applicable
        .iter()
        .map(|s| options.h.unwrap_or(s.default_h()))
        .fold(f64::INFINITY, f64::min);
    let dt_ref = (h_min / 10.0).min(1e-3);
    let reference =
        FokkerPlanck::new(dt_ref).solve(&problem.energy, &problem.initial, problem.t_end)?;
    let reference = reference.last().clone();
    let sliced = SlicedW2::default().seed(args.seed);
    let metric = if problem.dim() == 1 {
        "W2 (exact 1-D OT)"
    } else {
        "SW2 (sliced W2, 256 directions)"
    };
    let mut rows = Vec::new();
    for scheme in applicable {
        let traj = schemes::run(scheme, problem, &options)?;
        let w2 = match &traj.particles {
            Some(x) => distance_to_grid(x, &reference, &sliced)?,
            None if problem.dim() == 1 => traj.last().w2_squared_1d(&reference)?.max(0.0).sqrt(),
            None => {
                // Unit-mass histograms: the entropic JKO keeps the mass to its tolerance only.
                let unit = |d: &GridDensity| {
                    let m = d.masses();
                    let total: f64 = m.iter().sum();
                    m.into_iter().map(|v| v / total).collect::<Vec<_>>()
                };
                let points = problem.grid.points();
                sliced.distance(&points, &unit(traj.last()), &points, &unit(&reference))?
            }
        };
        let l1 = (!scheme.is_particles())
            .then(|| traj.last().l1_distance(&reference))
            .transpose()?;
        write_outputs(problem, &traj, &args.out)?;
        rows.push(Row { traj, w2, l1 });
    }
    let png = args.out.join("compare.png");
    let runs: Vec<&Trajectory> = rows.iter().map(|r| &r.traj).collect();
    let dim_name = if problem.dim() == 1 { "1-D" } else { "2-D" };
    figures::compare(
        &png,
        &format!(
            "{dim_name} V = {}, D = {}, from {}: every scheme at t = {}",
            problem.potential_name,
            problem.energy.diffusion_coefficient(),
            args.init,
            format_number(problem.t_end)
        ),
        &reference,
        &runs,
    )?;
    let table: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "scheme": r.traj.scheme.name(), "h": r.traj.h, "steps": r.traj.steps,
                "iterations": r.traj.iterations, "error_w2": r.w2, "error_l1": r.l1,
                "free_energy_final": r.traj.energies.last().map(|e| e.1),
                "time_s": r.traj.time_s, "status": r.traj.status,
            })
        })
        .collect();
    let out = json!({
        "reference": {"scheme": "fp", "dt": dt_ref, "t_end": problem.t_end},
        "metric": metric, "rows": table, "skipped": skipped,
        "png": png.display().to_string(),
    });
    npy::write_atomic(&args.out.join("compare.json"), out.to_string().as_bytes())?;
    if args.json {
        println!("{out}");
        return Ok(());
    }
    println!(
        "{:<13} {:>9} {:>6} {:>10} {:>12} {:>12} {:>10} {:>10}  status",
        "scheme", "h", "steps", "iters", "W2 to ref", "L1 to ref", "F(T)", "time (s)"
    );
    for r in &rows {
        let t = &r.traj;
        println!(
            "{:<13} {:>9} {:>6} {:>10} {:>12.3e} {:>12} {:>10.5} {:>10}  {}",
            t.scheme.name(),
            format_number(t.h),
            t.steps,
            t.iterations,
            r.w2,
            r.l1.map_or("-".to_string(), |v| format!("{v:.3e}")),
            t.energies.last().map_or(f64::NAN, |e| e.1),
            format!("{:.2e}", t.time_s),
            t.status
        );
    }
    for s in &skipped {
        println!(
            "{:<13} skipped: {}",
            s["scheme"].as_str().unwrap_or(""),
            s["reason"].as_str().unwrap_or("")
        );
    }
    println!(
        "errors: {metric} and L1 (grid densities only) against the Fokker–Planck reference (dt = {}) at t = {}; plot: {}",
        format_number(dt_ref),
        format_number(problem.t_end),
        png.display()
    );
    Ok(())
}

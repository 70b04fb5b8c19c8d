//! `otto solvers`: the discretization error of every ODE sampler against the exact flow of a
//! closed-form field, versus the number of field evaluations, with the fitted convergence order.
//!
//! The field is the marginal velocity of the affine path from N(0, I) to a Gaussian mixture
//! (MATH.md §1; it satisfies the continuity equation exactly), so no training is involved. The
//! reference flow map is RK4 with 8192 steps; its own error is reported (RK4 with 4096 steps
//! against it) and is far below every error in the table.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use otto::data::{GaussianMixture, Toy};
use otto::field::GmmField;
use otto::path::{CondOt, Schedule, VpLinear, VpTrig};
use otto::sampler::{convergence_order, Method, OdeSolver};
use otto_ot::Matrix;
use serde_json::json;

use crate::plot;

#[derive(Clone, Copy, ValueEnum)]
pub enum ScheduleChoice {
    /// α = t, σ = 1 − t.
    CondOt,
    /// α = sin(πt/2), σ = cos(πt/2).
    VpTrig,
    /// Variance-preserving linear β (β0 = 0.1, β1 = 20).
    VpLinear,
}

#[derive(Args)]
pub struct SolversArgs {
    /// Schedule of the affine path whose marginal field is integrated.
    #[arg(long, value_enum, default_value_t = ScheduleChoice::CondOt)]
    schedule: ScheduleChoice,
    /// Number of particles (drawn from N(0, I)).
    #[arg(long, default_value_t = 256)]
    n: usize,
    /// Step counts of the fixed-step solvers, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256,512")]
    steps: Vec<usize>,
    /// Tolerances (atol = rtol) of dopri5, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1e-3,1e-4,1e-5,1e-6,1e-7,1e-8"
    )]
    tolerances: Vec<f64>,
    /// Seed of the particles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the error-versus-NFE plot.
    #[arg(long, default_value = "out/solvers.png")]
    png: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// The largest Euclidean distance between corresponding rows.
fn max_error(a: &Matrix, b: &Matrix) -> f64 {
    (0..a.rows())
        .map(|i| {
            otto_ot::GroundCost::SquaredEuclidean
                .eval(a.row(i), b.row(i))
                .sqrt()
        })
        .fold(0.0, f64::max)
}

fn study<S: Schedule + Clone + 'static>(args: &SolversArgs, schedule: S) -> Result<()> {
    if args.n == 0 || args.steps.len() < 2 {
        bail!("--n must be positive and --steps must list at least two step counts");
    }
    let field = GmmField::new(GaussianMixture::eight_gaussians(), schedule);
    let x0 = Toy::Gaussian { dim: 2 }.sample(args.n, args.seed);
    let rk4 = |steps: usize| {
        OdeSolver::new(Method::Rk4)
            .steps(steps)
            .solve(&field, &x0, 0.0, 1.0)
    };
    let reference = rk4(8192)?.x;
    let reference_error = max_error(&rk4(4096)?.x, &reference);
    let mut rows = Vec::new();
    let mut series = Vec::new();
    for method in [Method::Euler, Method::Midpoint, Method::Heun, Method::Rk4] {
        let mut errors = Vec::new();
        let mut points = Vec::new();
        for &steps in &args.steps {
            let sol = OdeSolver::new(method)
                .steps(steps)
                .solve(&field, &x0, 0.0, 1.0)?;
            let err = max_error(&sol.x, &reference);
            errors.push(err.max(f64::MIN_POSITIVE));
            points.push((sol.stats.nfe as f64, err));
            rows.push(json!({"solver": method.name(), "steps": steps, "nfe": sol.stats.nfe, "max_error": err}));
        }
        let order = convergence_order(&errors, &args.steps);
        rows.push(json!({"solver": method.name(), "fitted_order": order, "theoretical_order": method.order()}));
        series.push((format!("{} (order {order:.2})", method.name()), points));
    }
    let mut points = Vec::new();
    for &tol in &args.tolerances {
        let sol = OdeSolver::new(Method::Dopri5)
            .tolerances(tol, tol)
            .solve(&field, &x0, 0.0, 1.0)?;
        let err = max_error(&sol.x, &reference);
        points.push((sol.stats.nfe as f64, err));
        rows.push(json!({"solver": "dopri5", "tolerance": tol, "nfe": sol.stats.nfe, "max_error": err, "status": format!("{:?}", sol.status)}));
    }
    series.push(("dopri5 (adaptive)".to_string(), points));
    plot::save_png(&args.png, (900, 650), |root| {
        plot::loglog_panel(
            root,
            "max error vs field evaluations (8gaussians oracle)",
            "NFE",
            "max error",
            &series,
        )
    })?;
    if args.json {
        println!(
            "{}",
            json!({"reference": "rk4, 8192 steps", "reference_error": reference_error, "n": args.n, "rows": rows, "png": args.png.display().to_string()})
        );
        return Ok(());
    }
    println!(
        "{:<10} {:>8} {:>8} {:>14} {:>8}",
        "solver", "steps", "NFE", "max error", "order"
    );
    for r in &rows {
        if let Some(order) = r["fitted_order"].as_f64() {
            println!(
                "{:<10} {:>8} {:>8} {:>14} {:>8.3}  (theory {})",
                r["solver"].as_str().unwrap_or(""),
                "",
                "",
                "",
                order,
                r["theoretical_order"]
            );
        } else {
            let steps = r["steps"].as_u64().map_or_else(
                || format!("tol {:.0e}", r["tolerance"].as_f64().unwrap_or(0.0)),
                |s| s.to_string(),
            );
            println!(
                "{:<10} {:>8} {:>8} {:>14.3e}",
                r["solver"].as_str().unwrap_or(""),
                steps,
                r["nfe"].as_u64().unwrap_or(0),
                r["max_error"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    println!(
        "reference: RK4 with 8192 steps (its own error ≈ {reference_error:.1e}); plot: {}",
        args.png.display()
    );
    Ok(())
}

pub fn run(args: SolversArgs) -> Result<()> {
    match args.schedule {
        ScheduleChoice::CondOt => study(&args, CondOt::default()),
        ScheduleChoice::VpTrig => study(&args, VpTrig),
        ScheduleChoice::VpLinear => study(&args, VpLinear::default()),
    }
}

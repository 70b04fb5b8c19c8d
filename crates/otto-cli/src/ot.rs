//! `otto ot …`: the optimal-transport solvers of `otto-ot` on `.npy` inputs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use otto_ot::entropic::Sinkhorn;
use otto_ot::exact::{self, ExactSolver};
use otto_ot::gaussian::{self, Gaussian, GaussianBridge, GaussianMap, McCannGeodesic};
use otto_ot::marginal::{check_histogram, uniform, MASS_TOLERANCE};
use otto_ot::sliced::SlicedW2;
use otto_ot::{cost_matrix, GroundCost, Matrix};
use serde_json::json;

use crate::npy;
use crate::report::Report;

#[derive(Subcommand)]
pub enum OtCommand {
    /// Exact optimal transport (network simplex, or the assignment solver for uniform n×n).
    Emd(EmdArgs),
    /// Entropic optimal transport by log-domain stabilized Sinkhorn with ε-scaling.
    Sinkhorn(SinkhornArgs),
    /// The Wasserstein-2 distance between two weighted point clouds.
    W2(W2Args),
    /// Closed forms between two Gaussians: Bures W2, OT map, McCann geodesic, Schrödinger bridge.
    Gaussian(GaussianArgs),
    /// Exact and entropic OT between two built-in point clouds, with a PNG of the plans.
    Demo(crate::ot_demo::OtDemoArgs),
}

/// The two measures: point clouds (with a ground cost) or a cost matrix, and optional weights.
#[derive(Args)]
pub struct Problem {
    /// Source points, n×d .npy (float32/64, C order).
    #[arg(long, value_name = "X.npy", requires = "y", conflicts_with = "cost")]
    x: Option<PathBuf>,
    /// Target points, m×d .npy.
    #[arg(long, value_name = "Y.npy", requires = "x")]
    y: Option<PathBuf>,
    /// Cost matrix, n×m .npy, instead of --x/--y.
    #[arg(long, value_name = "M.npy", required_unless_present = "x")]
    cost: Option<PathBuf>,
    /// Source weights, length-n .npy [default: uniform 1/n].
    #[arg(long, value_name = "A.npy")]
    a: Option<PathBuf>,
    /// Target weights, length-m .npy [default: uniform 1/m].
    #[arg(long, value_name = "B.npy")]
    b: Option<PathBuf>,
    /// Ground cost for point clouds: ‖x − y‖_p^power. The default p = 2, power = 2 is the cost of W2.
    #[arg(long, default_value_t = 2.0)]
    p: f64,
    /// Exponent of the ground cost (see --p).
    #[arg(long, default_value_t = 2.0)]
    power: f64,
}

struct Loaded {
    a: Vec<f64>,
    b: Vec<f64>,
    cost: Matrix,
    /// True when the cost is ‖x − y‖² between point clouds, so that W2 = √cost applies.
    squared_euclidean: bool,
}

impl Problem {
    fn load(&self, balanced: bool) -> Result<Loaded> {
        let (cost, squared_euclidean) = match (&self.x, &self.y, &self.cost) {
            (Some(x), Some(y), None) => {
                let (xs, ys) = (npy::read_points(x)?, npy::read_points(y)?);
                if xs.cols() != ys.cols() {
                    bail!(
                        "{} holds {}-dimensional points but {} holds {}-dimensional ones",
                        x.display(),
                        xs.cols(),
                        y.display(),
                        ys.cols()
                    );
                }
                let ground = if self.p == 2.0 && self.power == 2.0 {
                    GroundCost::SquaredEuclidean
                } else {
                    GroundCost::Minkowski {
                        p: self.p,
                        power: self.power,
                    }
                };
                let sq = ground == GroundCost::SquaredEuclidean;
                (cost_matrix(&xs, &ys, ground)?, sq)
            }
            (None, None, Some(c)) => (npy::read_matrix(c)?, false),
            _ => bail!("give either --x and --y (point clouds) or --cost (a cost matrix)"),
        };
        let (n, m) = cost.shape();
        let sizes = if self.cost.is_some() {
            ("rows of the cost matrix", "columns of the cost matrix")
        } else {
            ("source points", "target points")
        };
        let a = load_weights(self.a.as_deref(), n, sizes.0)?;
        let b = load_weights(self.b.as_deref(), m, sizes.1)?;
        if balanced {
            let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
            if (sa - sb).abs() > MASS_TOLERANCE * sa.max(sb) {
                bail!(
                    "the weights carry different mass: sum(a) = {sa}, sum(b) = {sb} (they differ by {:.3e}); \
                     normalize them, or use --unbalanced RHO with sinkhorn",
                    (sa - sb).abs()
                );
            }
        }
        Ok(Loaded {
            a,
            b,
            cost,
            squared_euclidean,
        })
    }
}

fn load_weights(path: Option<&Path>, len: usize, what: &str) -> Result<Vec<f64>> {
    let Some(path) = path else {
        return Ok(uniform(len));
    };
    let w = npy::read_vector(path)?;
    if w.len() != len {
        bail!(
            "{}: {} weights, but there are {len} {what}",
            path.display(),
            w.len()
        );
    }
    check_histogram("weights", &w, len).with_context(|| path.display().to_string())?;
    Ok(w)
}

#[derive(Args)]
pub struct EmdArgs {
    #[command(flatten)]
    problem: Problem,
    /// Exact solver: the network simplex (any weights), or the assignment solver (uniform weights,
    /// n = m).
    #[arg(long, value_enum, default_value_t = SolverChoice::NetworkSimplex)]
    solver: SolverChoice,
    /// Write the optimal plan as a dense n×m float64 .npy.
    #[arg(long, value_name = "P.npy")]
    plan_out: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum SolverChoice {
    /// Network simplex with column generation.
    NetworkSimplex,
    /// Shortest augmenting paths on sparse candidates (uniform weights, n = m).
    Assignment,
}

#[derive(Args)]
pub struct SinkhornArgs {
    #[command(flatten)]
    problem: Problem,
    /// Entropic regularization ε, in cost units [default: 0.05 · mean(cost)].
    #[arg(long)]
    eps: Option<f64>,
    /// Stop when the marginal violation ‖πᵀ1 − b‖₂ falls below this.
    #[arg(long, default_value_t = 1e-9)]
    tol: f64,
    /// Iteration cap (the result is flagged `iteration_cap` if reached).
    #[arg(long, default_value_t = 100_000)]
    max_iter: usize,
    /// Unbalanced OT: replace the marginal constraints by ρ·KL penalties with this ρ.
    #[arg(long, value_name = "RHO")]
    unbalanced: Option<f64>,
    /// Write the plan as a dense n×m float64 .npy.
    #[arg(long, value_name = "P.npy")]
    plan_out: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum W2Method {
    /// Exact OT (network simplex / assignment).
    Exact,
    /// Debiased Sinkhorn divergence S_ε, reported as √S_ε.
    Sinkhorn,
    /// Sliced W2 over random directions.
    Sliced,
}

#[derive(Args)]
pub struct W2Args {
    /// Source points, n×d .npy.
    #[arg(long, value_name = "X.npy")]
    x: PathBuf,
    /// Target points, m×d .npy.
    #[arg(long, value_name = "Y.npy")]
    y: PathBuf,
    /// Source weights [default: uniform].
    #[arg(long, value_name = "A.npy")]
    a: Option<PathBuf>,
    /// Target weights [default: uniform].
    #[arg(long, value_name = "B.npy")]
    b: Option<PathBuf>,
    /// How to compute it.
    #[arg(long, value_enum, default_value_t = W2Method::Exact)]
    method: W2Method,
    /// ε for --method sinkhorn, in squared-distance units [default: 0.05 · mean cost].
    #[arg(long)]
    eps: Option<f64>,
    /// Number of random directions for --method sliced.
    #[arg(long, default_value_t = 256)]
    projections: usize,
    /// Seed of the directions for --method sliced.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct GaussianArgs {
    /// Mean of the source Gaussian, length-d .npy.
    #[arg(long, value_name = "M0.npy")]
    m0: PathBuf,
    /// Covariance of the source Gaussian, d×d .npy.
    #[arg(long, value_name = "A.npy")]
    cov0: PathBuf,
    /// Mean of the target Gaussian, length-d .npy.
    #[arg(long, value_name = "M1.npy")]
    m1: PathBuf,
    /// Covariance of the target Gaussian, d×d .npy.
    #[arg(long, value_name = "B.npy")]
    cov1: PathBuf,
    /// Time t ∈ [0, 1] at which to report the geodesic (and bridge) marginal.
    #[arg(long, default_value_t = 0.5)]
    t: f64,
    /// Also report the Schrödinger bridge / entropic plan with reference noise σ (ε = 2σ²).
    #[arg(long)]
    sigma: Option<f64>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: OtCommand) -> Result<()> {
    match cmd {
        OtCommand::Emd(args) => emd(args),
        OtCommand::Sinkhorn(args) => sinkhorn(args),
        OtCommand::W2(args) => w2(args),
        OtCommand::Gaussian(args) => gaussian_closed_forms(args),
        OtCommand::Demo(args) => crate::ot_demo::run(args),
    }
}

fn emd(args: EmdArgs) -> Result<()> {
    let p = args.problem.load(true)?;
    let start = Instant::now();
    let solver = match args.solver {
        SolverChoice::NetworkSimplex => ExactSolver::NetworkSimplex,
        SolverChoice::Assignment => ExactSolver::Assignment,
    };
    let sol = exact::solve_with(&p.a, &p.b, &p.cost, solver)?;
    let time = start.elapsed().as_secs_f64();
    if let Some(path) = &args.plan_out {
        npy::write_matrix(path, &sol.plan.to_dense())?;
    }
    let mut r = Report::default();
    r.set("method", "emd")
        .set("solver", solver.name())
        .set("n", p.a.len())
        .set("m", p.b.len())
        .set("cost", sol.cost)
        .set(
            "w2",
            if p.squared_euclidean {
                json!(sol.cost.max(0.0).sqrt())
            } else {
                json!(null)
            },
        )
        .set("status", sol.status.name())
        .set("iterations", sol.status.iterations())
        .set("nonzeros", sol.plan.entries.len())
        .set("time_s", time);
    r.print(args.json);
    Ok(())
}

fn default_eps(cost: &Matrix) -> f64 {
    0.05 * cost.as_slice().iter().sum::<f64>() / cost.as_slice().len() as f64
}

fn sinkhorn(args: SinkhornArgs) -> Result<()> {
    let p = args.problem.load(args.unbalanced.is_none())?;
    let eps = args.eps.unwrap_or_else(|| default_eps(&p.cost));
    let mut solver = Sinkhorn::new(eps)
        .tolerance(args.tol)
        .max_iter(args.max_iter);
    if let Some(rho) = args.unbalanced {
        solver = solver.unbalanced(rho);
    }
    let start = Instant::now();
    let sol = solver.solve(&p.a, &p.b, &p.cost)?;
    let time = start.elapsed().as_secs_f64();
    if let Some(path) = &args.plan_out {
        npy::write_matrix(path, &sol.plan)?;
    }
    let mut r = Report::default();
    r.set("method", "sinkhorn")
        .set("n", p.a.len())
        .set("m", p.b.len())
        .set("eps", eps)
        .set("unbalanced_rho", json!(args.unbalanced))
        .set("transport_cost", sol.transport_cost)
        .set("objective", sol.objective)
        .set("status", sol.status.name())
        .set("iterations", sol.status.iterations())
        .set("error", sol.status.error())
        .set("time_s", time);
    r.print(args.json);
    if !sol.status.is_converged() && !args.json {
        eprintln!(
            "warning: Sinkhorn stopped at the iteration cap with marginal error {:.3e} (> --tol {:.1e})",
            sol.status.error(),
            args.tol
        );
    }
    Ok(())
}

fn w2(args: W2Args) -> Result<()> {
    let (x, y) = (npy::read_points(&args.x)?, npy::read_points(&args.y)?);
    if x.cols() != y.cols() {
        bail!(
            "{} holds {}-dimensional points but {} holds {}-dimensional ones",
            args.x.display(),
            x.cols(),
            args.y.display(),
            y.cols()
        );
    }
    let a = load_weights(args.a.as_deref(), x.rows(), "source points")?;
    let b = load_weights(args.b.as_deref(), y.rows(), "target points")?;
    let start = Instant::now();
    let (value, method) = match args.method {
        W2Method::Exact => (otto_ot::wasserstein::w2_exact(&x, &a, &y, &b)?, "exact"),
        W2Method::Sinkhorn => {
            let eps = match args.eps {
                Some(e) => e,
                None => default_eps(&otto_ot::squared_euclidean(&x, &y)?),
            };
            let opts = Sinkhorn::new(eps).tolerance(1e-9);
            (
                otto_ot::wasserstein::w2_sinkhorn(&x, &a, &y, &b, &opts)?,
                "sinkhorn",
            )
        }
        W2Method::Sliced => {
            let sliced = SlicedW2::default()
                .projections(args.projections)
                .seed(args.seed);
            (sliced.distance(&x, &a, &y, &b)?, "sliced")
        }
    };
    let mut r = Report::default();
    r.set("method", method)
        .set("n", x.rows())
        .set("m", y.rows())
        .set("dim", x.cols())
        .set("w2", value)
        .set("w2_squared", value * value)
        .set("time_s", start.elapsed().as_secs_f64());
    r.print(args.json);
    Ok(())
}

fn matrix_json(m: &Matrix) -> serde_json::Value {
    json!((0..m.rows()).map(|i| m.row(i).to_vec()).collect::<Vec<_>>())
}

fn gaussian_closed_forms(args: GaussianArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&args.t) {
        bail!("--t must lie in [0, 1], got {}", args.t);
    }
    let load = |mean: &Path, cov: &Path| -> Result<Gaussian> {
        let m = npy::read_vector(mean)?;
        let c = npy::read_matrix(cov)?;
        Gaussian::new(&m, &c).with_context(|| format!("{} / {}", mean.display(), cov.display()))
    };
    let g0 = load(&args.m0, &args.cov0)?;
    let g1 = load(&args.m1, &args.cov1)?;
    let w2sq = gaussian::w2_squared(&g0, &g1)?;
    let mut r = Report::default();
    r.set("dim", g0.dim())
        .set("w2_squared", w2sq)
        .set("w2", w2sq.sqrt());
    let map = GaussianMap::new(&g0, &g1)?;
    r.set("map_matrix", matrix_json(&map.linear()));
    let geo = McCannGeodesic::new(&g0, &g1)?;
    r.set("t", args.t)
        .set("geodesic_mean", json!(geo.mean(args.t)))
        .set("geodesic_cov", matrix_json(&geo.cov(args.t)));
    if let Some(sigma) = args.sigma {
        let bridge = GaussianBridge::new(&g0, &g1, sigma)?;
        r.set("sigma", sigma)
            .set(
                "entropic_cross_cov",
                matrix_json(&bridge.cross_covariance()),
            )
            .set("bridge_mean", json!(bridge.mean(args.t)))
            .set("bridge_cov", matrix_json(&bridge.cov(args.t)));
    }
    r.print(args.json);
    Ok(())
}

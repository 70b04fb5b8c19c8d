//! `otto likelihood`: the log-density of points under a trained run or a Gaussian-mixture oracle,
//! through the probability-flow ODE integrated backward from the data end to the source, whose
//! density is known (otto's `likelihood` module, MATH.md §7). Writes the log-density of every point
//! (nats) and prints the mean NLL in nats and bits per dimension.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::{ArgGroup, Args, ValueEnum};
use otto::data::GaussianMixture;
use otto::field::{GmmField, VectorField};
use otto::likelihood::{Dequantization, DivergenceEstimator, Likelihood, LogDensity};
use otto::sampler::{Method, OdeSolver};
use otto::train::{RunDir, TrainedRun};
use otto_ot::Matrix;

use crate::npy;
use crate::report::Report;
use crate::schedule;

#[derive(Clone, Copy, ValueEnum)]
enum DivergenceChoice {
    /// d Jacobian–vector products per evaluation.
    Exact,
    /// Hutchinson's unbiased estimate with --probes Rademacher probes per point, fixed along the path.
    Hutchinson,
}

#[derive(Clone, Copy, ValueEnum)]
enum DequantizationChoice {
    /// Continuous data: no offset.
    None,
    /// 8-bit data scaled to [−1, 1]: +7 bits per dimension.
    Signed,
    /// 8-bit data scaled to [0, 1]: +8 bits per dimension.
    Unsigned,
}

#[derive(Args)]
#[command(group(ArgGroup::new("model").required(true).args(["run", "gmm"])))]
pub struct LikelihoodArgs {
    /// A run directory written by `otto train`; its source must have a known density (gaussian,
    /// gaussian:D, 8gaussians, dsb-8gaussians, torchdyn-8gaussians).
    #[arg(long, value_name = "DIR")]
    run: Option<PathBuf>,
    /// A Gaussian mixture, {"weights": [..], "means": [[..]], "covariances": [[[..]]]} in any
    /// dimension: the exact marginal field of the affine path from N(0, I) to it is integrated.
    #[arg(long, value_name = "FILE.json")]
    gmm: Option<PathBuf>,
    /// Schedule of the affine path to the --gmm mixture: cond-ot, vp-trig or vp-linear
    /// [default: cond-ot].
    #[arg(long, conflicts_with = "run")]
    schedule: Option<String>,
    /// The points (.npy, n × d) whose log-density is computed.
    #[arg(long, value_name = "FILE.npy")]
    x: PathBuf,
    /// How the divergence of the field is computed.
    #[arg(long, value_enum, default_value_t = DivergenceChoice::Exact)]
    divergence: DivergenceChoice,
    /// Probes per point of --divergence hutchinson.
    #[arg(long, default_value_t = 1)]
    probes: usize,
    /// Seed of the Hutchinson probes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ODE method: euler, midpoint, heun, rk4 or dopri5. Dopri5 takes many small steps on
    /// networks with SELU/ReLU activations, whose divergence jumps where a unit switches.
    /// Midpoint computes the divergence at its second stage only (its first stage has weight 0):
    /// a step costs two velocities and one divergence, against RK4's four of each.
    #[arg(long, default_value = "rk4")]
    solver: String,
    /// Steps of a fixed-step --solver.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Absolute tolerance of dopri5.
    #[arg(long, default_value_t = 1e-5)]
    atol: f64,
    /// Relative tolerance of dopri5.
    #[arg(long, default_value_t = 1e-5)]
    rtol: f64,
    /// Dequantization offset added to bits/dim for 8-bit data (score_sde; Lipman et al. 2023,
    /// App. C).
    #[arg(long, value_enum, default_value_t = DequantizationChoice::None)]
    dequantization: DequantizationChoice,
    /// Use the run's EMA weights.
    #[arg(long)]
    ema: bool,
    /// Where to write the log-densities (float64 .npy of length n, nats).
    #[arg(long, value_name = "FILE.npy")]
    out: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// `log p(x)` under a trained run: backward from the run's end time to t = 0, where its path's law
/// is `source` ([`TrainedRun::source_density`]).
pub fn run_log_density(
    trained: &TrainedRun,
    source: &GaussianMixture,
    x: &Matrix,
    likelihood: &Likelihood,
) -> Result<LogDensity> {
    let (t0, t1) = trained.interval();
    let result = likelihood.log_density(&trained.field, x, t1, t0, |x0| source.log_density(x0))?;
    completed(result)
}

/// The result, or an error when the integration stopped early.
fn completed(result: LogDensity) -> Result<LogDensity> {
    if !result.status.is_completed() {
        bail!(
            "the likelihood ODE stopped at t = {} ({:?}); try --solver rk4 or looser --atol/--rtol",
            result.t,
            result.status
        );
    }
    Ok(result)
}

pub fn run(args: LikelihoodArgs) -> Result<()> {
    let x = npy::read_matrix(&args.x)?;
    let method: Method = args.solver.parse()?;
    let (divergence, divergence_name) = match args.divergence {
        DivergenceChoice::Exact => (DivergenceEstimator::Exact, "exact".to_string()),
        DivergenceChoice::Hutchinson => (
            DivergenceEstimator::Hutchinson {
                probes: args.probes,
                seed: args.seed,
            },
            format!("hutchinson ({} probes, seed {})", args.probes, args.seed),
        ),
    };
    let likelihood = Likelihood::new(
        OdeSolver::new(method)
            .steps(args.steps)
            .tolerances(args.atol, args.rtol),
    )
    .divergence(divergence);
    let check_dim = |dim: usize| {
        if x.cols() != dim {
            bail!(
                "{}: points of dimension {} for a model of dimension {dim}",
                args.x.display(),
                x.cols()
            );
        }
        Ok(())
    };
    // In a pool, so that the network's blocks run on its threads (see `eval::run`).
    let pool = rayon::ThreadPoolBuilder::new().build()?;
    let start = Instant::now();
    let (model, result) = pool.install(|| match (&args.run, &args.gmm) {
        (Some(dir), _) => {
            let trained = TrainedRun::load(&RunDir::open(dir)?, args.ema)?;
            check_dim(trained.field.dim())?;
            let source = trained.source_density()?;
            let result = run_log_density(&trained, &source, &x, &likelihood)?;
            Ok((format!("run {}", dir.display()), result))
        }
        (None, Some(file)) => {
            let mixture = GaussianMixture::from_json_file(file)?;
            check_dim(mixture.dim())?;
            let name = args.schedule.as_deref().unwrap_or("cond-ot");
            let field = GmmField::new(mixture, schedule::parse(name)?);
            let result =
                likelihood.log_density(&field, &x, 1.0, 0.0, |x0| field.log_density(0.0, x0))?;
            let model = format!("gmm {} ({name})", file.display());
            Ok((model, completed(result)?))
        }
        (None, None) => bail!("give --run DIR or --gmm FILE.json"),
    })?;
    let seconds = start.elapsed().as_secs_f64();
    if let Some(out) = &args.out {
        npy::write(out, &[x.rows()], &result.log_density)?;
    }
    let dequantization = match args.dequantization {
        DequantizationChoice::None => Dequantization::None,
        DequantizationChoice::Signed => Dequantization::SignedByte,
        DequantizationChoice::Unsigned => Dequantization::UnsignedByte,
    };
    let mut r = Report::default();
    r.set("model", model)
        .set("n", x.rows())
        .set("dim", x.cols())
        .set("divergence", divergence_name)
        .set("solver", method.name())
        .set("nfe", result.stats.nfe)
        .set("nll_nats", result.nll())
        .set("bits_per_dim", result.bits_per_dim(dequantization))
        .set("dequantization_bits", dequantization.offset_bits())
        .set("seconds", seconds);
    if let Some(out) = &args.out {
        r.set("out", out.display().to_string());
    }
    r.print(args.json);
    Ok(())
}

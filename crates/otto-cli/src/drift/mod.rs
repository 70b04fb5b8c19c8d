//! `otto drift field`: a drift field (Deng et al. 2026 and its gradient-flow readings) evaluated
//! on given points, written as .npy; `otto drift flow`: its particle flow ([`flow`]).

mod flow;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use otto::drift::{DriftField, MmdKernel, Variant};
use otto_ot::Matrix;

use crate::npy;
use crate::report::Report;

#[derive(Subcommand)]
pub enum DriftCommand {
    /// Evaluate a drift field V(x; y⁺, y⁻) at the rows of --x.
    Field(FieldArgs),
    /// Move particles by x ← x + ηV(x; y⁺, x) toward a target, without a network (the
    /// gradient-flow view), recording W2, MMD², Sinkhorn divergence, KL and ‖V‖².
    Flow(Box<flow::FlowArgs>),
}

/// The field's options, shared by the subcommands.
#[derive(Args)]
pub struct FieldOptions {
    /// deng (the paper's Alg. 2), official (the release: temperatures relative to the feature
    /// scale, summed), sinkhorn-proxy, mmd, kde-score, sinkhorn-divergence.
    #[arg(long, default_value = "deng", value_name = "NAME")]
    variant: String,
    /// The temperature: deng/sinkhorn-proxy τ (absolute), mmd/kde-score the bandwidth,
    /// sinkhorn-divergence ε [default: the variant's: 0.05, 0.1, 0.01].
    #[arg(long, conflicts_with = "temperatures", value_name = "T")]
    temperature: Option<f64>,
    /// official's temperatures R, comma-separated [default: 0.02,0.05,0.2].
    #[arg(long, value_delimiter = ',', value_name = "T,…")]
    temperatures: Option<Vec<f64>>,
    /// mmd's kernel: gaussian or laplace.
    #[arg(long, default_value = "gaussian")]
    kernel: String,
}

impl FieldOptions {
    pub fn field(&self) -> Result<DriftField> {
        let variant: Variant = self.variant.parse()?;
        let mut field = DriftField::new(variant).kernel(self.kernel.parse::<MmdKernel>()?);
        if let Some(t) = self.temperature {
            field = field.temperatures(&[t])?;
        }
        if let Some(t) = &self.temperatures {
            field = field.temperatures(t)?;
        }
        Ok(field)
    }
}

#[derive(Args)]
pub struct FieldArgs {
    /// The points x where V is evaluated (.npy, n × d).
    #[arg(long, value_name = "X.npy")]
    x: PathBuf,
    /// The positives y⁺ (data; .npy, m × d).
    #[arg(long, value_name = "P.npy")]
    pos: PathBuf,
    /// The negatives y⁻ (.npy); without it the negatives are the points x themselves, each
    /// row's own point masked.
    #[arg(long, value_name = "N.npy")]
    neg: Option<PathBuf>,
    #[command(flatten)]
    options: FieldOptions,
    /// Where to write V (.npy, n × d, float64).
    #[arg(long, value_name = "V.npy")]
    out: PathBuf,
    /// Machine-readable summary.
    #[arg(long)]
    json: bool,
}

/// A point set as f32 rows.
pub fn points_f32(m: &Matrix) -> Vec<f32> {
    m.as_slice().iter().map(|&v| v as f32).collect()
}

fn field(args: FieldArgs) -> Result<()> {
    let read = |path: &PathBuf, what: &str| {
        npy::read_points(path).with_context(|| format!("--{what} {}", path.display()))
    };
    let x = read(&args.x, "x")?;
    let pos = read(&args.pos, "pos")?;
    let neg = args.neg.as_ref().map(|p| read(p, "neg")).transpose()?;
    let d = x.cols();
    for (what, m) in [("pos", Some(&pos)), ("neg", neg.as_ref())] {
        if let Some(m) = m {
            anyhow::ensure!(
                m.cols() == d,
                "--{what} has dimension {} but --x has dimension {d}",
                m.cols()
            );
        }
    }
    let field = args.options.field()?;
    let start = Instant::now();
    let neg32 = neg.as_ref().map(points_f32);
    let drift = field.evaluate(&points_f32(&x), &points_f32(&pos), neg32.as_deref(), d)?;
    let time = start.elapsed().as_secs_f64();
    if let Some(tau) = drift.suggested_temperature {
        eprintln!(
            "warning: every kernel value of {} of the {} rows underflows at this temperature (V = 0 there); try --temperature {tau:.3}",
            drift.dead_rows,
            x.rows()
        );
    }
    let v: Vec<f64> = drift.velocity.iter().map(|&v| v as f64).collect();
    npy::write(&args.out, &[x.rows(), d], &v)?;
    let mut r = Report::default();
    r.set("variant", field.variant().name())
        .set("temperatures", format!("{:?}", field.temperature_list()))
        .set("n", x.rows())
        .set("positives", pos.rows())
        .set("negatives", neg.as_ref().map_or(x.rows(), |m| m.rows()))
        .set("mean_square", drift.magnitudes.iter().sum::<f64>())
        .set("dead_rows", drift.dead_rows)
        .set("time_s", time)
        .set("out", args.out.display().to_string());
    if let Some(s) = drift.feature_scale {
        r.set("feature_scale", s);
    }
    r.print(args.json);
    Ok(())
}

pub fn run(cmd: DriftCommand) -> Result<()> {
    match cmd {
        DriftCommand::Field(args) => field(args),
        DriftCommand::Flow(args) => flow::run(*args),
    }
}

//! `otto plot --run DIR`: PNGs of a trained run — generated samples over held-out target points,
//! trajectories of the flow, the vector field at several times, and the training loss.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use otto::field::VectorField;
use otto::sampler::{Method, OdeSolver, Record};
use otto::train::{RunDir, TrainedRun};
use otto_ot::Matrix;

use crate::plot;

#[derive(Args)]
pub struct PlotArgs {
    /// The run directory written by `otto train`.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Points drawn for the sample and trajectory plots.
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// Euler steps of the sampler.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Seed of the source points.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Use the EMA weights.
    #[arg(long)]
    pub ema: bool,
}

/// Writes `plots/samples.png`, `plots/trajectories.png`, `plots/field.png` and `plots/loss.png`
/// into the run directory and returns their paths.
pub fn plot_run(run: &RunDir, args: &PlotArgs) -> Result<Vec<PathBuf>> {
    let trained = TrainedRun::load(run, args.ema)?;
    if trained.field.dim() != 2 {
        bail!(
            "plots are drawn for 2-D data; this run's data has dimension {}",
            trained.field.dim()
        );
    }
    let x0 = trained.prior(args.n, args.seed);
    let (t0, t1) = trained.interval();
    let target = trained.recipe.target.held_out(args.n, args.seed ^ 0x5eed);
    let solution = OdeSolver::new(Method::Euler)
        .steps(args.steps)
        .record(Record::EveryStep)
        .solve(&trained.field, &x0, t0, t1)?;
    let dir = run.file("plots");
    let mut written = Vec::new();

    let path = dir.join("samples.png");
    plot::save_png(&path, (1200, 600), |root| {
        let panels = root.split_evenly((1, 2));
        plot::clouds_panel(
            &panels[0],
            "source and target",
            &[
                ("source", &x0, plot::SOURCE),
                ("target (held out)", &target, plot::TARGET),
            ],
        )?;
        plot::clouds_panel(
            &panels[1],
            &format!("generated ({} Euler steps) over the target", args.steps),
            &[
                ("target (held out)", &target, plot::MUTED),
                ("generated", &solution.x, plot::TARGET),
            ],
        )
    })?;
    written.push(path);

    let path = dir.join("trajectories.png");
    let shown = 300.min(args.n);
    let paths: Vec<Vec<(f64, f64)>> = (0..shown)
        .map(|i| {
            solution
                .trajectory
                .states
                .iter()
                .map(|s| (s.get(i, 0), s.get(i, 1)))
                .collect()
        })
        .collect();
    plot::save_png(&path, (800, 800), |root| {
        plot::trajectories_panel(root, "trajectories of the learned flow, t: 0 → 1", &paths)
    })?;
    written.push(path);

    let path = dir.join("field.png");
    let times = [t0, 0.25, 0.5, 0.75, t1];
    let (xr, yr) = plot::bounds(&[&x0, &target]);
    let grid = 21;
    let points = Matrix::from_fn(grid * grid, 2, |k, c| {
        let (i, j) = (k / grid, k % grid);
        if c == 0 {
            xr.start + (xr.end - xr.start) * i as f64 / (grid - 1) as f64
        } else {
            yr.start + (yr.end - yr.start) * j as f64 / (grid - 1) as f64
        }
    });
    let fields: Vec<(f64, Matrix)> = times
        .iter()
        .map(|&t| {
            let mut v = Matrix::zeros(points.rows(), 2);
            trained.field.velocity(t, &points, &mut v);
            (t, v)
        })
        .collect();
    plot::save_png(&path, (2000, 420), |root| {
        let panels = root.split_evenly((1, times.len()));
        for (panel, (t, v)) in panels.iter().zip(&fields) {
            plot::quiver_panel(panel, &format!("v(t = {t:.2}, x)"), &points, v)?;
        }
        Ok(())
    })?;
    written.push(path);

    let log = run.read_to_string("log.jsonl")?;
    let curve: Vec<(f64, f64)> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["step"].as_f64()?, v["loss"].as_f64()?)))
        .collect();
    if !curve.is_empty() {
        let path = dir.join("loss.png");
        plot::save_png(&path, (900, 500), |root| {
            plot::loss_panel(root, "training loss", &curve)
        })?;
        written.push(path);
    }
    Ok(written)
}

pub fn run(args: PlotArgs) -> Result<()> {
    let run = RunDir::open(&args.run)?;
    for path in plot_run(&run, &args)? {
        println!("{}", path.display());
    }
    Ok(())
}

//! `otto plot --run DIR`: PNGs of a trained run — generated samples over held-out target points,
//! trajectories of the flow, the vector field at several times, and the training loss.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use otto::field::VectorField;
use otto::sampler::{Method, OdeSolver, Record};
use otto::train::{snapshot_name, RunDir, TrainedGenerator, TrainedRun};
use otto_ot::Matrix;

use crate::npy;
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
    if crate::sample::is_drifting(run)? {
        return plot_generator(run, args);
    }
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

    written.extend(plot_log(run, &dir)?);
    Ok(written)
}

/// `plots/loss.png` from the run's log: the loss and, for drifting, the drift magnitude of
/// each temperature (the quantity that falls when the loss is normalized).
fn plot_log(run: &RunDir, dir: &std::path::Path) -> Result<Vec<PathBuf>> {
    let log = run.read_to_string("log.jsonl")?;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let curve: Vec<(f64, f64)> = lines
        .iter()
        .filter_map(|v| Some((v["step"].as_f64()?, v["loss"].as_f64()?)))
        .collect();
    if curve.is_empty() {
        return Ok(Vec::new());
    }
    let temperatures = lines
        .first()
        .and_then(|v| v["drift"].as_array())
        .map_or(0, Vec::len);
    let drift: Vec<Vec<(f64, f64)>> = (0..temperatures)
        .map(|k| {
            lines
                .iter()
                .filter_map(|v| Some((v["step"].as_f64()?, v["drift"][k].as_f64()?)))
                .collect()
        })
        .collect();
    let path = dir.join("loss.png");
    let panels = 1 + usize::from(temperatures > 0);
    plot::save_png(&path, (900 * panels as u32, 500), |root| {
        let areas = root.split_evenly((1, panels));
        plot::loss_panel(&areas[0], "training loss", &curve)?;
        if temperatures > 0 {
            let series: Vec<(String, Vec<(f64, f64)>)> = drift
                .into_iter()
                .enumerate()
                .map(|(k, c)| (format!("temperature {}", k + 1), c))
                .collect();
            plot::loglog_panel(
                &areas[1],
                "drift magnitude per temperature",
                "step",
                "mean V²",
                &series,
            )?;
        }
        Ok(())
    })?;
    Ok(vec![path])
}

/// A drifting run's plots: `plots/snapshots.png` (the generator's samples at step 1 and at every
/// checkpoint over held-out data, as the authors' notebook shows them, on shared axes) and
/// `plots/loss.png`.
fn plot_generator(run: &RunDir, args: &PlotArgs) -> Result<Vec<PathBuf>> {
    let generator = TrainedGenerator::load(run, args.ema)?;
    if generator.mlp.config().output_dim != 2 {
        bail!(
            "plots are drawn for 2-D data; this run's data has dimension {}",
            generator.mlp.config().output_dim
        );
    }
    let target = generator.recipe.target.held_out(args.n, args.seed ^ 0x5eed);
    let mut snapshots: Vec<(usize, Matrix)> = Vec::new();
    for step in 1..=generator.config.steps {
        let name = snapshot_name(step);
        if run.file(&name).exists() {
            snapshots.push((step, npy::read_matrix(&run.file(&name))?));
        }
    }
    if snapshots.is_empty() {
        snapshots.push((generator.config.steps, generator.sample(args.n, args.seed)?));
    }
    let dir = run.file("plots");
    let path = dir.join("snapshots.png");
    let width = 400 * snapshots.len() as u32;
    // One pair of axes for every panel, so that the steps compare at a glance.
    let clouds: Vec<&Matrix> = std::iter::once(&target)
        .chain(snapshots.iter().map(|(_, x)| x))
        .collect();
    let ranges = plot::bounds(&clouds);
    plot::save_png(&path, (width.max(800), 420), |root| {
        let panels = root.split_evenly((1, snapshots.len()));
        for (panel, (step, x)) in panels.iter().zip(&snapshots) {
            plot::clouds_panel_within(
                panel,
                &format!("step {step}"),
                ranges.clone(),
                &[
                    ("data (held out)", &target, plot::MUTED),
                    ("generated", x, plot::TARGET),
                ],
            )?;
        }
        Ok(())
    })?;
    let mut written = vec![path];
    written.extend(plot_log(run, &dir)?);
    Ok(written)
}

pub fn run(args: PlotArgs) -> Result<()> {
    let run = RunDir::open(&args.run)?;
    for path in plot_run(&run, &args)? {
        println!("{}", path.display());
    }
    Ok(())
}

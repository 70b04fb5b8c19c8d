//! The pictures of `otto drift flow`: the metrics versus iteration (`curves.png`), the particles
//! over the target (`flow.gif`), and W2 of every variant (`variants.png`).

use std::path::Path;

use anyhow::{anyhow, Result};
use otto_ot::Matrix;
use plotters::prelude::SeriesLabelPosition;

use super::particles::{FlowRun, Record};
use super::Floor;
use crate::plot::{self, Curve, MUTED, SOURCE};

/// Where the legends go: the curves start high on the left and the floor runs along the bottom.
const POSITION: SeriesLabelPosition = SeriesLabelPosition::MiddleRight;

/// A metric's series `(iteration, value)`.
fn series(run: &FlowRun, value: impl Fn(&Record) -> Option<f64>) -> Vec<(f64, f64)> {
    run.records
        .iter()
        .filter_map(|r| value(r).map(|v| (r.iteration as f64, v)))
        .collect()
}

/// The flat line of a metric between two target draws, across the run's iterations.
fn floor_line(run: &FlowRun, value: Option<f64>) -> Option<Curve> {
    let last = run.records.last()?.iteration as f64;
    Some(Curve {
        label: "target vs target".into(),
        colour: MUTED,
        points: vec![(0.0, value?), (last, value?)],
    })
}

/// `curves.png`: W2, MMD², S_ε, KL (2-D) and mean ‖V‖² versus iteration on logarithmic axes,
/// each with its floor (the value between two draws of the target), and the final particles.
pub fn curves(
    path: &Path,
    title: &str,
    run: &FlowRun,
    floor: &Floor,
    target: &Matrix,
) -> Result<()> {
    type Pick = fn(&Record) -> Option<f64>;
    let panels: [(&str, Pick, Option<f64>); 5] = [
        ("W2", |r| Some(r.distances.w2), Some(floor.distances.w2)),
        (
            "MMD²",
            |r| Some(r.distances.mmd2),
            Some(floor.distances.mmd2),
        ),
        (
            "Sinkhorn divergence S_ε",
            |r| Some(r.distances.sinkhorn_divergence),
            Some(floor.distances.sinkhorn_divergence),
        ),
        ("KL (histogram)", |r| r.distances.kl, floor.distances.kl),
        (
            "mean ‖V‖²",
            |r| Some(r.mean_velocity_sq),
            Some(floor.mean_velocity_sq),
        ),
    ];
    plot::save_png(path, (1500, 900), |root| {
        let (top, body) = root.split_vertically(40);
        top.titled(title, ("sans-serif", 24))
            .map_err(|e| anyhow!("{e}"))?;
        let areas = body.split_evenly((2, 3));
        for (area, (name, pick, reference)) in areas.iter().zip(panels) {
            let mut curves = vec![Curve {
                label: name.to_string(),
                colour: SOURCE,
                points: series(run, pick),
            }];
            curves.extend(floor_line(run, reference));
            plot::semilogy_panel(area, name, ("iteration", ""), &curves, POSITION)?;
        }
        plot::clouds_panel(
            &areas[5],
            "final particles",
            &[("target", target, MUTED), ("particles", run.last(), SOURCE)],
        )
    })
}

/// `flow.gif`: the particles over the target, one frame per record, on fixed axes.
pub fn gif(path: &Path, title: &str, run: &FlowRun, target: &Matrix) -> Result<()> {
    let mut clouds: Vec<&Matrix> = run.frames.iter().collect();
    clouds.push(target);
    let ranges = plot::bounds(&clouds);
    plot::save_gif(path, (480, 500), 250, run.frames.len(), |k, root| {
        let r = &run.records[k];
        plot::clouds_panel_within(
            root,
            &format!("{title}, step {}, W2 {:.3}", r.iteration, r.distances.w2),
            ranges.clone(),
            &[
                ("target", target, MUTED),
                ("particles", &run.frames[k], SOURCE),
            ],
        )
    })
}

/// `variants.png`: W2 versus iteration for every variant (with the target-vs-target floor), and
/// each variant's final particles over the target.
pub fn variants(
    path: &Path,
    title: &str,
    runs: &[(&str, &FlowRun)],
    w2_floor: f64,
    target: &Matrix,
) -> Result<()> {
    let mut curves: Vec<Curve> = runs
        .iter()
        .enumerate()
        .map(|(k, (name, run))| Curve {
            label: name.to_string(),
            colour: plot::series_colour(k),
            points: series(run, |r| Some(r.distances.w2)),
        })
        .collect();
    if let Some((_, run)) = runs.first() {
        curves.extend(floor_line(run, Some(w2_floor)));
    }
    let cols = runs.len().div_ceil(2).max(1);
    // The variants' final particles on one pair of axes, so that their spreads compare at a glance.
    let mut clouds: Vec<&Matrix> = runs.iter().map(|(_, run)| run.last()).collect();
    clouds.push(target);
    let ranges = plot::bounds(&clouds);
    plot::save_png(path, (800 + 360 * cols as u32, 760), |root| {
        let (top, body) = root.split_vertically(40);
        top.titled(title, ("sans-serif", 24))
            .map_err(|e| anyhow!("{e}"))?;
        let (left, right) = body.split_horizontally(800);
        plot::semilogy_panel(
            &left,
            "W2 to the target",
            ("iteration", "W2"),
            &curves,
            POSITION,
        )?;
        for (k, (area, (name, run))) in right.split_evenly((2, cols)).iter().zip(runs).enumerate() {
            let colour = plot::series_colour(k);
            plot::clouds_panel_within(
                area,
                name,
                ranges.clone(),
                &[("target", target, MUTED), ("final", run.last(), colour)],
            )?;
        }
        Ok(())
    })
}

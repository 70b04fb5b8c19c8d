//! The pictures of `otto flow`: density curves over time (1-D), heat maps and an animated GIF
//! (2-D), free energy versus time, and the overlay of `compare`.

use std::path::Path;

use anyhow::{anyhow, Result};
use otto_ot::flow::{GridDensity, Snapshot};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::schemes::Trajectory;
use crate::plot::{self, Curve};

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// `(x, ρ(x))` of a 1-D density.
fn curve_points(density: &GridDensity) -> Vec<(f64, f64)> {
    let nodes = density.grid().axes()[0].nodes();
    nodes
        .into_iter()
        .zip(density.values().iter().copied())
        .collect()
}

/// Averages of `factor` consecutive points: a coarser histogram for particle clouds, whose
/// per-cell counts are too noisy to read on a fine grid.
fn coarsen(points: Vec<(f64, f64)>, factor: usize) -> Vec<(f64, f64)> {
    if factor <= 1 {
        return points;
    }
    points
        .chunks(factor)
        .map(|c| {
            let k = c.len() as f64;
            (
                c.iter().map(|p| p.0).sum::<f64>() / k,
                c.iter().map(|p| p.1).sum::<f64>() / k,
            )
        })
        .collect()
}

/// How many cells to merge when drawing a particle histogram: about 60 bins across the box.
fn particle_factor(traj: &Trajectory) -> usize {
    if traj.scheme.is_particles() {
        traj.last().grid().axes()[0].n.div_ceil(60)
    } else {
        1
    }
}

/// The marginal density of a 2-D density along `axis` (0: x₁, 1: x₂), as `(x, ρ_k(x))`.
fn marginal_points(density: &GridDensity, axis: usize) -> Vec<(f64, f64)> {
    let grid = density.grid();
    let a = grid.axes()[axis];
    let (n, dx) = (a.n, a.spacing());
    let mut sums = vec![0.0; n];
    for (flat, v) in density.values().iter().enumerate() {
        let (i, j) = (flat / n, flat % n);
        sums[if axis == 0 { i } else { j }] += v * dx;
    }
    a.nodes().into_iter().zip(sums).collect()
}

/// Densities over time: 1-D curves coloured from dark (t = 0) to light (t = T); in 2-D a grid of
/// heat maps (at most six, evenly picked) sharing one colour scale.
pub fn snapshots(path: &Path, title: &str, traj: &Trajectory) -> Result<()> {
    let snaps = &traj.snapshots;
    let factor = particle_factor(traj);
    if snaps[0].density.grid().dim() == 1 {
        let t_end = snaps.last().map_or(1.0, |s| s.time).max(f64::MIN_POSITIVE);
        let curves: Vec<Curve> = snaps
            .iter()
            .map(|s| Curve {
                label: format!("t = {:.3}", s.time),
                colour: plot::viridis(0.9 * s.time / t_end),
                points: coarsen(curve_points(&s.density), factor),
            })
            .collect();
        return plot::save_png(path, (900, 600), |root| {
            plot::lines_panel(root, title, "x", "density ρ(t, x)", &curves)
        });
    }
    let picked: Vec<&Snapshot> = pick(snaps, 6);
    let vmax = max_value(&picked);
    let cols = picked.len().min(3);
    let rows = picked.len().div_ceil(3);
    plot::save_png(path, (330 * cols as u32, 330 * rows as u32 + 40), |root| {
        let (top, body) = root.split_vertically(40);
        top.titled(title, ("sans-serif", 22))
            .map_err(|e| anyhow!("{e}"))?;
        for (area, snap) in body.split_evenly((rows, cols)).iter().zip(&picked) {
            heat_map(area, &format!("t = {:.3}", snap.time), &snap.density, vmax)?;
        }
        Ok(())
    })
}

/// An animated GIF of a 2-D run, one frame per saved density, 400 ms per frame, on one colour
/// scale. Written atomically.
pub fn gif(path: &Path, title: &str, snaps: &[Snapshot]) -> Result<()> {
    let all: Vec<&Snapshot> = snaps.iter().collect();
    let vmax = max_value(&all);
    plot::save_gif(path, (420, 440), 400, snaps.len(), |k, root| {
        let snap = &snaps[k];
        heat_map(
            root,
            &format!("{title}, t = {:.3}", snap.time),
            &snap.density,
            vmax,
        )
    })
}

/// Free energy versus time for each trajectory.
pub fn energy(path: &Path, title: &str, runs: &[&Trajectory]) -> Result<()> {
    let curves: Vec<Curve> = runs
        .iter()
        .enumerate()
        .map(|(k, r)| Curve {
            label: r.scheme.name().to_string(),
            colour: plot::series_colour(k),
            points: r.energies.clone(),
        })
        .collect();
    plot::save_png(path, (900, 600), |root| {
        plot::lines_panel(root, title, "time t", "free energy F(ρ_t)", &curves)
    })
}

/// The `compare` figure: final densities of every scheme over the reference's (1-D; the two
/// marginals in 2-D), and the free energy versus time.
pub fn compare(
    path: &Path,
    title: &str,
    reference: &GridDensity,
    runs: &[&Trajectory],
) -> Result<()> {
    let dim = reference.grid().dim();
    let overlay = |points: &dyn Fn(&GridDensity) -> Vec<(f64, f64)>| -> Vec<Curve> {
        let mut curves: Vec<Curve> = runs
            .iter()
            .enumerate()
            .map(|(k, r)| Curve {
                label: if r.scheme.is_particles() {
                    format!("{} (histogram)", r.scheme.name())
                } else {
                    r.scheme.name().to_string()
                },
                colour: plot::series_colour(k),
                points: coarsen(points(r.last()), particle_factor(r)),
            })
            .collect();
        curves.push(Curve {
            label: "reference (fp, fine step)".into(),
            colour: BLACK,
            points: points(reference),
        });
        curves
    };
    let energies: Vec<Curve> = runs
        .iter()
        .enumerate()
        .map(|(k, r)| Curve {
            label: r.scheme.name().to_string(),
            colour: plot::series_colour(k),
            points: r.energies.clone(),
        })
        .collect();
    let t_end = runs.first().map_or(0.0, |r| r.t_end);
    let panels = dim + 1;
    plot::save_png(path, (620 * panels as u32, 560), |root| {
        let (top, body) = root.split_vertically(40);
        top.titled(title, ("sans-serif", 24))
            .map_err(|e| anyhow!("{e}"))?;
        let areas = body.split_evenly((1, panels));
        if dim == 1 {
            let curves = overlay(&curve_points);
            plot::lines_panel(
                &areas[0],
                &format!("density at t = {t_end:.3}"),
                "x",
                "ρ(t, x)",
                &curves,
            )?;
        } else {
            for axis in 0..2 {
                let curves = overlay(&|d: &GridDensity| marginal_points(d, axis));
                let name = ["x₁", "x₂"][axis];
                plot::lines_panel(
                    &areas[axis],
                    &format!("{name}-marginal at t = {t_end:.3}"),
                    name,
                    "marginal density",
                    &curves,
                )?;
            }
        }
        plot::lines_panel(&areas[dim], "free energy", "time t", "F(ρ_t)", &energies)
    })
}

/// At most `k` snapshots, evenly spaced, the first and last included.
fn pick(snaps: &[Snapshot], k: usize) -> Vec<&Snapshot> {
    if snaps.len() <= k {
        return snaps.iter().collect();
    }
    (0..k)
        .map(|i| &snaps[(i * (snaps.len() - 1)).div_ceil(k - 1).min(snaps.len() - 1)])
        .collect()
}

fn max_value(snaps: &[&Snapshot]) -> f64 {
    snaps
        .iter()
        .flat_map(|s| s.density.values().iter().copied())
        .fold(f64::MIN_POSITIVE, f64::max)
}

/// A heat map of a 2-D density (x₁ across, x₂ up), colour ρ/vmax on the viridis scale, drawn
/// pixel by pixel (the cost does not grow with the grid).
fn heat_map(area: &Area, title: &str, density: &GridDensity, vmax: f64) -> Result<()> {
    let grid = density.grid();
    let axis = grid.axes()[0];
    let n = axis.n;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(36)
        .build_cartesian_2d(axis.lo..axis.hi, axis.lo..axis.hi)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .y_labels(5)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let plotting = chart.plotting_area();
    let (w, h) = plotting.dim_in_pixel();
    let pixels = plotting.strip_coord_spec();
    let values = density.values();
    for px in 0..w {
        let i = ((px as f64 + 0.5) / w as f64 * n as f64) as usize;
        for py in 0..h {
            // Pixel rows go down; x₂ goes up.
            let j = ((h - 1 - py) as f64 + 0.5) / h as f64 * n as f64;
            let v = values[i.min(n - 1) * n + (j as usize).min(n - 1)];
            pixels
                .draw_pixel((px as i32, py as i32), &plot::viridis(v / vmax))
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    Ok(())
}

//! `otto ot demo`: exact and entropic optimal transport between two built-in point clouds, the
//! displacement interpolation along the exact plan, a metrics table and a PNG.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Result};
use clap::Args;
use otto::data::Toy;
use otto_ot::entropic::Sinkhorn;
use otto_ot::marginal::uniform;
use otto_ot::sliced::SlicedW2;
use otto_ot::{exact, squared_euclidean, wasserstein, Matrix};
use serde_json::json;

use crate::npy;
use crate::plot;
use crate::report::Report;

#[derive(Args)]
pub struct OtDemoArgs {
    /// Source data set (gaussian, 8gaussians, moons).
    #[arg(long, default_value = "8gaussians")]
    source: String,
    /// Target data set.
    #[arg(long, default_value = "moons")]
    target: String,
    /// Points per cloud.
    #[arg(long, default_value_t = 400)]
    n: usize,
    /// Entropic regularization, relative to the mean cost: ε = eps_rel · mean(C).
    #[arg(long, default_value_t = 0.01)]
    eps_rel: f64,
    /// Seed of the point clouds.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "out/ot-demo")]
    out: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: OtDemoArgs) -> Result<()> {
    if args.n < 2 {
        return Err(anyhow!("--n must be at least 2, got {}", args.n));
    }
    if args.eps_rel.is_nan() || args.eps_rel <= 0.0 {
        return Err(anyhow!("--eps-rel must be positive, got {}", args.eps_rel));
    }
    let source: Toy = args.source.parse()?;
    let target: Toy = args.target.parse()?;
    let x = source.sample(args.n, args.seed);
    let y = target.sample(args.n, args.seed.wrapping_add(1));
    let w = uniform(args.n);
    let cost = squared_euclidean(&x, &y)?;

    let start = Instant::now();
    let exact_sol = exact::solve(&w, &w, &cost)?;
    let exact_time = start.elapsed().as_secs_f64();

    let mean_cost = cost.as_slice().iter().sum::<f64>() / (args.n * args.n) as f64;
    let eps = args.eps_rel * mean_cost;
    let sinkhorn = Sinkhorn::new(eps).tolerance(1e-9);
    let start = Instant::now();
    let entropic = sinkhorn.solve(&w, &w, &cost)?;
    let entropic_time = start.elapsed().as_secs_f64();
    let divergence_w2 = wasserstein::w2_sinkhorn(&x, &w, &y, &w, &sinkhorn)?;
    let sliced = SlicedW2::default()
        .projections(512)
        .distance(&x, &w, &y, &w)?;

    // Displacement interpolation x_t = (1 − t) x_i + t y_σ(i) along the exact plan.
    let sigma = exact_sol
        .plan
        .permutation()
        .ok_or_else(|| anyhow!("the exact plan between uniform clouds is not a permutation"))?;
    let frames: Vec<(String, Matrix)> = [0.0, 0.25, 0.5, 0.75, 1.0]
        .iter()
        .map(|&t| {
            let m = Matrix::from_fn(args.n, 2, |i, k| {
                (1.0 - t) * x.get(i, k) + t * y.get(sigma[i], k)
            });
            (format!("t = {t}"), m)
        })
        .collect();

    // Entropic segments: conditional probabilities π_ij / a_i above 2%.
    let entropic_segments: Vec<(usize, usize, f64)> = (0..args.n)
        .flat_map(|i| {
            let row = entropic.plan.row(i);
            let ai = w[i];
            row.iter()
                .enumerate()
                .filter(move |(_, &p)| p / ai > 0.02)
                .map(move |(j, &p)| (i, j, p / ai))
                .collect::<Vec<_>>()
        })
        .collect();
    let exact_segments: Vec<(usize, usize, f64)> = exact_sol
        .plan
        .entries
        .iter()
        .map(|&(i, j, _)| (i, j, 1.0))
        .collect();

    std::fs::create_dir_all(&args.out)?;
    let png = args.out.join("ot_plans.png");
    plot::save_png(&png, (1800, 600), |root| {
        let panels = root.split_evenly((1, 3));
        plot::coupling_panel(
            &panels[0],
            &format!("exact plan, W2 = {:.3}", exact_sol.cost.sqrt()),
            &x,
            &y,
            &exact_segments,
        )?;
        plot::coupling_panel(
            &panels[1],
            &format!("entropic plan, ε = {eps:.3}"),
            &x,
            &y,
            &entropic_segments,
        )?;
        plot::interpolation_panel(
            &panels[2],
            "displacement interpolation (W2 geodesic)",
            &frames,
        )
    })?;
    npy::write_matrix(&args.out.join("x.npy"), &x)?;
    npy::write_matrix(&args.out.join("y.npy"), &y)?;
    npy::write_matrix(&args.out.join("plan_exact.npy"), &exact_sol.plan.to_dense())?;

    let mut r = Report::default();
    r.set("source", source.name())
        .set("target", target.name())
        .set("n", args.n)
        .set("seed", args.seed)
        .set("w2_exact", exact_sol.cost.sqrt())
        .set("exact_status", exact_sol.status.name())
        .set("exact_time_s", exact_time)
        .set("eps", eps)
        .set("sinkhorn_transport_cost", entropic.transport_cost)
        .set("sinkhorn_status", entropic.status.name())
        .set("sinkhorn_iterations", entropic.status.iterations())
        .set("sinkhorn_time_s", entropic_time)
        .set("w2_sinkhorn_divergence", divergence_w2)
        .set("w2_sliced_512", sliced)
        .set("plot", json!(png.display().to_string()));
    let metrics = serde_json::to_vec_pretty(&json!({
        "source": source.name(), "target": target.name(), "n": args.n, "seed": args.seed,
        "w2_exact": exact_sol.cost.sqrt(),
        "eps": eps, "sinkhorn_transport_cost": entropic.transport_cost,
        "w2_sinkhorn_divergence": divergence_w2, "w2_sliced_512": sliced,
    }))?;
    npy::write_atomic(&args.out.join("metrics.json"), &metrics)?;
    r.print(args.json);
    Ok(())
}

//! `otto drift flow`: the gradient-flow view of drifting models. Particles drawn from a source
//! move by x ← x + η·V(x; y⁺, x) toward a fixed draw y⁺ of the target, with no network
//! ([`particles`]); every R steps the distances to a held-out target draw are recorded
//! ([`metrics`]) and drawn ([`figures`]). `--compare-variants` runs every field on the same
//! problem: by default two well-separated modes, which show the fields that carry mass across a
//! gap and the ones that stall.

mod figures;
mod metrics;
mod particles;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use otto::data::{DataSource, GaussianMixture};
use otto::drift::{DriftField, MmdKernel, Variant};
use otto_ot::Matrix;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};

use super::{points_f32, FieldOptions};
use crate::npy;
use crate::report::{format_number, Report};
use crate::train::Progress;
use metrics::{Distances, Metrics};
use particles::{mean_velocity_sq, FlowRun, ParticleFlow, Stop};

/// The two-mode case's modes: centres (∓1, 0), standard deviation 0.1.
const MODE_CENTRE: f64 = 1.0;
const MODE_STD: f64 = 0.1;

#[derive(Args)]
pub struct FlowArgs {
    /// The particles' initial law: a built-in name (gaussian, moons, …) or a .npy/.csv file (a
    /// file's rows are used without replacement, at most --n of them) [default: the two-mode
    /// case's source N((−1, 0), 0.1²I)].
    #[arg(long, requires = "target", value_name = "NAME|FILE")]
    source: Option<String>,
    /// The target: a built-in name or a file, whose rows are split at random into two halves,
    /// the positives y⁺ and the held-out set of the metrics [default: the two-mode case's target
    /// ½N((−1, 0), 0.1²I) + ½N((1, 0), 0.1²I): half the mass must cross a gap of 20 std].
    #[arg(long, requires = "source", value_name = "NAME|FILE")]
    target: Option<String>,
    #[command(flatten)]
    options: FieldOptions,
    /// Run every variant (each at its default temperature and step) on the same particles and
    /// targets; writes variants.png and variants.json (about 2 minutes at the defaults on two
    /// cores, most of it sinkhorn-divergence's two dense entropic problems per step).
    #[arg(long, conflicts_with_all = ["variant", "temperature", "temperatures", "eta"])]
    compare_variants: bool,
    /// The step η of x ← x + ηV [default: per variant at its default temperature, measured on
    /// gaussian → drifting-checkerboard (n = 1000, 200 steps) as the step past which W2 stops
    /// improving or the particles jitter, ¼–½ of the step that blows up: deng 5 and
    /// sinkhorn-proxy 2 (V is a mean shift scaled by the row masses, ‖V‖ 10–20× smaller than
    /// kde-score's there; they blow up at 20 and 10); official 0.01 (its V is normalized to an
    /// RMS of about 3× the data scale whatever the distance to the target, so the particles
    /// never stop and η sets their jitter); mmd h², h the bandwidth (Gaussian kernel: ‖∇V‖ ≤
    /// 2/h², so η = h² keeps Euler stable on any data; its stalls are the MMD flow's own);
    /// kde-score 1 and sinkhorn-divergence 1 (V is a difference of barycenters: η = 1 is the
    /// mean-shift step)].
    #[arg(long, value_name = "η")]
    eta: Option<f64>,
    /// Number of steps.
    #[arg(long, default_value_t = 200)]
    iters: usize,
    /// Number of particles, of positives, and of held-out target points.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Seed of the draws: source with seed S, positives with S + 1, held-out target with S + 2.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Record the metrics and the particles every R steps (and at the last) [default: iters/20].
    #[arg(long, value_name = "R")]
    record_every: Option<usize>,
    /// The output directory: metrics.json, particles.npy, trajectory.npy, curves.png, flow.gif
    /// (with --compare-variants: variants.json, variants.png).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print one JSON object instead of a table (and no progress).
    #[arg(long)]
    json: bool,
    /// No progress.
    #[arg(long)]
    quiet: bool,
}

/// The default step of a field (see `--eta`).
fn default_eta(field: &DriftField) -> f64 {
    match field.variant() {
        Variant::Deng => 5.0,
        Variant::SinkhornProxy => 2.0,
        Variant::Official => 0.01,
        // h², rounded to 12 digits so that 0.1² reads 0.01.
        Variant::Mmd => (field.temperature_list()[0].powi(2) * 1e12).round() / 1e12,
        Variant::KdeScore | Variant::SinkhornDivergence => 1.0,
    }
}

/// Where particles or targets come from.
enum Law {
    Data(DataSource),
    /// Equal-weight Gaussian modes, drawn stratified (n/k points from each) so that two draws
    /// differ only within the modes, not in how many points each mode holds.
    Modes(&'static str, Vec<GaussianMixture>),
}

impl Law {
    fn name(&self) -> String {
        match self {
            Law::Data(source) => source.to_string(),
            Law::Modes(name, _) => name.to_string(),
        }
    }

    /// `parts` draws of (up to) `n` points: fresh draws with seeds seed, seed + 1, … from a
    /// distribution; disjoint random subsets of a file's rows.
    fn draws(&self, n: usize, seed: u64, parts: usize) -> Result<Vec<Matrix>> {
        let seeds = seed..seed + parts as u64;
        let file = match self {
            Law::Modes(_, modes) => return Ok(seeds.map(|s| stratified(modes, n, s)).collect()),
            Law::Data(source @ DataSource::Toy(_)) => {
                return seeds.map(|s| Ok(source.sample(n, s)?)).collect()
            }
            Law::Data(source) => source.dataset(0, seed)?,
        };
        let size = n.min(file.rows() / parts);
        ensure!(
            size >= 2,
            "{}: {} rows cannot make {parts} set(s) of at least 2 points",
            self.name(),
            file.rows()
        );
        let mut order: Vec<usize> = (0..file.rows()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        Ok(order
            .chunks_exact(size)
            .take(parts)
            .map(|rows| Matrix::from_fn(size, file.cols(), |i, j| file.get(rows[i], j)))
            .collect())
    }
}

/// `n` points, mode k drawing rows k, k + K, k + 2K, … (K modes), seeds `seed·K + k`.
fn stratified(modes: &[GaussianMixture], n: usize, seed: u64) -> Matrix {
    let k = modes.len();
    let draws: Vec<Matrix> = (0..k)
        .map(|m| modes[m].sample(n.div_ceil(k), seed * k as u64 + m as u64))
        .collect();
    Matrix::from_fn(n, modes[0].dim(), |i, j| draws[i % k].get(i / k, j))
}

/// The two-mode case: source N((−1, 0), 0.1²I), target ½N((−1, 0), 0.1²I) + ½N((1, 0), 0.1²I).
fn two_modes() -> (Law, Law) {
    let mode = |centre: f64| {
        let means = Matrix::from_fn(1, 2, |_, j| if j == 0 { centre } else { 0.0 });
        GaussianMixture::isotropic(&[1.0], &means, MODE_STD * MODE_STD)
            .expect("a valid isotropic Gaussian")
    };
    (
        Law::Modes("one-mode", vec![mode(-MODE_CENTRE)]),
        Law::Modes("two-modes", vec![mode(-MODE_CENTRE), mode(MODE_CENTRE)]),
    )
}

/// The problem every variant runs on: particles, positives, the held-out metrics.
struct Problem {
    source: String,
    target: String,
    x0: Matrix,
    positives: Matrix,
    metrics: Metrics,
    two_modes: bool,
}

/// The metrics between two draws of the target (positives against held-out) and the field's
/// magnitude there: what the flow's curves would read if the particles were the target.
#[derive(Serialize)]
pub struct Floor {
    #[serde(flatten)]
    distances: Distances,
    mean_velocity_sq: f64,
}

impl Problem {
    fn new(args: &FlowArgs) -> Result<Self> {
        ensure!(args.n >= 2, "--n must be at least 2, got {}", args.n);
        let (source, target) = match (&args.source, &args.target) {
            (Some(s), Some(t)) => (
                Law::Data(s.parse().context("--source")?),
                Law::Data(t.parse().context("--target")?),
            ),
            _ => two_modes(),
        };
        let two_modes = matches!(target, Law::Modes(..));
        let x0 = source
            .draws(args.n, args.seed, 1)
            .context("--source")?
            .remove(0);
        let mut targets = target.draws(args.n, args.seed + 1, 2).context("--target")?;
        let held_out = targets.pop().expect("two draws");
        let positives = targets.pop().expect("two draws");
        ensure!(
            x0.cols() == positives.cols(),
            "dimension mismatch: --source {} has dimension {} but --target {} has dimension {}",
            source.name(),
            x0.cols(),
            target.name(),
            positives.cols()
        );
        Ok(Self {
            source: source.name(),
            target: target.name(),
            x0,
            positives,
            metrics: Metrics::new(held_out),
            two_modes,
        })
    }

    /// The distances between the two target draws (positives against held-out).
    fn floor_distances(&self) -> Result<Distances> {
        self.metrics.measure(&self.positives)
    }

    /// The field's (1/n)Σ‖V‖² at the held-out target toward the positives: the noise level of
    /// its fixed point p = q with these sample sizes.
    fn floor_velocity(&self, field: &DriftField) -> Result<f64> {
        let held_out = self.metrics.held_out();
        let d = held_out.cols();
        let drift = field.evaluate(&points_f32(held_out), &points_f32(&self.positives), None, d)?;
        Ok(mean_velocity_sq(&drift.velocity, d))
    }

    /// In the two-mode case, the fractions of particles within 3 std of the source's mode and
    /// of the far mode (the target has 1 − e^(−9/2) ≈ 0.494 in each); `None` for other problems.
    fn mode_masses(&self, x: &Matrix) -> Option<[f64; 2]> {
        let within = |centre: f64| {
            let near = (0..x.rows())
                .filter(|&i| (x.get(i, 0) - centre).hypot(x.get(i, 1)) < 3.0 * MODE_STD)
                .count();
            near as f64 / x.rows() as f64
        };
        self.two_modes
            .then(|| [within(-MODE_CENTRE), within(MODE_CENTRE)])
    }

    fn settings(&self, args: &FlowArgs, record_every: usize) -> Value {
        json!({
            "source": self.source,
            "target": self.target,
            "iters": args.iters,
            "n": self.x0.rows(),
            "positives": self.positives.rows(),
            "held_out": self.metrics.held_out().rows(),
            "dim": self.x0.cols(),
            "seed": args.seed,
            "record_every": record_every,
            "sinkhorn_eps": self.metrics.eps(),
            "sinkhorn_eps_rule": "0.05 · mean squared pairwise distance of the held-out target",
            "kl_bins_per_axis": (self.x0.cols() == 2).then(|| self.metrics.kl_bins(self.x0.rows())),
            "kl_rule": "KL(particles ‖ target), histograms over the joint bounding box, +½ per bin",
        })
    }
}

/// A variant's flow with its settings and summary.
struct VariantRun {
    field: DriftField,
    eta: f64,
    run: FlowRun,
    time_s: f64,
}

impl VariantRun {
    fn summary(&self, problem: &Problem) -> Value {
        let (first, last) = (
            &self.run.records[0],
            self.run.records.last().expect("records"),
        );
        json!({
            "variant": self.field.variant().name(),
            "temperatures": self.field.temperature_list(),
            "eta": self.eta,
            "stop": self.run.stop.to_string(),
            "w2_start": first.distances.w2,
            "w2_final": last.distances.w2,
            "sinkhorn_divergence_final": last.distances.sinkhorn_divergence,
            "mean_velocity_sq_start": first.mean_velocity_sq,
            "mean_velocity_sq_final": last.mean_velocity_sq,
            "mass_near_mode": problem.mode_masses(self.run.last()).map(|m| m[0]),
            "mass_far_mode": problem.mode_masses(self.run.last()).map(|m| m[1]),
            "dead_rows_max": self.run.dead_rows,
            "time_s": self.time_s,
        })
    }
}

fn flow_one(
    problem: &Problem,
    field: DriftField,
    eta: f64,
    args: &FlowArgs,
    record_every: usize,
    progress: &mut dyn FnMut(usize, &str),
) -> Result<VariantRun> {
    let start = Instant::now();
    let flow = ParticleFlow {
        field,
        eta,
        iters: args.iters,
        record_every,
    };
    let run = flow.run(&problem.x0, &problem.positives, &problem.metrics, progress)?;
    Ok(VariantRun {
        field: flow.field,
        eta,
        run,
        time_s: start.elapsed().as_secs_f64(),
    })
}

/// Warnings on stderr: particles whose kernel values underflow, a flow that diverged.
fn warn(v: &VariantRun, n: usize, quiet: bool) {
    if quiet {
        return;
    }
    let name = v.field.variant().name();
    if let Some(tau) = v.run.suggested_temperature {
        eprintln!(
            "warning: {name}: every kernel value of up to {} of the {n} particles underflows (V = 0 there); try --temperature {tau:.3}",
            v.run.dead_rows
        );
    }
    if v.run.stop != Stop::Completed {
        eprintln!("warning: {name}: {}", v.run.stop);
    }
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    npy::write_atomic(path, &serde_json::to_vec_pretty(value)?)
}

fn single(args: &FlowArgs, problem: &Problem, record_every: usize) -> Result<()> {
    let field = args.options.field()?;
    let eta = args.eta.unwrap_or_else(|| default_eta(&field));
    let floor = Floor {
        distances: problem.floor_distances()?,
        mean_velocity_sq: problem.floor_velocity(&field)?,
    };
    let progress = Progress::new(args.iters, args.quiet || args.json);
    let v = flow_one(problem, field, eta, args, record_every, &mut |k, msg| {
        progress.update(k, args.iters, msg)
    })?;
    warn(&v, problem.x0.rows(), args.quiet || args.json);
    let name = v.field.variant().name();
    let out = &args.out;
    let mut settings = problem.settings(args, record_every);
    settings["variant"] = json!(name);
    settings["temperatures"] = json!(v.field.temperature_list());
    settings["eta"] = json!(eta);
    let mut summary = v.summary(problem);
    summary["mean_velocity_sq_floor"] = json!(floor.mean_velocity_sq);
    write_json(
        &out.join("metrics.json"),
        &json!({"settings": settings, "floor": floor, "summary": summary, "records": v.run.records}),
    )?;
    let last = v.run.last();
    npy::write_matrix(&out.join("particles.npy"), last)?;
    let frames: Vec<f64> = v
        .run
        .frames
        .iter()
        .flat_map(|f| f.as_slice())
        .copied()
        .collect();
    npy::write(
        &out.join("trajectory.npy"),
        &[v.run.frames.len(), last.rows(), last.cols()],
        &frames,
    )?;
    let title = format!(
        "{name} flow: {} → {}, η = {eta}",
        problem.source, problem.target
    );
    figures::curves(
        &out.join("curves.png"),
        &title,
        &v.run,
        &floor,
        &problem.positives,
    )?;
    figures::gif(&out.join("flow.gif"), name, &v.run, &problem.positives)?;
    let mut r = Report::default();
    for (key, value) in summary.as_object().expect("an object") {
        r.set(key, value.clone());
    }
    r.set("w2_floor", floor.distances.w2)
        .set("out", out.display().to_string());
    r.print(args.json);
    Ok(())
}

fn compare(args: &FlowArgs, problem: &Problem, record_every: usize) -> Result<()> {
    let total = args.iters * Variant::ALL.len();
    let progress = Progress::new(total, args.quiet || args.json);
    let kernel: MmdKernel = args.options.kernel.parse()?;
    let floor = problem.floor_distances()?;
    let mut runs = Vec::new();
    let mut table = Vec::new();
    for (k, variant) in Variant::ALL.into_iter().enumerate() {
        let field = DriftField::new(variant).kernel(kernel);
        let velocity_floor = problem.floor_velocity(&field).ok();
        let eta = default_eta(&field);
        let mut tick = |step: usize, msg: &str| progress.update(k * args.iters + step, total, msg);
        match flow_one(problem, field, eta, args, record_every, &mut tick) {
            Ok(v) => {
                warn(&v, problem.x0.rows(), args.quiet || args.json);
                let mut summary = v.summary(problem);
                summary["mean_velocity_sq_floor"] = json!(velocity_floor);
                summary["records"] = json!(v.run.records);
                table.push(summary);
                runs.push(v);
            }
            Err(e) => table.push(json!({"variant": variant.name(), "error": format!("{e:#}")})),
        }
    }
    let out = &args.out;
    let mut settings = problem.settings(args, record_every);
    settings["kernel"] = json!(format!("{kernel:?}").to_lowercase());
    write_json(
        &out.join("variants.json"),
        &json!({"settings": settings, "floor": floor, "variants": table}),
    )?;
    let named: Vec<(&str, &FlowRun)> = runs
        .iter()
        .map(|v| (v.field.variant().name(), &v.run))
        .collect();
    let title = format!(
        "drift fields as particle flows: {} → {}, {} steps",
        problem.source, problem.target, args.iters
    );
    figures::variants(
        &out.join("variants.png"),
        &title,
        &named,
        floor.w2,
        &problem.positives,
    )?;
    print_table(&table, floor.w2, out, args.json);
    Ok(())
}

/// One line per variant (or one JSON object without the series).
fn print_table(table: &[Value], w2_floor: f64, out: &Path, json: bool) {
    let rows: Vec<Value> = table
        .iter()
        .map(|row| {
            let mut row = row.clone();
            if let Some(o) = row.as_object_mut() {
                o.remove("records");
            }
            row
        })
        .collect();
    if json {
        println!(
            "{}",
            json!({"variants": rows, "w2_floor": w2_floor, "out": out.display().to_string()})
        );
        return;
    }
    let cell = |row: &Value, key: &str| match &row[key] {
        Value::Number(n) => format_number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s.clone(),
        _ => "-".into(),
    };
    const COLUMNS: [(&str, &str); 7] = [
        ("variant", "variant"),
        ("eta", "η"),
        ("w2_start", "W2 start"),
        ("w2_final", "W2 final"),
        ("mean_velocity_sq_final", "‖V‖² final"),
        ("mass_near_mode", "near mode"),
        ("mass_far_mode", "far mode"),
    ];
    let line = |cells: [String; 7]| {
        let rest: Vec<String> = cells[1..].iter().map(|c| format!("{c:>14}")).collect();
        println!("{:<20}{}", cells[0], rest.join(""))
    };
    line(COLUMNS.map(|c| c.1.to_string()));
    for row in &rows {
        if let Some(e) = row["error"].as_str() {
            println!("{:<20}error: {e}", cell(row, "variant"));
            continue;
        }
        line(COLUMNS.map(|c| cell(row, c.0)));
    }
    println!("w2 between two target draws: {}", format_number(w2_floor));
    println!("wrote {}", out.join("variants.png").display());
}

pub fn run(args: FlowArgs) -> Result<()> {
    if let Some(eta) = args.eta {
        ensure!(
            eta > 0.0 && eta.is_finite(),
            "--eta must be positive and finite, got {eta}"
        );
    }
    if args.iters == 0 {
        bail!("--iters must be at least 1");
    }
    let record_every = args.record_every.unwrap_or((args.iters / 20).max(1));
    ensure!(record_every >= 1, "--record-every must be at least 1");
    if !args.compare_variants {
        // Bad variant or temperature names fail before any data is drawn.
        args.options.field()?;
    }
    let problem = Problem::new(&args)?;
    if args.compare_variants {
        compare(&args, &problem, record_every)
    } else {
        single(&args, &problem, record_every)
    }
}

//! `otto train`: trains a model into a run directory, with a progress bar, a JSON-lines log and
//! checkpoints; `--resume DIR` continues an interrupted run exactly where it stopped.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use otto::train::{self, Method, Observer, RunDir, StepReport, TrainConfig};

#[derive(Args)]
pub struct TrainArgs {
    /// Read the configuration from this TOML file (flags given on the command line override it).
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Continue the interrupted run in DIR from its last checkpoint (other flags are ignored).
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    resume: Option<PathBuf>,
    /// Run directory to create.
    #[arg(long, default_value = "runs/train")]
    out: PathBuf,
    /// Source data (t = 0): a built-in name (8gaussians, moons, gaussian, …) or a .npy/.csv file
    /// [default: 8gaussians].
    #[arg(long)]
    source: Option<String>,
    /// Target data (t = 1): a built-in name or a .npy/.csv file [default: moons].
    #[arg(long)]
    target: Option<String>,
    /// Method: i-cfm, ot-cfm (exact minibatch OT coupling), sb-cfm (entropic coupling, Brownian
    /// bridge), sf2m (flow + score on the bridge), reflow (--from RUN), or a diffusion method from
    /// N(0, I):
    /// ddpm (VP linear-β, ε), score-ve (VE, σ²-weighted score matching), edm (EDM
    /// preconditioning and loss), vp-v (VP cosine, v-prediction); or drifting (a one-step
    /// generator trained along a drift field, --drift) [default: ot-cfm].
    #[arg(long)]
    method: Option<String>,
    /// drifting: the drift field — deng (the paper's Alg. 2, absolute τ), official (the
    /// release: temperatures relative to the data's scale; its generator collapses on the
    /// 2-D toys here, BENCHMARKS.md), sinkhorn-proxy, mmd, kde-score, sinkhorn-divergence [default: deng].
    #[arg(long, value_name = "VARIANT")]
    drift: Option<String>,
    /// drifting: the field's temperatures, comma-separated (several only for official)
    /// [default: official 0.02,0.05,0.2; deng and sinkhorn-proxy 0.05; mmd and kde-score 0.1;
    /// sinkhorn-divergence 0.01].
    #[arg(long, value_delimiter = ',', value_name = "T,…")]
    temperatures: Option<Vec<f64>>,
    /// drifting with --drift mmd: gaussian or laplace [default: gaussian].
    #[arg(long)]
    kernel: Option<String>,
    /// drifting: generated points per step [default: 2048].
    #[arg(long, value_name = "N")]
    gen_batch: Option<usize>,
    /// drifting: data points per step [default: 2048].
    #[arg(long, value_name = "N")]
    data_batch: Option<usize>,
    /// drifting: dimension of the generator's noise input [default: 32].
    #[arg(long, value_name = "D")]
    noise_dim: Option<usize>,
    /// drifting: train class-conditionally with classifier-free guidance on a labelled target
    /// (8gaussians, dsb-8gaussians, torchdyn-8gaussians, moons, checkerboard, drifting-checkerboard, or a file with
    /// --label-column).
    #[arg(long)]
    conditional: bool,
    /// The column of the --target file holding each row's class, 0-based (implies
    /// --conditional).
    #[arg(long, value_name = "K")]
    label_column: Option<usize>,
    /// drifting with classes: the guidance scales' law p(α) ∝ α^(−k) on [1, 4] [default: 3].
    #[arg(long, value_name = "K")]
    cfg_exponent: Option<f64>,
    /// AdamW's decoupled weight decay [default: 1e-5; drifting 0].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Hidden width [default: 64; drifting 256].
    #[arg(long)]
    width: Option<usize>,
    /// Hidden layers [default: 3].
    #[arg(long)]
    depth: Option<usize>,
    /// Activation: selu, silu, gelu, relu [default: selu; drifting silu].
    #[arg(long)]
    activation: Option<String>,
    /// Minibatch size [default: 512].
    #[arg(long)]
    batch: Option<usize>,
    /// Peak learning rate of AdamW [default: 1e-3].
    #[arg(long)]
    lr: Option<f64>,
    /// Interpolant noise σ for i-cfm / ot-cfm, the Brownian bridge's σ for sb-cfm and sf2m (whose
    /// entropic coupling uses ε = 2σ²) [default: 0.1; 1.0 for sb-cfm and sf2m].
    #[arg(long)]
    sigma: Option<f64>,
    /// reflow: the trained flow-matching run whose ODE pairs (x0, ODE(x0)) the new flow trains on
    /// (--train-size of them; default 10 000).
    #[arg(long, value_name = "RUN")]
    from: Option<String>,
    /// Minibatch coupling of i-cfm / ot-cfm / sb-cfm: independent, exact-ot (pairs drawn from the
    /// plan, torchcfm), exact-ot-permutation (the plan's permutation, no replacement), sinkhorn
    /// (ε = 2σ²) [default: the method's].
    #[arg(long)]
    coupling: Option<String>,
    /// Schedule of a diffusion method's path: cond-ot, vp-trig, vp-linear, vp-cosine, sub-vp, ve,
    /// edm [default: the method's].
    #[arg(long)]
    schedule: Option<String>,
    /// What a diffusion network predicts: noise, score, data, velocity (the flow's), v (Salimans &
    /// Ho) [default: the method's].
    #[arg(long)]
    predict: Option<String>,
    /// Weighting of a diffusion regression: uniform, sigma2 (σ_t²), likelihood (g(t)²)
    /// [default: the method's].
    #[arg(long)]
    weighting: Option<String>,
    /// EDM's data scale σ_d [default: 0.5].
    #[arg(long)]
    sigma_data: Option<f64>,
    /// Largest noise level of the ve / edm schedules [default: ve: the largest distance between
    /// training points (Song & Ermon 2020); edm: 80].
    #[arg(long)]
    sigma_max: Option<f64>,
    /// Optimizer steps [default: 20000; drifting 2000].
    #[arg(long)]
    steps: Option<usize>,
    /// Seed of the whole run [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Checkpoint every this many steps [default: 1000].
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Log every this many steps [default: 100].
    #[arg(long)]
    log_every: Option<usize>,
    /// Linear learning-rate warmup steps [default: 0].
    #[arg(long)]
    warmup: Option<usize>,
    /// Cosine learning-rate decay after warmup.
    #[arg(long)]
    cosine: bool,
    /// Clip the global gradient norm to this value; 0 disables [default: 0].
    #[arg(long)]
    grad_clip: Option<f64>,
    /// EMA decay of the weights; 0 disables [default: 0].
    #[arg(long)]
    ema_decay: Option<f64>,
    /// Train on this many points drawn once from each built-in data set (not a gaussian source);
    /// 0 draws fresh points every step [default: 0].
    #[arg(long, value_name = "N")]
    train_size: Option<usize>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

impl TrainArgs {
    fn config(&self) -> Result<TrainConfig> {
        let mut c = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                TrainConfig::from_toml(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim()))?
            }
            None => TrainConfig::default(),
        };
        if let Some(v) = &self.method {
            let method = v.parse::<Method>().map_err(anyhow::Error::msg)?;
            // Without a configuration file, the method's defaults (σ 1.0 for the bridges, the
            // authors' toy recipe for drifting).
            c = if self.config.is_none() {
                TrainConfig::defaults_for(method)
            } else {
                TrainConfig { method, ..c }
            };
        }
        if let Some(v) = &self.source {
            c.source = v.clone();
        }
        if let Some(v) = &self.target {
            c.target = v.clone();
        }
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = &self.$field { c.$field = v.clone(); } )* };
        }
        set!(width, depth, activation, batch, lr, sigma, schedule, steps, seed);
        set!(predict, weighting, sigma_data, sigma_max, coupling, from);
        set!(
            drift,
            temperatures,
            kernel,
            gen_batch,
            data_batch,
            noise_dim,
            weight_decay,
            cfg_exponent
        );
        if self.label_column.is_some() {
            c.label_column = self.label_column;
        }
        c.conditional |= self.conditional;
        set!(
            checkpoint_every,
            log_every,
            warmup,
            grad_clip,
            ema_decay,
            train_size
        );
        c.cosine |= self.cosine;
        Ok(c)
    }
}

/// Progress on a terminal (a bar), as plain lines elsewhere, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
}

impl Progress {
    pub fn new(total: usize, quiet: bool) -> Self {
        if quiet {
            return Self {
                bar: None,
                plain: false,
            };
        }
        if !std::io::stdout().is_terminal() {
            return Self {
                bar: None,
                plain: true,
            };
        }
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta}]",
            )
            .expect("a valid template"),
        );
        Self {
            bar: Some(bar),
            plain: false,
        }
    }
}

impl Observer for Progress {
    fn on_report(&mut self, r: &StepReport) {
        let mut msg = format!("loss {:.4}", r.loss);
        if !r.drift.magnitudes.is_empty() {
            let drift: Vec<String> = r
                .drift
                .magnitudes
                .iter()
                .map(|m| format!("{m:.2e}"))
                .collect();
            msg += &format!("  drift {}", drift.join(" "));
        }
        if let Some(tau) = r.drift.suggested_temperature {
            msg += &format!(
                "  ({} generated points per step lost their field to underflow; --temperatures {tau:.3} would keep them)",
                r.drift.dead_rows
            );
        }
        msg += &format!("  {:.0} steps/s  lr {:.2e}", r.steps_per_sec, r.lr);
        self.update(r.step, r.total, &msg);
    }
}

impl Progress {
    /// Moves the bar to `step` (1-based) of `total` with `msg`; in plain mode prints
    /// `step k/total  msg` every 5% and at the end.
    pub fn update(&self, step: usize, total: usize, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(msg.to_string());
            if step == total {
                bar.finish();
            }
        } else if self.plain && (step * 20 / total != (step - 1) * 20 / total || step == total) {
            eprintln!("step {step}/{total}  {msg}");
        }
    }
}

pub fn run(args: TrainArgs) -> Result<()> {
    let (config, dir, resume) = match &args.resume {
        Some(dir) => {
            let run = RunDir::open(dir)?;
            let text = run.read_to_string("config.toml")?;
            let config = TrainConfig::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", run.file("config.toml").display(), e))?;
            (config, dir.clone(), true)
        }
        None => (args.config()?, args.out.clone(), false),
    };
    let run = RunDir::create(&dir)?;
    let mut progress = Progress::new(config.steps, args.quiet);
    // The loop runs on a worker of its own rayon pool, so the network's parallel passes do not pay
    // a cross-thread wake-up of the calling thread on every step.
    let pool = rayon::ThreadPoolBuilder::new().build()?;
    let state = pool.install(|| train::train(&config, &run, resume, &mut progress))?;
    if !args.quiet {
        let time = state
            .train_seconds
            .map_or_else(String::new, |s| format!(" ({s:.1} s of training)"));
        eprintln!(
            "trained {} steps of {} into {}{time}",
            state.step,
            config.method.name(),
            run.root().display()
        );
    }
    Ok(())
}

//! A training run's configuration: everything needed to reproduce it, seed included. Written to
//! `config.toml` in the run directory; `otto train --config FILE.toml` reads it (flags override it).
//! Defaults are the published protocol of Tong et al. (SF2M, AISTATS 2024, App. F): a 3×64 SELU MLP,
//! AdamW with lr 1e-3 and weight decay 1e-5, batch 512, σ = 0.1.

use serde::{Deserialize, Serialize};

/// The training method: a coupling, a path and an objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Independent coupling, constant-σ interpolant, velocity regression (Tong et al. 2024).
    ICfm,
    /// Exact minibatch OT coupling, constant-σ interpolant, velocity regression.
    #[default]
    OtCfm,
    /// Entropic coupling (ε = 2σ²), Brownian-bridge interpolant σ√(t(1 − t)), velocity regression
    /// (Tong et al. 2024, SB-CFM).
    SbCfm,
    /// Rectified flow's reflow (Liu et al. 2023): a straight, noise-free interpolant trained on
    /// pairs (x0, ODE(x0)) drawn once from the trained run `from` (k-RF after k − 1 reflows).
    Reflow,
    /// SF2M: exact OT coupling (or --coupling sinkhorn), Brownian bridge, flow and score
    /// regressions on two networks (flow, and the score (σ²/2)∇log p_t); sampled by the SDE with
    /// g = σ (Tong et al. 2024).
    Sf2m,
    /// Gaussian source, VP linear-β schedule, noise (ε) prediction (Ho et al. 2020).
    Ddpm,
    /// Gaussian source, VE schedule, σ²-weighted denoising score matching (Song et al. 2021).
    ScoreVe,
    /// Gaussian source, EDM σ levels, EDM's preconditioning and loss (Karras et al. 2022).
    Edm,
    /// Gaussian source, VP cosine schedule, v-prediction (Salimans & Ho 2022).
    VpV,
    /// A one-step generator x = f(ε) regressed onto sg(x + V(x)) for a drift field V (Deng et al.
    /// 2026, "Generative Modeling via Drifting"); `drift` names the field.
    Drifting,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 10] = [
        Method::ICfm,
        Method::OtCfm,
        Method::SbCfm,
        Method::Sf2m,
        Method::Reflow,
        Method::Ddpm,
        Method::ScoreVe,
        Method::Edm,
        Method::VpV,
        Method::Drifting,
    ];

    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Method::ICfm => "i-cfm",
            Method::OtCfm => "ot-cfm",
            Method::SbCfm => "sb-cfm",
            Method::Sf2m => "sf2m",
            Method::Reflow => "reflow",
            Method::Ddpm => "ddpm",
            Method::ScoreVe => "score-ve",
            Method::Edm => "edm",
            Method::VpV => "vp-v",
            Method::Drifting => "drifting",
        }
    }

    /// The default σ of the method's interpolant: 1.0 for the bridges (sb-cfm, sf2m), 0.1 otherwise
    /// (the SF2M paper's protocol, MATH.md §2).
    pub fn default_sigma(&self) -> f64 {
        match self {
            Method::SbCfm | Method::Sf2m => 1.0,
            _ => 0.1,
        }
    }

    /// True for the methods on an affine Gaussian path from N(0, I) (diffusion).
    pub fn is_diffusion(&self) -> bool {
        matches!(
            self,
            Method::Ddpm | Method::ScoreVe | Method::Edm | Method::VpV
        )
    }
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown method '{s}'; valid methods are: {}",
                    Method::ALL.map(|m| m.name()).join(", ")
                )
            })
    }
}

/// Everything a run needs. Unknown keys in a TOML file are rejected with their name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Source data (t = 0): a built-in name or a file path; `gaussian` is N(0, I) in the target's
    /// dimension (`gaussian:D` fixes D). Ignored by the diffusion methods (their source is N(0, I)).
    pub source: String,
    /// Target data (t = 1): a built-in name or a file path.
    pub target: String,
    /// The method.
    pub method: Method,
    /// Noise level σ of the interpolant (I-CFM / OT-CFM: constant; SB-CFM: the Brownian bridge's,
    /// and ε = 2σ² of its entropic coupling).
    pub sigma: f64,
    /// The trained flow-matching run whose ODE pairs a reflow trains on (`--from`).
    pub from: String,
    /// Minibatch coupling of i-cfm / ot-cfm / sb-cfm (independent, exact-ot, exact-ot-permutation,
    /// sinkhorn with ε = 2σ²); empty: the method's (independent, exact-ot, sinkhorn).
    pub coupling: String,
    /// Schedule of the affine path of a diffusion method (cond-ot, vp-trig, vp-linear, vp-cosine,
    /// sub-vp, ve, edm); empty: the method's (ddpm vp-linear, score-ve ve, edm edm, vp-v
    /// vp-cosine). Ignored by i-cfm / ot-cfm.
    pub schedule: String,
    /// What a diffusion network predicts (noise, score, data, velocity, v); empty: the method's
    /// (ddpm noise, score-ve score, vp-v v; edm predicts data through its preconditioning).
    pub predict: String,
    /// Weighting of a diffusion regression (uniform, sigma2, likelihood); empty: the method's
    /// (score-ve sigma2, otherwise uniform).
    pub weighting: String,
    /// Largest noise level of the ve and edm schedules; 0: edm's 80, and for ve the largest
    /// distance between 2000 training points (Song & Ermon 2020, technique 1; score_sde's 50 for
    /// CIFAR-10 follows the same rule).
    pub sigma_max: f64,
    /// EDM's data scale σ_d.
    pub sigma_data: f64,
    /// EDM's P_mean (mean of ln σ during training).
    pub edm_p_mean: f64,
    /// EDM's P_std (standard deviation of ln σ during training).
    pub edm_p_std: f64,
    /// Hidden width of the MLP.
    pub width: usize,
    /// Number of hidden layers.
    pub depth: usize,
    /// Activation: selu, silu, gelu or relu.
    pub activation: String,
    /// Time input: `concat` (t appended to x), `sinusoidal:DIM` or `fourier:DIM:SCALE`
    /// (`sinusoidal` and `fourier` alone mean 32 features, scale 1).
    pub time_embedding: String,
    /// Residual hidden blocks.
    pub residual: bool,
    /// Minibatch size.
    pub batch: usize,
    /// Optimizer steps.
    pub steps: usize,
    /// Peak learning rate (AdamW).
    pub lr: f64,
    /// Final learning rate of the cosine decay.
    pub lr_min: f64,
    /// Linear warmup steps.
    pub warmup: usize,
    /// Cosine decay after warmup.
    pub cosine: bool,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂.
    pub beta2: f64,
    /// Clip the global gradient norm to this value (0: no clipping).
    pub grad_clip: f64,
    /// EMA decay of the weights (0: no EMA).
    pub ema_decay: f64,
    /// Seed of everything random in the run.
    pub seed: u64,
    /// Fraction of a data file's rows held out for evaluation (built-in data sets draw fresh
    /// held-out points instead).
    pub test_fraction: f64,
    /// Train on this many points drawn once from each built-in data set, minibatches drawn from
    /// them with replacement (the finite-data regime of papers, e.g. torchcfm's runner: 10 000);
    /// 0 draws fresh points every step. A `gaussian` source stays fresh noise, as in the runner;
    /// data files always train on their training rows.
    pub train_size: usize,
    /// Log every this many steps.
    pub log_every: usize,
    /// Checkpoint every this many steps.
    pub checkpoint_every: usize,
    /// Drifting: the drift field (deng, official, sinkhorn-proxy, mmd, kde-score,
    /// sinkhorn-divergence); empty: deng, the paper's Alg. 2 and the authors' toy (official, as
    /// released, collapses the generator on the 2-D toys: BENCHMARKS.md).
    pub drift: String,
    /// Drifting: the field's temperatures (empty: the variant's defaults, e.g. official's 0.02,
    /// 0.05, 0.2 and deng's τ = 0.05).
    pub temperatures: Vec<f64>,
    /// Drifting with `drift = "mmd"`: its kernel, gaussian or laplace (empty: gaussian).
    pub kernel: String,
    /// Drifting: generated points per step (the field's rows).
    pub gen_batch: usize,
    /// Drifting: data points per step (the field's positives).
    pub data_batch: usize,
    /// Drifting: dimension of the generator's noise input ε ~ N(0, I).
    pub noise_dim: usize,
    /// Drifting: train class-conditionally with classifier-free guidance on a labelled target
    /// (a labelled built-in data set, or a file with `label_column`).
    pub conditional: bool,
    /// The column of a target file that holds each row's class (0-based); implies
    /// `conditional`.
    pub label_column: Option<usize>,
    /// Drifting with classes: the exponent k of the guidance scales' law p(α) ∝ α^(−k) on
    /// [1, 4] (Deng et al.: 3 or 5).
    pub cfg_exponent: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            source: "8gaussians".into(),
            target: "moons".into(),
            method: Method::OtCfm,
            sigma: 0.1,
            coupling: String::new(),
            from: String::new(),
            schedule: String::new(),
            predict: String::new(),
            weighting: String::new(),
            sigma_max: 0.0,
            sigma_data: 0.5,
            edm_p_mean: -1.2,
            edm_p_std: 1.2,
            width: 64,
            depth: 3,
            activation: "selu".into(),
            time_embedding: "concat".into(),
            residual: false,
            batch: 512,
            steps: 20_000,
            lr: 1e-3,
            lr_min: 0.0,
            warmup: 0,
            cosine: false,
            weight_decay: 1e-5,
            beta1: 0.9,
            beta2: 0.999,
            grad_clip: 0.0,
            ema_decay: 0.0,
            seed: 0,
            test_fraction: 0.2,
            train_size: 0,
            log_every: 100,
            checkpoint_every: 1000,
            drift: String::new(),
            temperatures: Vec::new(),
            kernel: String::new(),
            gen_batch: 2048,
            data_batch: 2048,
            noise_dim: 32,
            conditional: false,
            label_column: None,
            cfg_exponent: 3.0,
        }
    }
}

impl TrainConfig {
    /// The defaults of `method`: σ = [`Method::default_sigma`]; for drifting the authors' toy
    /// recipe (MATH.md §5): MLP 32 → 256 → 256 → 256 → d with SiLU, Adam (no weight decay) at
    /// 10⁻³, 2000 steps of 2048 generated and 2048 data points.
    pub fn defaults_for(method: Method) -> Self {
        let base = Self {
            method,
            sigma: method.default_sigma(),
            ..Self::default()
        };
        match method {
            Method::Drifting => Self {
                width: 256,
                depth: 3,
                activation: "silu".into(),
                steps: 2000,
                weight_decay: 0.0,
                ..base
            },
            _ => base,
        }
    }

    /// Parses a TOML document; missing keys take their defaults, unknown keys are an error.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The TOML document of this configuration.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a TrainConfig always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_and_unknown_keys() {
        // Truth: serialization is lossless (parse ∘ print = identity), defaults fill missing keys,
        // and a misspelt key is reported by name.
        let c = TrainConfig {
            method: Method::Ddpm,
            width: 256,
            ..TrainConfig::default()
        };
        assert_eq!(TrainConfig::from_toml(&c.to_toml()).unwrap(), c);
        let partial = TrainConfig::from_toml("width = 32\nmethod = \"i-cfm\"").unwrap();
        assert_eq!(partial.width, 32);
        assert_eq!(partial.method, Method::ICfm);
        assert_eq!(partial.batch, 512);
        let err = TrainConfig::from_toml("widht = 32")
            .unwrap_err()
            .to_string();
        assert!(err.contains("widht"), "{err}");
    }

    #[test]
    fn ve_takes_the_largest_training_distance_as_sigma_max_reproducibly() {
        // Truth: Song & Ermon 2020's rule — σ_max is a distance between two training points, so
        // it is at most the diameter of the data's support and at least the largest distance
        // along any one coordinate; the same configuration gives the same value (a reloaded run
        // samples from the same prior). moons: x ∈ [−4, 6], y ∈ [−2.6, 3]: between 9 and 11.5.
        use crate::train::Recipe;
        let config = TrainConfig {
            method: Method::ScoreVe,
            target: "moons".into(),
            ..TrainConfig::default()
        };
        let sigma_max = |c: &TrainConfig| {
            Recipe::from_config(c)
                .unwrap()
                .schedule
                .unwrap()
                .sigma_max()
                .unwrap()
        };
        let auto = sigma_max(&config);
        assert!((9.0..11.5).contains(&auto), "{auto}");
        assert_eq!(sigma_max(&config), auto);
        let fixed = TrainConfig {
            sigma_max: 20.0,
            ..config
        };
        assert_eq!(sigma_max(&fixed), 20.0);
    }

    #[test]
    fn a_gaussian_source_takes_the_targets_dimension() {
        // Truth: the documented rule — `gaussian` is N(0, I) of the target's dimension, here that
        // of an 8-column file; `gaussian:3` is kept and then refused for the mismatch.
        use crate::train::Recipe;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eight.csv");
        let rows: Vec<String> = (0..20)
            .map(|i| {
                (0..8)
                    .map(|j| format!("{}", (i * 8 + j) as f64 * 0.1))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        std::fs::write(&path, rows.join("\n")).unwrap();
        let config = |source: &str| TrainConfig {
            method: Method::ICfm,
            source: source.into(),
            target: path.display().to_string(),
            ..TrainConfig::default()
        };
        let recipe = Recipe::from_config(&config("gaussian")).unwrap();
        assert_eq!((recipe.source.dim(), recipe.target.dim()), (8, 8));
        assert!(Recipe::from_config(&config("gaussian:3")).is_err());
    }

    #[test]
    fn train_size_makes_finite_data_sets_but_keeps_gaussian_noise_fresh() {
        // Truth: the documented rule — built-in data sets become finite training sets of
        // `train_size` points, the same on every build of the recipe (a resumed run sees the same
        // set), a gaussian source stays fresh, and 0 changes nothing.
        use crate::data::Dataset;
        use crate::train::Recipe;
        let config = |source: &str, train_size| TrainConfig {
            source: source.into(),
            target: "moons".into(),
            train_size,
            ..TrainConfig::default()
        };
        let finite_rows = |d: &Dataset| match d {
            Dataset::Finite { train, .. } => Some(train.clone()),
            _ => None,
        };
        let a = Recipe::from_config(&config("8gaussians", 100)).unwrap();
        let b = Recipe::from_config(&config("8gaussians", 100)).unwrap();
        let (source, target) = (finite_rows(&a.source), finite_rows(&a.target));
        assert_eq!(source.as_ref().map(|m| m.rows()), Some(100));
        assert_eq!(target.as_ref().map(|m| m.rows()), Some(100));
        assert_eq!(
            (source, target),
            (finite_rows(&b.source), finite_rows(&b.target))
        );
        let noise = Recipe::from_config(&config("gaussian", 100)).unwrap();
        assert!(matches!(noise.source, Dataset::Toy(_)));
        assert!(matches!(noise.target, Dataset::Finite { .. }));
        let fresh = Recipe::from_config(&config("8gaussians", 0)).unwrap();
        assert!(matches!(
            (&fresh.source, &fresh.target),
            (Dataset::Toy(_), Dataset::Toy(_))
        ));
    }
}

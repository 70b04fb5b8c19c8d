//! Tests of the diffusion samplers against independent truths: the identities of MATH.md §4, the
//! EDM Gaussian oracle, convergence orders against an RK4 solution of the probability-flow ODE,
//! schedule invariance, and the variance of the stochastic samplers on Gaussian data.

use otto_ot::Matrix;

use crate::data::gmm::tests::three_component;
use crate::data::{GaussianMixture, Toy};
use crate::field::{Denoiser, GmmField};
use crate::path::{Edm, Level, Schedule, Ve, VpLinear};
use crate::sampler::row_noise::NOISE_ROWS;
use crate::sampler::{
    convergence_order, Ddim, DiffusionOptions, DiffusionSampler, Discretization, DpmSolverPp,
    DpmVariant, EdmHeun, Method, OdeSolver, PredictorCorrector, Record, TimeGrid, UniPc,
};

fn max_diff(a: &Matrix, b: &Matrix) -> f64 {
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// n points from N(0, σ_0² I) at the first level (the prior of the schedule).
fn prior(level: &Level, n: usize, d: usize, seed: u64) -> Matrix {
    let z = Toy::Gaussian { dim: d }.sample(n, seed);
    Matrix::from_fn(n, d, |i, j| level.sigma * z.get(i, j))
}

/// The 1-D Gaussian N(0, s²) as a one-component mixture: its exact denoiser is
/// D(x) = α s² x/(α² s² + σ²).
fn gaussian(d: usize, variance: f64) -> GaussianMixture {
    GaussianMixture::isotropic(&[1.0], &Matrix::zeros(1, d), variance).unwrap()
}

#[test]
fn ddim_dpm_solver_1_and_edm_euler_are_one_update() {
    // Truth: MATH.md §4 — DDIM(η = 0) ≡ DPM-Solver++(1) ≡ Euler in σ/α, three different written
    // forms of x_t = (σ_t/σ_s)x − α_t(e^{−h} − 1)x̂1; they agree to round-off (1e-12) on the
    // mixture oracle, on a VP and on a VE schedule, every step to σ = 0 included.
    let vp = GmmField::new(three_component(), VpLinear::default());
    let ve = GmmField::new(three_component(), Ve::default());
    for field in [&vp as &dyn Denoiser, &ve] {
        let levels = Discretization::new(12)
            .grid(TimeGrid::LogSnr)
            .levels(field.schedule())
            .unwrap();
        let x = prior(&levels[0], 64, 2, 3);
        let ddim = Ddim::new(0.0).solve(field, &x, &levels).unwrap();
        let dpm = DpmSolverPp::new(DpmVariant::One)
            .solve(field, &x, &levels)
            .unwrap();
        let euler = EdmHeun::euler().solve(field, &x, &levels).unwrap();
        assert!(max_diff(&ddim.x, &dpm.x) < 1e-12);
        assert!(
            max_diff(&ddim.x, &euler.x) < 1e-12,
            "{}",
            max_diff(&ddim.x, &euler.x)
        );
        assert_eq!(
            (ddim.stats.nfe, dpm.stats.nfe, euler.stats.nfe),
            (12, 12, 12)
        );
    }
}

#[test]
fn edm_heun_reproduces_the_gaussian_oracle() {
    // Truth: MATH.md §4 — data N(0, 0.5²), exact denoiser, start x = 80ε, Karras grid N = 18
    // (ρ = 7, σ_min 0.002, σ_max 80, σ_N = 0): output std relative error +5.53e-2 (Heun,
    // NFE 35) and −1.54e-1 (Euler), against the exact 0.4999902. The samplers are linear in
    // their start, so one start point x = 80 gives the std gain. Tolerance: the oracle's three
    // digits (5e-5).
    let field = GmmField::new(gaussian(1, 0.25), Edm::default());
    let levels = Discretization::new(18)
        .grid(TimeGrid::Uniform)
        .levels(&Edm::default())
        .unwrap();
    assert!((levels[0].sigma - 80.0).abs() < 1e-12 && levels[18].sigma == 0.0);
    let x = Matrix::from_rows(&[vec![80.0]]).unwrap();
    let exact = 0.4999902;
    let heun = EdmHeun::new().solve(&field, &x, &levels).unwrap();
    let euler = EdmHeun::euler().solve(&field, &x, &levels).unwrap();
    let rel = |s: &Matrix| s.get(0, 0) / exact - 1.0;
    assert!(
        (rel(&heun.x) - 5.53e-2).abs() < 5e-5,
        "Heun {:e}",
        rel(&heun.x)
    );
    assert!(
        (rel(&euler.x) + 1.54e-1).abs() < 5e-4,
        "Euler {:e}",
        rel(&euler.x)
    );
    assert_eq!(heun.stats.nfe, 35);
}

#[test]
fn orders_on_the_mixture_field() {
    // Truth: the probability-flow ODE of the same mixture field integrated by RK4 with 8192
    // uniform steps (its error ≲ 1e-10, far below the samplers'); the samplers run the same
    // interval (no final step to σ = 0) on a uniform-λ grid. Fitted orders (least squares over
    // 32–256 steps): DDIM 1, Heun, 2M, 2S and UniP-2 2, 3M 3, and UniPC-2 3 (its corrector raises
    // the order by one: Zhao et al. 2023, §3.2), within 0.3 (the finite-step pre-asymptotic
    // drift seen over these step counts).
    let schedule = VpLinear::default();
    let field = GmmField::new(three_component(), schedule);
    let (start, end) = (0.0, 0.999);
    let x = prior(&Level::at(&schedule, start), 32, 2, 11);
    let reference = OdeSolver::new(Method::Rk4)
        .steps(8192)
        .solve(&field, &x, start, end)
        .unwrap()
        .x;
    let steps = [32, 64, 128, 256];
    type Sampler<'a> = Box<dyn Fn(&[Level]) -> Matrix + 'a>;
    let cases: Vec<(&str, f64, Sampler)> = vec![
        (
            "ddim",
            1.0,
            Box::new(|l: &[Level]| Ddim::new(0.0).solve(&field, &x, l).unwrap().x),
        ),
        (
            "edm-heun",
            2.0,
            Box::new(|l: &[Level]| EdmHeun::new().solve(&field, &x, l).unwrap().x),
        ),
        (
            "dpmpp-2m",
            2.0,
            Box::new(|l: &[Level]| {
                DpmSolverPp::new(DpmVariant::TwoM)
                    .solve(&field, &x, l)
                    .unwrap()
                    .x
            }),
        ),
        (
            "dpmpp-2s",
            2.0,
            Box::new(|l: &[Level]| {
                DpmSolverPp::new(DpmVariant::TwoS)
                    .solve(&field, &x, l)
                    .unwrap()
                    .x
            }),
        ),
        (
            "unipc",
            3.0,
            Box::new(|l: &[Level]| UniPc::new().solve(&field, &x, l).unwrap().x),
        ),
        (
            "unip (no corrector)",
            2.0,
            Box::new(|l: &[Level]| {
                UniPc::new()
                    .corrector(false)
                    .solve(&field, &x, l)
                    .unwrap()
                    .x
            }),
        ),
        (
            "dpmpp-3m",
            3.0,
            Box::new(|l: &[Level]| {
                DpmSolverPp::new(DpmVariant::ThreeM)
                    .solve(&field, &x, l)
                    .unwrap()
                    .x
            }),
        ),
    ];
    for (name, expected, run) in cases {
        let errors: Vec<f64> = steps
            .iter()
            .map(|&n| {
                let levels = Discretization::new(n)
                    .grid(TimeGrid::LogSnr)
                    .interval(start, end)
                    .denoise_final(false)
                    .levels(&schedule)
                    .unwrap();
                max_diff(&run(&levels), &reference)
            })
            .collect();
        let order = convergence_order(&errors, &steps);
        assert!(
            (order - expected).abs() < 0.3,
            "{name}: fitted order {order:.3} (errors {errors:?})"
        );
    }
}

#[test]
fn dpm_solver_is_invariant_to_the_schedule_at_equal_log_snr() {
    // Truth: the data-prediction updates depend on the levels only through λ and the scale α
    // (x_VE = x_VP/α), so the VP schedule and its variance-exploding form (α = 1, σ = e^{−λ})
    // on the same λ grid give the same samples (to round-off, 1e-10), ending at σ = 0 (α = 1).
    let vp = GmmField::new(three_component(), VpLinear::default());
    let ve = GmmField::new(three_component(), Ve::default());
    let levels_vp = Discretization::new(15)
        .levels(&VpLinear::default())
        .unwrap();
    let levels_ve: Vec<Level> = levels_vp
        .iter()
        .map(|l| Level {
            t: if l.sigma == 0.0 {
                l.t
            } else {
                Ve::default().time_of_log_snr(l.log_snr())
            },
            alpha: 1.0,
            sigma: l.sigma / l.alpha,
        })
        .collect();
    let x_vp = prior(&levels_vp[0], 64, 2, 5);
    let x_ve = Matrix::from_fn(64, 2, |i, j| x_vp.get(i, j) / levels_vp[0].alpha);
    for variant in [
        DpmVariant::TwoM,
        DpmVariant::ThreeM,
        DpmVariant::TwoS,
        DpmVariant::SdeTwoM,
    ] {
        let solver = DpmSolverPp::new(variant).seed(9);
        let a = solver.solve(&vp, &x_vp, &levels_vp).unwrap().x;
        let b = solver.solve(&ve, &x_ve, &levels_ve).unwrap().x;
        assert!(
            max_diff(&a, &b) < 1e-10,
            "{variant}: {:e}",
            max_diff(&a, &b)
        );
    }
    let a = EdmHeun::new().solve(&vp, &x_vp, &levels_vp).unwrap().x;
    let b = EdmHeun::new().solve(&ve, &x_ve, &levels_ve).unwrap().x;
    assert!(max_diff(&a, &b) < 1e-10);
    let a = UniPc::new().solve(&vp, &x_vp, &levels_vp).unwrap();
    let b = UniPc::new().solve(&ve, &x_ve, &levels_ve).unwrap();
    assert!(max_diff(&a.x, &b.x) < 1e-10);
    assert_eq!(a.stats.nfe, levels_vp.len() - 1);
}

/// Sample variance over all entries (mean zero known).
fn variance(x: &Matrix) -> f64 {
    x.as_slice().iter().map(|v| v * v).sum::<f64>() / x.as_slice().len() as f64
}

#[test]
fn stochastic_samplers_match_their_linear_recursions() {
    // Truth: on Gaussian data N(0, s²) the exact denoiser is linear, D = c x with
    // c = α s²/(α² s² + σ²), so every step is x' = a x + b z and Var' = a² Var + b², written out
    // here from the published update rules (DDIM(η): a = α_t c + ρ(1 − α_s c), ρ =
    // √(σ_t² − σ_η²)/σ_s, b = σ_η; reverse-SDE Euler–Maruyama: a = 1 + (−f − g²/σ² + g²αc/σ²)Δ,
    // b = g√Δ). 20 000 particles × 4 dimensions: the sample variance's relative s.e. is
    // √(2/80 000) = 0.5 %; tolerance 2 % (4 s.e.).
    let s2 = 0.3;
    let schedule = VpLinear::default();
    let field = GmmField::new(gaussian(4, s2), schedule);
    let levels = Discretization::new(25).levels(&schedule).unwrap();
    let start_var = levels[0].alpha.powi(2) * s2 + levels[0].sigma.powi(2);
    let z = prior(&levels[0], 20_000, 4, 1);
    let x = Matrix::from_fn(20_000, 4, |i, j| {
        start_var.sqrt() / levels[0].sigma * z.get(i, j)
    });
    let gain = |l: &Level| l.alpha * s2 / (l.alpha * l.alpha * s2 + l.sigma * l.sigma);
    for eta in [0.5, 1.0] {
        let mut var = start_var;
        for p in levels.windows(2) {
            let (s, t) = (&p[0], &p[1]);
            let r = (s.alpha * t.sigma) / (s.sigma * t.alpha);
            let sigma_eta = eta * t.sigma * (1.0 - r * r).sqrt();
            let rho = (t.sigma.powi(2) - sigma_eta.powi(2)).sqrt() / s.sigma;
            let a = t.alpha * gain(s) + rho * (1.0 - s.alpha * gain(s));
            var = a * a * var + sigma_eta * sigma_eta;
        }
        let out = Ddim::new(eta).seed(2).solve(&field, &x, &levels).unwrap().x;
        assert!(
            (variance(&out) / var - 1.0).abs() < 0.02,
            "DDIM η={eta}: {} vs {var}",
            variance(&out)
        );
    }
    let uniform = Discretization::new(200)
        .grid(TimeGrid::Uniform)
        .levels(&schedule)
        .unwrap();
    let mut var = start_var;
    for (k, p) in uniform.windows(2).enumerate() {
        let (s, t) = (&p[0], &p[1]);
        if t.sigma == 0.0 {
            var *= gain(s).powi(2);
            continue;
        }
        let dt = t.t - s.t;
        let (f, g2) = (schedule.drift(s.t), schedule.diffusion(s.t).powi(2));
        let inv = 1.0 / (s.sigma * s.sigma);
        let a = 1.0 + (-f - g2 * inv + g2 * s.alpha * gain(s) * inv) * dt;
        let b2 = if k + 2 == uniform.len() { 0.0 } else { g2 * dt };
        var = a * a * var + b2;
    }
    let z = prior(&uniform[0], 20_000, 4, 1);
    let x = Matrix::from_fn(20_000, 4, |i, j| {
        start_var.sqrt() / uniform[0].sigma * z.get(i, j)
    });
    let out = PredictorCorrector::new(0)
        .seed(4)
        .solve(&field, &x, &uniform)
        .unwrap()
        .x;
    assert!(
        (variance(&out) / var - 1.0).abs() < 0.02,
        "EM: {} vs {var}",
        variance(&out)
    );
}

#[test]
fn ancestral_sampling_reaches_the_data_variance() {
    // Truth: ancestral DDPM (DDIM η = 1) and the reverse SDE sample the data law as the steps
    // shrink; on N(0, s²) the output variance is s² up to the O(1/N) discretization bias
    // (measured < 1 % at N = 500) and the 0.5 % sampling s.e.: tolerance 3 %.
    let s2 = 0.3;
    let schedule = VpLinear::default();
    let field = GmmField::new(gaussian(4, s2), schedule);
    let levels = Discretization::new(500).levels(&schedule).unwrap();
    let x = prior(&levels[0], 20_000, 4, 8);
    for (name, out) in [
        (
            "ddim η=1",
            Ddim::new(1.0).solve(&field, &x, &levels).unwrap().x,
        ),
        (
            "reverse SDE",
            PredictorCorrector::new(0)
                .solve(&field, &x, &levels)
                .unwrap()
                .x,
        ),
        (
            "sde-dpm++2m",
            DpmSolverPp::new(DpmVariant::SdeTwoM)
                .solve(&field, &x, &levels)
                .unwrap()
                .x,
        ),
    ] {
        assert!(
            (variance(&out) / s2 - 1.0).abs() < 0.03,
            "{name}: {} vs {s2}",
            variance(&out)
        );
    }
}

#[test]
fn langevin_corrector_settles_at_the_published_variance() {
    // Truth: MATH.md §4 — repeated corrector steps on N(0, v) at a fixed level settle at variance
    // v(1 + snr²). The level's marginal is N(0, v), v = α²s² + σ²; a VE schedule (f = 0, so the
    // step factor a = 1); after 300 corrector steps the predictor's step to σ = 0 returns c·x,
    // so Var(out)/c² is the corrector's variance. snr = 0.5 (expected 1.25 v); 40 000 × 4
    // entries: s.e. 0.35 %; tolerance 2 %.
    let s2 = 0.3;
    let schedule = Ve::default();
    let field = GmmField::new(gaussian(4, s2), schedule);
    let level = Level::at(&schedule, 0.6);
    let levels = [level, Level::data(0.6)];
    let v = s2 + level.sigma * level.sigma;
    let z = prior(&level, 40_000, 4, 3);
    let x = Matrix::from_fn(40_000, 4, |i, j| v.sqrt() / level.sigma * z.get(i, j));
    let out = PredictorCorrector::new(300)
        .snr(0.5)
        .solve(&field, &x, &levels)
        .unwrap();
    let c = s2 / v;
    let settled = variance(&out.x) / (c * c);
    assert!(
        (settled / (v * 1.25) - 1.0).abs() < 0.02,
        "corrector variance {settled} vs {}",
        1.25 * v
    );
    assert_eq!(out.stats.nfe, 301);
}

#[test]
fn bad_levels_and_options_are_refused() {
    let schedule = VpLinear::default();
    let field = GmmField::new(three_component(), schedule);
    let x = Matrix::zeros(3, 2);
    let good = Discretization::new(4).levels(&schedule).unwrap();
    let mut zero_inside = good.clone();
    zero_inside[1].sigma = 0.0;
    let mut reversed = good.clone();
    reversed.swap(0, 1);
    for levels in [&good[..1], &zero_inside[..], &reversed[..]] {
        assert!(Ddim::default().solve(&field, &x, levels).is_err());
    }
    assert!(Ddim::new(1.5).solve(&field, &x, &good).is_err());
    let misaligned = Ddim::new(1.0).first_row(100).solve(&field, &x, &good);
    let message = misaligned.unwrap_err().to_string();
    let expected = format!("first_row = 100 (not a multiple of {NOISE_ROWS})");
    assert!(message.contains(&expected), "{message}");
    assert!(Ddim::default()
        .record(Record::Times(vec![0.5]))
        .solve(&field, &x, &good)
        .is_err());
    assert!(EdmHeun::new()
        .s_noise(0.0)
        .solve(&field, &x, &good)
        .is_err());
    assert!(PredictorCorrector::new(1)
        .snr(-1.0)
        .solve(&field, &x, &good)
        .is_err());
    let nan = Matrix::from_fn(3, 2, |_, _| f64::NAN);
    assert!(DpmSolverPp::new(DpmVariant::TwoM)
        .solve(&field, &nan, &good)
        .is_err());
    let recorded = DpmSolverPp::new(DpmVariant::TwoM)
        .record(Record::EveryStep)
        .solve(&field, &x, &good)
        .unwrap();
    assert_eq!(recorded.trajectory.states.len(), good.len());
}

#[test]
fn stochastic_samplers_give_the_same_points_in_row_blocks() {
    // Truth: the same sampler on the whole batch in one piece (a one-thread pool). The noise is
    // drawn per row index, so a two-thread `DiffusionOptions::run`, which cuts 3 000 rows into two
    // blocks solved on their own, must give the same points bit for bit; and a different seed must
    // not (the noise is really used). With churn, η = 1 and a corrector step, every sampler draws
    // noise; the predictor–corrector, whose step size is a batch statistic, runs whole in both.
    let schedule = VpLinear::default();
    let field = GmmField::new(three_component(), schedule);
    let options = DiffusionOptions {
        eta: 1.0,
        churn: 10.0,
        ..DiffusionOptions::default()
    };
    let pool = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    };
    let (one, two) = (pool(1), pool(2));
    for sampler in DiffusionSampler::ALL {
        let levels = options.levels(sampler, &schedule, 6, true).unwrap();
        let x = prior(&levels[0], 3000, 2, 9);
        let run = |seed| options.run(sampler, &field, &x, &levels, seed).unwrap();
        let whole = one.install(|| run(5));
        let blocks = two.install(|| run(5));
        assert_eq!(whole.x.as_slice(), blocks.x.as_slice(), "{sampler:?}");
        assert_eq!(whole.stats, blocks.stats, "{sampler:?}");
        let deterministic = matches!(
            sampler,
            DiffusionSampler::Dpmpp1
                | DiffusionSampler::Dpmpp2m
                | DiffusionSampler::Dpmpp3m
                | DiffusionSampler::Dpmpp2s
                | DiffusionSampler::Unipc
        );
        let reseeded = two.install(|| run(6));
        assert_eq!(
            deterministic,
            whole.x.as_slice() == reseeded.x.as_slice(),
            "{sampler:?}"
        );
    }
}

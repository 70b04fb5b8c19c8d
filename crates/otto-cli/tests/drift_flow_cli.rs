//! `otto drift flow`: particle flows of drift fields from the command line.

mod common;

use std::path::Path;

use common::{json_of, otto, s, stderr_of, write_npy};
use serde_json::Value;

/// `n` points of N(shift·e₁, I) in 2-D (otto's own standard normal, shifted), as a .npy file.
fn shifted_gaussian(dir: &Path, name: &str, n: usize, shift: f64, seed: u64) -> String {
    let points = otto::data::Toy::Gaussian { dim: 2 }.sample(n, seed);
    let data: Vec<f64> = points
        .as_slice()
        .chunks(2)
        .flat_map(|p| [p[0] + shift, p[1]])
        .collect();
    s(&write_npy(dir, name, &[n as u64, 2], &data)).to_string()
}

/// Runs `otto drift flow ARGS --out OUT --json` and returns metrics.json.
fn flow(out: &Path, args: &[&str]) -> Value {
    json_of(&otto(
        &[&["drift", "flow"], args, &["--out", s(out), "--json"]].concat(),
    ));
    let text = std::fs::read(out.join("metrics.json")).expect("metrics.json is written");
    serde_json::from_slice(&text).expect("metrics.json is JSON")
}

fn series(metrics: &Value, key: &str) -> Vec<f64> {
    metrics["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r[key].as_f64().expect("a number"))
        .collect()
}

/// The shape of a .npy file.
fn npy_shape(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap();
    npyz::NpyFile::new(&bytes[..]).unwrap().shape().to_vec()
}

#[test]
fn equal_laws_are_a_fixed_point_and_a_shift_gives_the_closed_form_field() {
    // Truth: MATH.md §5's oracle. With a Gaussian Parzen window of bandwidth σ, kde-score's
    // population field between p = N(a, s²I) and q = N(b, s²I) is the constant
    // σ²(a − b)/(s² + σ²): with σ = s = 1 and a − b = 2e₁, ‖V‖² = 1 everywhere; with a = b it
    // is 0, so a flow between two draws of one law only moves by sampling noise.
    let dir = tempfile::tempdir().unwrap();
    let target = shifted_gaussian(dir.path(), "target.npy", 800, 2.0, 11);
    let common = [
        "--variant",
        "kde-score",
        "--temperature",
        "1",
        "--iters",
        "20",
        "--record-every",
        "5",
        "--n",
        "400",
    ];
    let same = flow(
        &dir.path().join("same"),
        &[
            &common[..],
            &["--source", "gaussian", "--target", "gaussian"],
        ]
        .concat(),
    );
    let shifted = flow(
        &dir.path().join("shifted"),
        &[&common[..], &["--source", "gaussian", "--target", &target]].concat(),
    );
    // 400 particles and 400 positives: the Monte Carlo error of the barycenters (~20 points
    // of weight within σ) makes ±20% on ‖V‖² = 1.
    let v_shifted = series(&shifted, "mean_velocity_sq")[0];
    assert!(
        (v_shifted - 1.0).abs() < 0.2,
        "‖V‖² = {v_shifted}, closed form 1"
    );
    let v_same = series(&same, "mean_velocity_sq");
    assert!(
        v_same.iter().all(|&v| v < 0.05 * v_shifted),
        "{v_same:?} vs {v_shifted}"
    );
    // The distances to the held-out draw start at the two-sample floor and stay there.
    let w2 = series(&same, "w2");
    let floor = same["floor"]["w2"].as_f64().unwrap();
    assert!(
        w2.iter().all(|&w| w < 1.5 * floor && w > 0.5 * floor),
        "{w2:?} vs {floor}"
    );
    let mmd2 = series(&same, "mmd2");
    assert!(mmd2.iter().all(|&m| m < 2.0 * mmd2[0] + 1e-3), "{mmd2:?}");
    // The outputs: the trajectory holds one frame per record, the last one is particles.npy.
    let out = dir.path().join("same");
    assert_eq!(npy_shape(&out.join("trajectory.npy")), vec![5, 400, 2]);
    assert_eq!(npy_shape(&out.join("particles.npy")), vec![400, 2]);
    for f in ["curves.png", "flow.gif"] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 1000, "{f}");
    }
}

#[test]
fn flows_from_a_shifted_gaussian_close_most_of_the_distance() {
    // Truth: W2(N(2e₁, I), N(0, I)) = 2 exactly (a translation); the empirical start must be
    // near it (400 vs 400 points add ~0.3 of sampling floor, in quadrature). kde-score at σ = 1
    // halves the mean offset every step (η = 1, field σ²(a − b)/(s² + σ²)); the MMD flow is
    // slower and, with a bandwidth h of the data's scale, stalls (W2 1.3 after 50 steps at
    // h = 1): h = 2 at its default η = h² = 4 gets there in 50.
    let dir = tempfile::tempdir().unwrap();
    let source = shifted_gaussian(dir.path(), "source.npy", 400, 2.0, 5);
    for (variant, bandwidth, iters, every) in
        [("kde-score", "1", "20", "5"), ("mmd", "2", "50", "10")]
    {
        let metrics = flow(
            &dir.path().join(variant),
            &[
                "--source",
                &source,
                "--target",
                "gaussian",
                "--variant",
                variant,
                "--temperature",
                bandwidth,
                "--iters",
                iters,
                "--record-every",
                every,
                "--n",
                "400",
            ],
        );
        let w2 = series(&metrics, "w2");
        assert!(
            (w2[0] - 2.0).abs() < 0.15,
            "{variant}: W2 at start {}",
            w2[0]
        );
        let last = *w2.last().unwrap();
        assert!(last < 0.5 * w2[0], "{variant}: {w2:?}");
        // Monotone up to the two-sample noise of W2 (the floor's size).
        let floor = metrics["floor"]["w2"].as_f64().unwrap();
        assert!(
            w2.windows(2).all(|p| p[1] < p[0] + 0.5 * floor),
            "{variant}: {w2:?}"
        );
        assert_eq!(metrics["summary"]["stop"], "completed");
    }
}

#[test]
fn compare_variants_shows_which_fields_carry_mass_across_the_gap() {
    // Truth: in the two-mode case (source N((−1, 0), 0.1²I), target half there and half at
    // (1, 0)) any balanced transport must move half the particles across: the Sinkhorn
    // divergence's flow does so in one step at η = 1 (its V is the barycentric projection of
    // the balanced plan). kde-score's population field at the source mode is the local
    // difference of scores, 0 (p_σ ∝ q_σ there), plus the far mode's pull ∝ e^(−2²/(2(s² + σ²)))
    // = e^(−100), zero in f32: its particles stay. 3σ discs hold 1 − e^(−9/2) = 0.989 of a mode.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let report = json_of(&otto(&[
        "drift",
        "flow",
        "--compare-variants",
        "--n",
        "200",
        "--iters",
        "10",
        "--record-every",
        "5",
        "--out",
        s(&out),
        "--json",
    ]));
    let rows = report["variants"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    let row = |name: &str| rows.iter().find(|r| r["variant"] == name).unwrap();
    let sd = row("sinkhorn-divergence");
    let far = sd["mass_far_mode"].as_f64().unwrap();
    assert!((far - 0.5 * 0.989).abs() < 0.05, "{sd}");
    assert!(sd["w2_final"].as_f64().unwrap() < 0.2 * sd["w2_start"].as_f64().unwrap());
    assert_eq!(row("kde-score")["mass_far_mode"].as_f64(), Some(0.0));
    let table: Value =
        serde_json::from_slice(&std::fs::read(out.join("variants.json")).unwrap()).unwrap();
    assert_eq!(table["variants"][0]["records"].as_array().unwrap().len(), 3);
    assert!(std::fs::metadata(out.join("variants.png")).unwrap().len() > 1000);
}

#[test]
fn bad_input_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let run = |extra: &[&str]| {
        stderr_of(&otto(
            &[&["drift", "flow", "--out", s(&out), "--iters", "2"], extra].concat(),
        ))
    };
    let err = run(&["--variant", "sinkhorn"]);
    assert!(err.contains("valid variants are: deng, official"), "{err}");
    let err = run(&["--eta", "0"]);
    assert!(err.contains("--eta must be positive"), "{err}");
    let err = run(&["--eta=-1"]);
    assert!(err.contains("--eta must be positive"), "{err}");
    let err = stderr_of(&otto(&["drift", "flow", "--out", s(&out), "--iters", "0"]));
    assert!(err.contains("--iters must be at least 1"), "{err}");
    let err = run(&["--source", "gaussian:3", "--target", "gaussian"]);
    assert!(err.contains("dimension mismatch"), "{err}");
    assert!(err.contains("dimension 3"), "{err}");
    let err = run(&["--source", "gaussian"]);
    assert!(err.contains("--target"), "{err}");
    let err = run(&["--compare-variants", "--variant", "mmd"]);
    assert!(err.contains("cannot be used with"), "{err}");
    let err = run(&["--variant", "deng", "--temperature=-0.5"]);
    assert!(err.contains("temperature must be positive"), "{err}");
    assert!(!out.exists(), "nothing is written on bad input");
}

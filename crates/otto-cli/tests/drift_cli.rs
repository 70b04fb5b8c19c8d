//! `otto drift field` and `otto train --method drifting` from the command line.

mod common;

use common::{data, json_of, otto, s, stderr_of, train, write_npy};

/// The tiny drifting recipe the tests train: the paper's field (τ = 0.05) and a 2×32 generator
/// on 256 + 256 points.
const SMALL: [&str; 16] = [
    "--method",
    "drifting",
    "--drift",
    "deng",
    "--target",
    "drifting-checkerboard",
    "--width",
    "32",
    "--depth",
    "2",
    "--gen-batch",
    "256",
    "--data-batch",
    "256",
    "--noise-dim",
    "8",
];

#[test]
fn drift_field_vanishes_for_equal_positives_and_negatives_and_names_bad_input() {
    // Truth: antisymmetry (Deng et al. Prop. 3.1) through the CLI — negatives equal to the
    // positives give V = 0 to f32 round-off; and the documented one-line errors.
    let dir = tempfile::tempdir().unwrap();
    let (x, p, v) = (
        dir.path().join("x.npy"),
        dir.path().join("p.npy"),
        dir.path().join("v.npy"),
    );
    data("gaussian", 300, 1, &x);
    data("drifting-checkerboard", 400, 2, &p);
    for variant in ["deng", "official", "sinkhorn-proxy", "mmd", "kde-score"] {
        let out = otto(&[
            "drift",
            "field",
            "--x",
            s(&x),
            "--pos",
            s(&p),
            "--neg",
            s(&p),
            "--variant",
            variant,
            "--out",
            s(&v),
            "--json",
        ]);
        let report = json_of(&out);
        if variant == "official" {
            // The release always repels from x's own rows as well: not antisymmetric here.
            assert!(report["mean_square"].as_f64().unwrap() > 0.0);
            continue;
        }
        assert!(
            report["mean_square"].as_f64().unwrap() < 1e-10,
            "{variant}: {report}"
        );
    }
    let err = stderr_of(&otto(&[
        "drift",
        "field",
        "--x",
        s(&x),
        "--pos",
        s(&p),
        "--variant",
        "sinkhorn",
        "--out",
        s(&v),
    ]));
    assert!(err.contains("valid variants are: deng, official"), "{err}");
    let err = stderr_of(&otto(&[
        "drift",
        "field",
        "--x",
        s(&x),
        "--pos",
        s(&p),
        "--temperature",
        "0",
        "--out",
        s(&v),
    ]));
    assert!(err.contains("temperature must be positive"), "{err}");
    let one = write_npy(dir.path(), "one.npy", &[1, 2], &[0.0f64, 0.0]);
    let err = stderr_of(&otto(&[
        "drift",
        "field",
        "--x",
        s(&one),
        "--pos",
        s(&p),
        "--out",
        s(&v),
    ]));
    assert!(
        err.contains("x: 1 point(s); a drift field needs at least 2"),
        "{err}"
    );
}

#[test]
fn a_kernel_that_underflows_at_the_datas_scale_stops_training_and_names_a_temperature() {
    // Truth: the notebook's τ = 0.05 is absolute; data 1000 units from the generator's first
    // outputs make every exp(−d/τ) toward them vanish, so the run must stop at step 1 naming a
    // τ that works (and official, whose temperatures are relative).
    let dir = tempfile::tempdir().unwrap();
    let far: Vec<f64> = (0..200).map(|i| 1000.0 + (i % 17) as f64).collect();
    let target = write_npy(dir.path(), "far.npy", &[100, 2], &far);
    let run = dir.path().join("run");
    let out = otto(&[
        "train",
        "--method",
        "drifting",
        "--target",
        s(&target),
        "--drift",
        "deng",
        "--width",
        "32",
        "--gen-batch",
        "256",
        "--data-batch",
        "256",
        "--steps",
        "5",
        "--quiet",
        "--out",
        s(&run),
    ]);
    let err = stderr_of(&out);
    assert!(err.contains("at step 1"), "{err}");
    assert!(
        err.contains("--temperatures") && err.contains("--drift official"),
        "{err}"
    );
    for (flag, value, message) in [
        (
            "--gen-batch",
            "1",
            "gen_batch: a drift field needs at least 2",
        ),
        ("--temperatures", "0", "temperature must be positive"),
        ("--drift", "sinkhorn", "valid variants are"),
    ] {
        let out = otto(&[
            "train",
            "--method",
            "drifting",
            flag,
            value,
            "--steps",
            "2",
            "--quiet",
            "--out",
            s(&dir.path().join("bad")),
        ]);
        let err = stderr_of(&out);
        assert!(err.contains(message), "{flag} {value}: {err}");
    }
}

#[test]
fn drifting_runs_resume_exactly_and_sample_in_one_evaluation() {
    // Truth: determinism — 40 steps in one go equal 20 steps, then the configuration extended to
    // 40 and resumed (same seed, same threads): identical weights, moments and log. A generator
    // samples with NFE 1, and training moves its samples toward the data (W2 falls).
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let untrained = train(
        &dir.path().join("u"),
        &[&SMALL[..], &["--steps", "1"]].concat(),
    );
    train(
        &a,
        &[
            &SMALL[..],
            &[
                "--steps",
                "40",
                "--checkpoint-every",
                "20",
                "--log-every",
                "20",
            ],
        ]
        .concat(),
    );
    train(
        &b,
        &[
            &SMALL[..],
            &[
                "--steps",
                "20",
                "--checkpoint-every",
                "20",
                "--log-every",
                "20",
            ],
        ]
        .concat(),
    );
    let config = std::fs::read_to_string(b.join("config.toml")).unwrap();
    std::fs::write(
        b.join("config.toml"),
        config.replace("steps = 20\n", "steps = 40\n"),
    )
    .unwrap();
    let resumed = otto(&["train", "--resume", s(&b), "--quiet"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    for f in ["log.jsonl", "checkpoint.safetensors"] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    let log = std::fs::read_to_string(a.join("log.jsonl")).unwrap();
    assert!(log.contains("\"drift\":["), "{log}");
    let sample = json_of(&otto(&["sample", "--run", s(&a), "--n", "500", "--json"]));
    assert_eq!(sample["nfe"], 1);
    let w2 = |run: &std::path::Path| {
        json_of(&otto(&["eval", "--run", s(run), "--n", "1000", "--json"]))["w2"]
            .as_f64()
            .unwrap()
    };
    let (before, after) = (w2(&untrained), w2(&a));
    assert!(after < 0.8 * before, "W2 {before} → {after}");
}

#[test]
fn class_conditional_drifting_lands_on_its_classes_and_guidance_sharpens() {
    // Truth: a generator that ignored its class would put each class's samples on all eight
    // cells (W2 to one cell ≈ 1); conditioned, each class's samples sit on its own cell of width
    // ½ (per-class W2 well under 0.3). Guidance (Deng et al.'s CFG, α > 1) pushes samples away
    // from the unconditional data: their spread around the class mean shrinks as α grows.
    let dir = tempfile::tempdir().unwrap();
    let run = train(
        &dir.path().join("cond"),
        &[
            "--method",
            "drifting",
            "--conditional",
            "--target",
            "drifting-checkerboard",
            "--temperatures",
            "0.25",
            "--gen-batch",
            "1024",
            "--data-batch",
            "1024",
            "--width",
            "128",
            "--steps",
            "500",
        ],
    );
    let metrics = |alpha: &str| {
        json_of(&otto(&[
            "eval",
            "--run",
            s(&run),
            "--n",
            "1600",
            "--cfg",
            alpha,
            "--json",
        ]))
    };
    let (plain, guided) = (metrics("1"), metrics("3"));
    let w2 = plain["w2_class_mean"].as_f64().unwrap();
    assert!(w2 < 0.3, "per-class W2 {w2}");
    let (s1, s3) = (
        plain["class_spread_mean"].as_f64().unwrap(),
        guided["class_spread_mean"].as_f64().unwrap(),
    );
    assert!(s3 < 0.9 * s1, "spread α=1 {s1}, α=3 {s3}");
    let sample = json_of(&otto(&[
        "sample",
        "--run",
        s(&run),
        "--n",
        "80",
        "--class",
        "5",
        "--cfg",
        "2",
        "--json",
    ]));
    assert_eq!(sample["nfe"], 1);
    let err = stderr_of(&otto(&["sample", "--run", s(&run), "--class", "8"]));
    assert!(
        err.contains("class 8 is out of range; this run has classes 0..8"),
        "{err}"
    );
}

#[test]
fn labelled_files_and_guidance_errors_are_named() {
    // Truth: the documented one-line errors — a label column out of range, guidance on a run
    // trained without labels, a built-in set without classes.
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<f64> = (0..60)
        .flat_map(|i| [(i % 7) as f64 * 0.1, (i % 5) as f64 * 0.1, (i % 3) as f64])
        .collect();
    let file = write_npy(dir.path(), "labelled.npy", &[60, 3], &rows);
    let run = dir.path().join("r");
    let out = |args: &[&str]| {
        let base = [
            "train",
            "--method",
            "drifting",
            "--steps",
            "2",
            "--quiet",
            "--out",
            s(&run),
        ];
        otto(&[&base[..], args].concat())
    };
    let err = stderr_of(&out(&["--target", s(&file), "--label-column", "3"]));
    assert!(
        err.contains("label column 3 is out of range; the file has 3 columns"),
        "{err}"
    );
    let err = stderr_of(&out(&["--target", "swissroll", "--conditional"]));
    assert!(err.contains("'swissroll' has no class labels"), "{err}");
    let ok = out(&[
        "--target",
        s(&file),
        "--label-column",
        "2",
        "--gen-batch",
        "24",
        "--data-batch",
        "24",
        "--temperatures",
        "0.5",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let plain = train(
        &dir.path().join("plain"),
        &[&SMALL[..], &["--steps", "2"]].concat(),
    );
    let err = stderr_of(&otto(&["sample", "--run", s(&plain), "--cfg", "2"]));
    assert!(
        err.contains("need a class-conditional drifting run"),
        "{err}"
    );
}

#[test]
fn the_drifting_demo_trains_samples_in_one_pass_and_plots_its_snapshots() {
    // Truth: the documented demo — the toy recipe on the notebook's checkerboard, one network
    // evaluation per sample, the snapshot figure written, and W2 to held-out points below that of
    // the untrained generator's blob at the origin (0.79 after one step; 0.21 measured after 60).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let report = json_of(&otto(&[
        "demo",
        "--method",
        "drifting",
        "--steps",
        "60",
        "--quiet",
        "--json",
        "--out",
        s(&out),
    ]));
    assert_eq!(report["nfe"], 1);
    assert!(report["w2"].as_f64().unwrap() < 0.6, "{report}");
    assert!(out.join("plots/snapshots.png").exists());
}

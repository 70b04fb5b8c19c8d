//! End-to-end tests of the `otto` binary: real files in, JSON out, and one-line errors on bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{data, json_of, otto, read_npy, s, stderr_of, w2, write_npy};
use serde_json::Value;

/// Brute-force optimum over all permutations of a uniform n×n problem (n ≤ 7), as a mean cost.
fn brute_force(cost: &[f64], n: usize) -> f64 {
    fn rec(k: usize, n: usize, used: &mut [bool], c: &[f64], acc: f64, best: &mut f64) {
        if k == n {
            *best = best.min(acc);
            return;
        }
        for j in 0..n {
            if !used[j] {
                used[j] = true;
                rec(k + 1, n, used, c, acc + c[k * n + j], best);
                used[j] = false;
            }
        }
    }
    let mut best = f64::INFINITY;
    rec(0, n, &mut vec![false; n], cost, 0.0, &mut best);
    best / n as f64
}

fn clouds(dir: &Path) -> (PathBuf, PathBuf, Vec<f64>) {
    let x: Vec<f64> = (0..12).map(|k| ((k * 7919) % 31) as f64 / 9.0).collect();
    let y: Vec<f64> = (0..12)
        .map(|k| ((k * 104_729) % 29) as f64 / 7.0 - 0.5)
        .collect();
    let cost: Vec<f64> = (0..6)
        .flat_map(|i| {
            let (x, y) = (&x, &y);
            (0..6)
                .map(move |j| (x[2 * i] - y[2 * j]).powi(2) + (x[2 * i + 1] - y[2 * j + 1]).powi(2))
        })
        .collect();
    (
        write_npy(dir, "x.npy", &[6, 2], &x),
        write_npy(
            dir,
            "y.npy",
            &[6, 2],
            &y.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        ),
        cost,
    )
}

#[test]
fn emd_on_point_clouds_matches_brute_force() {
    // Truth: enumeration of all 6! permutations of the uniform 6-point problem. y is stored as
    // float32, so the cost is recomputed from the f32-rounded coordinates the CLI reads.
    let dir = tempfile::tempdir().unwrap();
    let (x, y, _) = clouds(dir.path());
    let xs: Vec<f64> = (0..12).map(|k| ((k * 7919) % 31) as f64 / 9.0).collect();
    let ys: Vec<f64> = (0..12)
        .map(|k| (((k * 104_729) % 29) as f64 / 7.0 - 0.5) as f32 as f64)
        .collect();
    let cost: Vec<f64> = (0..36)
        .map(|f| {
            let (i, j) = (f / 6, f % 6);
            (xs[2 * i] - ys[2 * j]).powi(2) + (xs[2 * i + 1] - ys[2 * j + 1]).powi(2)
        })
        .collect();
    let plan = dir.path().join("plan.npy");
    let v = json_of(&otto(&[
        "ot",
        "emd",
        "--x",
        s(&x),
        "--y",
        s(&y),
        "--plan-out",
        s(&plan),
        "--json",
    ]));
    let want = brute_force(&cost, 6);
    assert!((v["cost"].as_f64().unwrap() - want).abs() < 1e-12, "{v}");
    assert!((v["w2"].as_f64().unwrap() - want.sqrt()).abs() < 1e-12);
    assert_eq!(v["status"], "converged");
    let bytes = std::fs::read(&plan).unwrap();
    let p: Vec<f64> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
    assert_eq!(p.len(), 36);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn emd_on_a_cost_matrix_with_weights() {
    // Truth: a 2×3 transport problem solved by hand. a = (0.5, 0.5), b = (0.25, 0.25, 0.5),
    // C = [[0, 1, 2], [2, 1, 0]]: row 0 fills columns 0 and 1 at cost 0 + 0.25, row 1 column 2 at 0;
    // optimum 0.25.
    let dir = tempfile::tempdir().unwrap();
    let c = write_npy(
        dir.path(),
        "c.npy",
        &[2, 3],
        &[0.0, 1.0, 2.0, 2.0, 1.0, 0.0],
    );
    let a = write_npy(dir.path(), "a.npy", &[2], &[0.5, 0.5]);
    let b = write_npy(dir.path(), "b.npy", &[3], &[0.25, 0.25, 0.5]);
    let v = json_of(&otto(&[
        "ot",
        "emd",
        "--cost",
        s(&c),
        "--a",
        s(&a),
        "--b",
        s(&b),
        "--json",
    ]));
    assert!((v["cost"].as_f64().unwrap() - 0.25).abs() < 1e-14, "{v}");
    assert_eq!(v["solver"], "network_simplex");
    assert!(v["w2"].is_null());
}

#[test]
fn sinkhorn_is_above_the_exact_cost_and_converges() {
    // Truth: the entropic plan is a feasible coupling, so its transport cost ≥ the exact optimum
    // (brute force); with a small ε it is close to it.
    let dir = tempfile::tempdir().unwrap();
    let (x, y, _) = clouds(dir.path());
    let exact = json_of(&otto(&["ot", "emd", "--x", s(&x), "--y", s(&y), "--json"]));
    let v = json_of(&otto(&[
        "ot",
        "sinkhorn",
        "--x",
        s(&x),
        "--y",
        s(&y),
        "--eps",
        "0.01",
        "--json",
    ]));
    let (e, t) = (
        exact["cost"].as_f64().unwrap(),
        v["transport_cost"].as_f64().unwrap(),
    );
    assert_eq!(v["status"], "converged", "{v}");
    assert!(t >= e - 1e-9 && t < e + 0.05, "{t} vs {e}");
    let u = json_of(&otto(&[
        "ot",
        "sinkhorn",
        "--x",
        s(&x),
        "--y",
        s(&y),
        "--eps",
        "0.01",
        "--unbalanced",
        "1.0",
        "--json",
    ]));
    assert!(u["objective"].as_f64().unwrap() <= v["objective"].as_f64().unwrap() + 1e-9);
}

#[test]
fn w2_methods_agree_on_a_translation() {
    // Truth: for y = x + δ, W2 = ‖δ‖ exactly (translation is the OT map), the debiased Sinkhorn
    // divergence of a translation is ‖δ‖² too (Feydy et al. 2019, translation property), and the
    // sliced distance is ‖δ‖/√d.
    let dir = tempfile::tempdir().unwrap();
    let xs: Vec<f64> = (0..40).map(|k| ((k * 7919) % 37) as f64 / 11.0).collect();
    let ys: Vec<f64> = xs
        .iter()
        .enumerate()
        .map(|(k, v)| v + if k % 2 == 0 { 3.0 } else { 4.0 })
        .collect();
    let x = write_npy(dir.path(), "x.npy", &[20, 2], &xs);
    let y = write_npy(dir.path(), "y.npy", &[20, 2], &ys);
    let get = |m: &str| {
        json_of(&otto(&[
            "ot",
            "w2",
            "--x",
            s(&x),
            "--y",
            s(&y),
            "--method",
            m,
            "--json",
        ]))["w2"]
            .as_f64()
            .unwrap()
    };
    assert!((get("exact") - 5.0).abs() < 1e-12);
    assert!((get("sinkhorn") - 5.0).abs() < 1e-3, "{}", get("sinkhorn"));
    let sliced = get("sliced");
    assert!((sliced - 5.0 / 2f64.sqrt()).abs() < 0.3, "{sliced}");
}

#[test]
fn gaussian_closed_form_oracle() {
    // Truth: MATH.md §3 oracle W2² = 5.553301412770.
    let dir = tempfile::tempdir().unwrap();
    let m0 = write_npy(dir.path(), "m0.npy", &[2], &[0.0, 0.0]);
    let a = write_npy(dir.path(), "a.npy", &[2, 2], &[2.0, 0.5, 0.5, 1.0]);
    let m1 = write_npy(dir.path(), "m1.npy", &[2], &[1.0, 2.0]);
    let b = write_npy(dir.path(), "b.npy", &[2, 2], &[1.0, -0.3, -0.3, 0.5]);
    let v = json_of(&otto(&[
        "ot",
        "gaussian",
        "--m0",
        s(&m0),
        "--cov0",
        s(&a),
        "--m1",
        s(&m1),
        "--cov1",
        s(&b),
        "--sigma",
        "1",
        "--json",
    ]));
    assert!(
        (v["w2_squared"].as_f64().unwrap() - 5.553301412770).abs() < 1e-10,
        "{v}"
    );
    assert_eq!(v["geodesic_mean"][1].as_f64().unwrap(), 1.0);
}

#[test]
fn bad_inputs_give_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = write_npy(d, "good.npy", &[3, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let nan = write_npy(d, "nan.npy", &[3, 2], &[0.0, 1.0, f64::NAN, 3.0, 4.0, 5.0]);
    let three_d = write_npy(d, "3d.npy", &[3, 3], &[0.0; 9]);
    let neg = write_npy(d, "neg.npy", &[3], &[0.5, -0.1, 0.6]);
    let short = write_npy(d, "short.npy", &[2], &[0.5, 0.5]);
    let heavy = write_npy(d, "heavy.npy", &[3], &[0.5, 0.5, 0.5]);
    let text = d.join("text.npy");
    std::fs::write(&text, "not numpy").unwrap();
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["ot", "emd", "--x", s(&nan), "--y", s(&good)],
            &["nan.npy", "non-finite"],
        ),
        (
            vec!["ot", "emd", "--x", s(&good), "--y", s(&three_d)],
            &["3d.npy", "dimensional"],
        ),
        (
            vec![
                "ot",
                "emd",
                "--x",
                s(&good),
                "--y",
                s(&good),
                "--a",
                s(&neg),
            ],
            &["neg.npy", "negative"],
        ),
        (
            vec![
                "ot",
                "emd",
                "--x",
                s(&good),
                "--y",
                s(&good),
                "--a",
                s(&short),
            ],
            &["short.npy", "2 weights"],
        ),
        (
            vec![
                "ot",
                "emd",
                "--x",
                s(&good),
                "--y",
                s(&good),
                "--a",
                s(&heavy),
            ],
            &["different mass", "differ by"],
        ),
        (
            vec!["ot", "emd", "--x", s(&text), "--y", s(&good)],
            &["text.npy", "not a valid .npy"],
        ),
        (
            vec!["ot", "emd", "--x", "missing.npy", "--y", s(&good)],
            &["missing.npy"],
        ),
        (
            vec![
                "ot",
                "sinkhorn",
                "--x",
                s(&good),
                "--y",
                s(&good),
                "--eps=-1",
            ],
            &["eps"],
        ),
        (
            vec![
                "ot",
                "w2",
                "--x",
                s(&good),
                "--y",
                s(&good),
                "--method",
                "sliced",
                "--projections",
                "0",
            ],
            &["projections"],
        ),
    ];
    for (args, needles) in cases {
        let err = stderr_of(&otto(&args));
        for n in needles {
            assert!(err.contains(n), "{args:?}: '{err}' lacks '{n}'");
        }
    }
}

#[test]
fn demo_writes_plot_metrics_and_arrays() {
    // Truth: the exact W2 the demo reports equals the one `otto ot w2` computes on the clouds it
    // saved, and the files are complete (the PNG decodes as a PNG of the requested size).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let v = json_of(&otto(&[
        "ot",
        "demo",
        "--n",
        "60",
        "--out",
        s(&out),
        "--json",
    ]));
    for f in [
        "ot_plans.png",
        "metrics.json",
        "x.npy",
        "y.npy",
        "plan_exact.npy",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let png = std::fs::read(out.join("ot_plans.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (x, y) = (out.join("x.npy"), out.join("y.npy"));
    let w = json_of(&otto(&["ot", "w2", "--x", s(&x), "--y", s(&y), "--json"]));
    assert!((w["w2"].as_f64().unwrap() - v["w2_exact"].as_f64().unwrap()).abs() < 1e-12);
    assert!(v["w2_sinkhorn_divergence"].as_f64().unwrap() > 0.0);
}

#[test]
fn solvers_reach_their_orders_on_the_oracle_field() {
    // Truth: the theoretical orders of Euler and DDIM (1), midpoint, Heun, DPM-Solver++ 2M/2S
    // and EDM Heun (2), DPM-Solver++ 3M and UniPC-2 (3) and RK4 (4), measured against the exact
    // flow of the closed-form Gaussian-mixture field (reference: RK4 at 8192 steps, whose own
    // error the command reports) over 64–512 steps, where this stiff 8-component field is in the
    // asymptotic regime (over 16–512 the multistep samplers fit 0.2–0.5 low: 2M 1.72, UniPC 2.47).
    // Measured: all within 0.15 of theory; tolerance 0.15 for the ODE solvers as in the library
    // tests, 0.2 for the multistep diffusion samplers (2M 1.89, 2S 1.86).
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("solvers.png");
    let v = json_of(&otto(&[
        "solvers",
        "--n",
        "64",
        "--steps",
        "64,128,256,512",
        "--png",
        s(&png),
        "--json",
    ]));
    assert!(v["reference_error"].as_f64().unwrap() < 1e-10);
    let mut seen = 0;
    for row in v["rows"].as_array().unwrap() {
        if let Some(order) = row["fitted_order"].as_f64() {
            let theory = row["theoretical_order"].as_f64().unwrap();
            let ode =
                ["euler", "midpoint", "heun", "rk4"].contains(&row["solver"].as_str().unwrap());
            let tolerance = if ode { 0.15 } else { 0.2 };
            assert!((order - theory).abs() < tolerance, "{row}");
            seen += 1;
        }
    }
    assert_eq!(seen, 10);
    assert!(png.exists());
}

#[test]
fn killed_run_resumes_bit_for_bit() {
    // Truth: determinism — a run killed (SIGKILL) after a checkpoint and resumed with
    // `--resume` ends with byte-identical weights and log to the same run left uninterrupted
    // (same seed, same thread count); for SF2M, its score network's weights and moments too.
    for method in ["i-cfm", "sf2m"] {
        resumes_bit_for_bit(method);
    }
}

/// Runs otto with `args`, kills it (SIGKILL) as soon as `checkpoint` (a checkpoint.json) exists,
/// and returns the step that checkpoint holds.
fn killed_at_first_checkpoint(args: &[String], checkpoint: &Path) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_otto"))
        .args(args)
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !checkpoint.exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let info: Value = serde_json::from_str(&std::fs::read_to_string(checkpoint).unwrap()).unwrap();
    info["step"].as_u64().unwrap()
}

fn resumes_bit_for_bit(method: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "--method",
            method,
            "--steps",
            "3000",
            "--checkpoint-every",
            "300",
            "--quiet",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_str().unwrap().to_string()])
        .collect()
    };
    let whole = Command::new(env!("CARGO_BIN_EXE_otto"))
        .args(args(&a))
        .output()
        .unwrap();
    assert!(
        whole.status.success(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    assert!(
        killed_at_first_checkpoint(&args(&b), &b.join("checkpoint.json")) < 3000,
        "the run finished before it was killed"
    );
    let resumed = otto(&["train", "--resume", s(&b), "--quiet"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    // checkpoint.safetensors holds the weights and AdamW's moments (model.safetensors holds the same
    // weights, but its metadata header is a hash map whose key order varies between processes).
    for f in ["log.jsonl", "checkpoint.safetensors"] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{method}: {f} differs"
        );
    }
    // checkpoint.json: the same step, random-stream position and AdamW steps; only the wall time
    // differs, and the resumed run's counts both of its sessions.
    let info = |dir: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("checkpoint.json")).unwrap())
            .unwrap()
    };
    let (mut whole_info, mut resumed_info) = (info(&a), info(&b));
    for info in [&whole_info, &resumed_info] {
        assert!(
            info["train_seconds"].as_f64().unwrap() > 0.0,
            "{method}: {info}"
        );
    }
    whole_info.as_object_mut().unwrap().remove("train_seconds");
    resumed_info
        .as_object_mut()
        .unwrap()
        .remove("train_seconds");
    assert_eq!(
        whole_info, resumed_info,
        "{method}: checkpoint.json differs"
    );
    assert_eq!(b.join("score.safetensors").exists(), method == "sf2m");
}

#[test]
fn diverging_training_stops_with_one_line_and_keeps_the_checkpoint() {
    // Truth: with a learning rate of 1e9 the weights overflow within a few steps; the trainer must
    // stop with one clear line naming the last good checkpoint (checkpoint every step), which
    // must be the one left on disk.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let err = stderr_of(&otto(&[
        "train",
        "--method",
        "i-cfm",
        "--steps",
        "500",
        "--lr",
        "1e9",
        "--checkpoint-every",
        "1",
        "--quiet",
        "--out",
        s(&out),
    ]));
    assert!(err.contains("the loss became"), "{err}");
    // The message names the last good checkpoint, and that is the one on disk.
    let kept: u64 = err
        .split("checkpoint (step ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|k| k.parse().ok())
        .expect("the message names the checkpoint step");
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint.json")).unwrap())
            .unwrap();
    assert_eq!(info["step"].as_u64().unwrap(), kept);
    assert!(out.join("model.safetensors").exists());
}

#[test]
fn train_sample_eval_plot_end_to_end() {
    // Truth: a short OT-CFM run must move 8gaussians towards moons: its samples are closer in W2
    // to held-out moons than the source itself is (computed by the same exact solver).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let train = otto(&[
        "train",
        "--steps",
        "300",
        "--batch",
        "256",
        "--quiet",
        "--out",
        s(&out),
    ]);
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let v = json_of(&otto(&["eval", "--run", s(&out), "--n", "500", "--json"]));
    let w2 = v["w2"].as_f64().unwrap();
    let baseline = v["w2_squared_source_target"].as_f64().unwrap().sqrt();
    assert!(w2 < 0.5 * baseline, "{w2} vs {baseline}");
    let samples = json_of(&otto(&[
        "sample",
        "--run",
        s(&out),
        "--n",
        "100",
        "--solver",
        "rk4",
        "--steps",
        "20",
        "--json",
    ]));
    assert_eq!(samples["nfe"], 80);
    let plots = otto(&["plot", "--run", s(&out), "--n", "200"]);
    assert!(
        plots.status.success(),
        "{}",
        String::from_utf8_lossy(&plots.stderr)
    );
    for f in ["samples.png", "trajectories.png", "field.png", "loss.png"] {
        assert!(out.join("plots").join(f).exists(), "{f}");
    }
    let em = stderr_of(&otto(&["sample", "--run", s(&out), "--solver", "em"]));
    assert!(em.contains("affine Gaussian path"), "{em}");
    let em = stderr_of(&otto(&[
        "sample",
        "--run",
        s(&out),
        "--solver",
        "em",
        "--g",
        "0.5",
    ]));
    assert!(em.contains("score"), "{em}");
}

#[test]
fn demo_trains_evaluates_and_plots() {
    // Truth: the generated points must be closer in exact W2 to held-out moons than the
    // 8gaussians source is (the W2 of the untrained identity map), and every advertised file exists.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let v = json_of(&otto(&[
        "demo",
        "--steps",
        "300",
        "--n-eval",
        "300",
        "--quiet",
        "--out",
        s(&out),
        "--json",
    ]));
    let w2 = v["w2"].as_f64().unwrap();
    let baseline = v["w2_squared_source_target"].as_f64().unwrap().sqrt();
    assert!(w2 < 0.5 * baseline, "{w2} vs {baseline}");
    for f in [
        "config.toml",
        "model.safetensors",
        "metrics.json",
        "log.jsonl",
        "samples.npy",
        "plots/samples.png",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    // The two recipes write what they claim into the run's configuration.
    assert_eq!(
        (v["recipe"].as_str(), v["sigma"].as_f64()),
        (Some("default"), Some(0.01))
    );
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("cosine = true"), "{config}");
    let published = json_of(&otto(&[
        "demo",
        "--published",
        "--steps",
        "50",
        "--n-eval",
        "50",
        "--quiet",
        "--out",
        s(&out),
        "--json",
    ]));
    assert_eq!(published["sigma"].as_f64(), Some(0.1));
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("cosine = false"), "{config}");
}

#[test]
fn command_line_mistakes_are_one_line_with_exit_code_two() {
    // Truth: clap's own checks (unknown flag, bad number, missing flag, unknown command) end in
    // one line naming the flag, exit status 2 — and help still prints in full with status 0.
    for (args, expected) in [
        (vec!["train", "--stepz", "3"], "'--steps'"),
        (vec!["train", "--steps", "x"], "'x' for '--steps <STEPS>'"),
        (vec!["sample"], "--run <DIR>"),
        (vec!["frob"], "'frob'"),
    ] {
        let out = otto(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr_of(&out);
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{args:?}: {err}"
        );
    }
    let help = otto(&["train", "--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--steps"));
}

#[test]
fn data_writes_the_library_draw_and_names_bad_sets() {
    // Truth: the file holds exactly `Toy::sample(n, seed)` (float64, n × d, C order), and the
    // same seed writes the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.npy");
    let write = || {
        let o = otto(&[
            "data",
            "gaussian:3",
            "--n",
            "250",
            "--seed",
            "7",
            "--out",
            s(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(&out).unwrap()
    };
    let bytes = write();
    assert_eq!(bytes, write());
    let file = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(file.shape(), &[250, 3]);
    let values: Vec<f64> = file.into_vec().unwrap();
    let want = otto::data::Toy::Gaussian { dim: 3 }.sample(250, 7);
    assert_eq!(values, want.as_slice());
    let err = stderr_of(&otto(&["data", "moon", "--out", s(&out)]));
    assert!(err.contains("'moon'") && err.contains("dsb-moons"), "{err}");
}

#[test]
fn diffusion_samplers_on_a_mixture_file_and_a_ddpm_run() {
    // Truth: EDM Heun with N steps ending at σ = 0 makes 2N − 1 evaluations (Karras et al. 2022);
    // the end points of a short ddpm run sampled by DPM-Solver++(2M) in 20 steps are closer in W2
    // to held-out moons than its N(0, I) source is; bad input is one line.
    let dir = tempfile::tempdir().unwrap();
    let gmm = dir.path().join("g.json");
    std::fs::write(
        &gmm,
        r#"{"weights": [0.5, 0.5], "means": [[1, 0, 0], [-1, 0.5, 0]],
            "covariances": [[[0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]], [[0.2, 0, 0], [0, 0.2, 0], [0, 0, 0.2]]]}"#,
    )
    .unwrap();
    let end = dir.path().join("end.npy");
    let v = json_of(&otto(&[
        "solvers",
        "--gmm",
        s(&gmm),
        "--schedule",
        "edm",
        "--solver",
        "edm-heun",
        "--steps",
        "18",
        "--n",
        "50",
        "--out",
        s(&end),
        "--json",
    ]));
    assert_eq!(v["nfe"], 35);
    assert_eq!(
        (v["t_start"].as_f64(), v["t_end"].as_f64()),
        (Some(0.0), Some(1.0))
    );
    let again = json_of(&otto(&[
        "solvers",
        "--gmm",
        s(&gmm),
        "--schedule",
        "vp-cosine",
        "--solver",
        "dpmpp-3m",
        "--x0",
        s(&end),
        "--steps",
        "10",
        "--json",
    ]));
    assert_eq!(
        (again["n"].as_u64(), again["nfe"].as_u64()),
        (Some(50), Some(10))
    );
    let bad = stderr_of(&otto(&["solvers", "--schedule", "vp-cos"]));
    assert!(bad.contains("vp-cosine, sub-vp, ve, edm"), "{bad}");
    let nan = write_npy(dir.path(), "nan.npy", &[2, 2], &[0.0, f64::NAN, 1.0, 2.0]);
    let bad = stderr_of(&otto(&["solvers", "--solver", "ddim", "--x0", s(&nan)]));
    assert!(
        bad.contains("nan.npy") && bad.contains("non-finite"),
        "{bad}"
    );
    let bad = stderr_of(&otto(&["solvers", "--solver", "ddim", "--x0", s(&end)]));
    assert!(bad.contains("dimension 3"), "{bad}");
    let bad = stderr_of(&otto(&["solvers", "--out", "study.png"]));
    assert!(
        bad.contains("--out study.png") && bad.contains("--png"),
        "{bad}"
    );

    let run = dir.path().join("ddpm");
    let train = otto(&[
        "train",
        "--method",
        "ddpm",
        "--target",
        "moons",
        "--steps",
        "2000",
        "--batch",
        "256",
        "--quiet",
        "--out",
        s(&run),
    ]);
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let samples = dir.path().join("samples.npy");
    let v = json_of(&otto(&[
        "sample",
        "--run",
        s(&run),
        "--solver",
        "dpmpp-2m",
        "--steps",
        "20",
        "--n",
        "500",
        "--out",
        s(&samples),
        "--json",
    ]));
    assert_eq!(v["nfe"], 20);
    let moons = dir.path().join("moons.npy");
    let noise = dir.path().join("noise.npy");
    data("moons", 500, 7, &moons);
    data("gaussian", 500, 8, &noise);
    let w2 = |x: &Path| w2(x, &moons);
    let (model, baseline) = (w2(&samples), w2(&noise));
    assert!(model < 0.6 * baseline, "{model} vs {baseline}");
    for solver in [
        "ddim",
        "edm-heun",
        "pc",
        "em",
        "dpmpp-2m-sde",
        "dpmpp-2s",
        "unipc",
    ] {
        let v = json_of(&otto(&[
            "sample",
            "--run",
            s(&run),
            "--solver",
            solver,
            "--steps",
            "10",
            "--n",
            "50",
            "--out",
            s(&samples),
            "--json",
        ]));
        assert!(v["nfe"].as_u64().unwrap() >= 10, "{solver}: {v}");
    }
}

#[test]
fn every_diffusion_method_trains_and_samples_and_bad_axes_are_refused() {
    // Truth: each method must move N(0, I) towards moons: its samples are closer in exact W2 to
    // held-out moons than the noise is, sampled by DPM-Solver++(2M) in 20 steps: edm and vp-v
    // after 3000 steps at batch 256 (measured 0.54 and 0.63 vs 2.03), score-ve — a raw score
    // output over noise levels up to σ_max ≈ 9 — after 10 000 (measured 0.77). `otto eval`
    // reports a finite test NLL.
    let dir = tempfile::tempdir().unwrap();
    let moons = dir.path().join("moons.npy");
    let noise = dir.path().join("noise.npy");
    let samples = dir.path().join("samples.npy");
    data("moons", 1000, 7, &moons);
    data("gaussian", 1000, 8, &noise);
    let w2 = |x: &Path| w2(x, &moons);
    let baseline = w2(&noise);
    let cases = [
        ("edm", "3000", "256", "dpmpp-2m", "20", 0.5),
        ("vp-v", "3000", "256", "dpmpp-2m", "20", 0.5),
        ("score-ve", "10000", "256", "dpmpp-2m", "20", 0.6),
    ];
    for (method, steps, batch, solver, solver_steps, bound) in cases {
        let run = dir.path().join(method);
        let train = otto(&[
            "train",
            "--method",
            method,
            "--target",
            "moons",
            "--steps",
            steps,
            "--batch",
            batch,
            "--quiet",
            "--out",
            s(&run),
        ]);
        assert!(
            train.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&train.stderr)
        );
        json_of(&otto(&[
            "sample",
            "--run",
            s(&run),
            "--solver",
            solver,
            "--steps",
            solver_steps,
            "--n",
            "1000",
            "--out",
            s(&samples),
            "--json",
        ]));
        let model = w2(&samples);
        assert!(
            model < bound * baseline,
            "{method}: W2 {model} vs noise {baseline}"
        );
        let v = json_of(&otto(&["eval", "--run", s(&run), "--n", "500", "--json"]));
        assert!(
            v["test_nll_nats"].as_f64().unwrap().is_finite(),
            "{method}: {v}"
        );
    }
    for (args, needle) in [
        (
            &["--method", "ddpm", "--predict", "eps"][..],
            "prediction target = eps: expected one of velocity, score, noise, data, v",
        ),
        (
            &["--method", "i-cfm", "--predict", "noise"][..],
            "diffusion methods",
        ),
        (
            &["--method", "edm", "--weighting", "sigma2"][..],
            "preconditioning",
        ),
        (
            &["--method", "vp-v", "--schedule", "cosine"][..],
            "vp-cosine",
        ),
        (&["--method", "ddim"][..], "score-ve, edm, vp-v"),
        (
            &["--method", "ddpm", "--sigma-max", "10"][..],
            "only the ve and edm",
        ),
    ] {
        let out = dir.path().join("bad");
        let err = stderr_of(&otto(
            &[&["train", "--steps", "1", "--out", s(&out)], args].concat(),
        ));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn compare_trains_every_method_and_writes_one_table() {
    // Truth: the protocol's own numbers must be consistent with the runs it wrote — each method's
    // W2 in compare.json equals `otto eval` on its run directory with the same settings (same
    // seeds: the evaluation is deterministic), every W2–NFE entry is finite, and the diffusion
    // method carries curves for its three samplers. Bad method names list the valid ones.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let v = json_of(&otto(&[
        "compare",
        "--methods",
        "ddpm,i-cfm",
        "--steps",
        "300",
        "--n",
        "300",
        "--nfe",
        "4,10",
        "--quiet",
        "--out",
        s(&out),
        "--json",
    ]));
    let methods = v["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 2);
    for m in methods {
        let name = m["method"].as_str().unwrap();
        let eval = json_of(&otto(&[
            "eval",
            "--run",
            s(&out.join(name)),
            "--n",
            "300",
            "--json",
        ]));
        assert_eq!(eval["w2"], m["w2"], "{name}");
        let curves = m["w2_vs_nfe"].as_array().unwrap();
        assert_eq!(curves.len(), if name == "ddpm" { 6 } else { 2 }, "{name}");
        assert!(curves.iter().all(|c| c["w2"].as_f64().unwrap().is_finite()));
        assert!(m["test_nll_nats"].as_f64().unwrap().is_finite());
    }
    for f in ["compare.json", "compare.md", "compare.png"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains("| ddpm |") && md.contains("| i-cfm |"), "{md}");
    let err = stderr_of(&otto(&[
        "compare",
        "--methods",
        "ddpm,flow",
        "--out",
        s(&out),
    ]));
    assert!(
        err.contains("'flow'") && err.contains("sf2m, reflow, ddpm"),
        "{err}"
    );
}

#[test]
fn an_interrupted_comparison_resumes_to_the_uninterrupted_table() {
    // Truth: the same comparison left uninterrupted. Killed after its run's first checkpoint and
    // continued with --resume, it reports the same metrics to the bit (the run resumes bit for
    // bit, the evaluation is seeded); resumed again once finished, it trains nothing (the weights'
    // file is not rewritten) and reports the same training time; a --resume with other settings
    // is refused with one line naming what differs.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let args = |out: &Path, steps: &str, extra: &[&str]| -> Vec<String> {
        let base = [
            "compare",
            "--methods",
            "i-cfm",
            "--steps",
            steps,
            "--n",
            "200",
        ];
        let tail = ["--nfe", "4,10", "--quiet", "--json", "--out", s(out)];
        base.iter()
            .chain(extra)
            .chain(&tail)
            .map(|a| a.to_string())
            .collect()
    };
    let compare = |out: &Path, steps: &str, extra: &[&str]| {
        let args = args(out, steps, extra);
        otto(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // The row without its wall times (the only fields that may differ).
    let metrics = |v: &Value| -> Value {
        let mut row = v["methods"][0].clone();
        let row_map = row.as_object_mut().unwrap();
        row_map.retain(|k, _| !k.ends_with("time_s"));
        for point in row_map["w2_vs_nfe"].as_array_mut().unwrap() {
            point.as_object_mut().unwrap().remove("time_s");
        }
        row
    };
    let whole = json_of(&compare(&a, "6000", &[]));
    let checkpoint = b.join("i-cfm").join("checkpoint.json");
    assert!(
        killed_at_first_checkpoint(&args(&b, "6000", &[]), &checkpoint) < 6000,
        "the comparison finished training before it was killed"
    );
    let resumed = json_of(&compare(&b, "6000", &["--resume"]));
    assert_eq!(metrics(&resumed), metrics(&whole));
    let train_time = resumed["methods"][0]["train_time_s"].as_f64().unwrap();
    assert!(train_time > 0.0);
    let weights = b.join("i-cfm").join("model.safetensors");
    let written = std::fs::metadata(&weights).unwrap().modified().unwrap();
    let again = json_of(&compare(&b, "6000", &["--resume"]));
    assert_eq!(metrics(&again), metrics(&whole));
    assert_eq!(
        again["methods"][0]["train_time_s"].as_f64(),
        Some(train_time)
    );
    assert_eq!(
        std::fs::metadata(&weights).unwrap().modified().unwrap(),
        written
    );
    let err = stderr_of(&compare(&b, "500", &["--resume"]));
    assert!(
        err.contains("there: steps = 6000") && err.contains("here: steps = 500"),
        "{err}"
    );
}

#[test]
fn resuming_before_the_first_checkpoint_says_so_once() {
    // Truth: the documented message for a run killed before its first checkpoint (simulated by
    // removing the checkpoint files of a finished run), on one line, with no repeated I/O error.
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let train = otto(&[
        "train",
        "--steps",
        "20",
        "--batch",
        "64",
        "--quiet",
        "--out",
        s(&run),
    ]);
    assert!(train.status.success());
    std::fs::remove_file(run.join("checkpoint.json")).unwrap();
    std::fs::remove_file(run.join("checkpoint.safetensors")).unwrap();
    let err = stderr_of(&otto(&["train", "--resume", s(&run)]));
    assert!(err.contains("no checkpoint yet"), "{err}");
    assert!(!err.contains("os error"), "{err}");
}

#[test]
fn points_whose_squared_distances_overflow_are_refused_by_file() {
    // Truth: |x − y|² overflows f64 beyond √(f64::MAX/4d) per coordinate; the error names the file
    // (for OT inputs and for training data) instead of a cost-matrix index.
    let dir = tempfile::tempdir().unwrap();
    let big = write_npy(dir.path(), "big.npy", &[2, 2], &[1e300, 0.0, 2e300, 1.0]);
    let y = write_npy(dir.path(), "y.npy", &[2, 2], &[0.0, 0.0, 1.0, 1.0]);
    for args in [
        vec!["ot", "emd", "--x", s(&big), "--y", s(&y)],
        vec!["ot", "w2", "--x", s(&big), "--y", s(&y)],
        vec![
            "train",
            "--target",
            s(&big),
            "--steps",
            "1",
            "--out",
            s(dir.path()),
        ],
    ] {
        let err = stderr_of(&otto(&args));
        assert!(
            err.contains("big.npy") && err.contains("overflow"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn sb_cfm_and_the_coupling_axis_from_the_command_line() {
    // Truth: SB-CFM (entropic coupling ε = 2σ², Brownian bridge), OT-CFM with the plan's
    // permutation and SF2M (exact coupling, bridge, flow and score networks) must move N(0, I) towards
    // moons: W2 to held-out points below half the noise's (measured after 2000 steps: 0.36, 0.36,
    // 0.35 against 2.04); their likelihood is finite (the bridge's p_0 is the source itself). SF2M's
    // SDE (g = σ by default, the score from its second head) lands there too (measured 0.39 at
    // 3000 steps); an ODE-only run asked for the SDE says what is missing. Bad axes are one line
    // naming the valid choices.
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("sb", vec!["--method", "sb-cfm", "--sigma", "0.5"]),
        (
            "perm",
            vec!["--method", "ot-cfm", "--coupling", "exact-ot-permutation"],
        ),
        ("sf2m", vec!["--method", "sf2m", "--sigma", "0.5"]),
    ] {
        let run = dir.path().join(name);
        let mut all = vec![
            "train",
            "--source",
            "gaussian",
            "--target",
            "moons",
            "--steps",
            "2000",
            "--batch",
            "256",
            "--quiet",
            "--out",
            s(&run),
        ];
        all.extend(args);
        let train = otto(&all);
        assert!(
            train.status.success(),
            "{}",
            String::from_utf8_lossy(&train.stderr)
        );
        let v = json_of(&otto(&["eval", "--run", s(&run), "--n", "500", "--json"]));
        let (w2, baseline) = (
            v["w2"].as_f64().unwrap(),
            v["w2_squared_source_target"].as_f64().unwrap().sqrt(),
        );
        assert!(w2 < 0.5 * baseline, "{name}: {w2} vs {baseline}");
        assert!(
            v["test_nll_nats"].as_f64().unwrap().is_finite(),
            "{name}: {v}"
        );
    }
    let samples = dir.path().join("sde.npy");
    let trajectory = dir.path().join("sde-path.npy");
    let moons = dir.path().join("moons.npy");
    data("moons", 500, 7, &moons);
    json_of(&otto(&[
        "sample",
        "--run",
        s(&dir.path().join("sf2m")),
        "--solver",
        "sde",
        "--steps",
        "100",
        "--n",
        "500",
        "--out",
        s(&samples),
        "--trajectory",
        s(&trajectory),
        "--json",
    ]));
    let w2 = w2(&samples, &moons);
    assert!(w2 < 1.0, "SF2M SDE samples: W2 {w2}");
    // The recorded path: 101 states of 500 × 2 at t = 10⁻³ (SF2M's start, where the bridge's
    // score is finite) … 1 in uniform steps; its last state is the sample file itself and its
    // first the source's N(0, I) draw (moments within 5 s.e. for 1000 coordinates).
    let (shape, states) = read_npy(&trajectory);
    assert_eq!(shape, vec![101, 500, 2]);
    let (_, times) = read_npy(&trajectory.with_extension("times.npy"));
    assert_eq!(times.len(), 101);
    assert_eq!((times[0], times[100]), (1e-3, 1.0));
    assert!((times[50] - (1e-3 + 0.5 * (1.0 - 1e-3))).abs() < 1e-12);
    assert_eq!(&states[100 * 1000..], &read_npy(&samples).1[..]);
    let first = &states[..1000];
    let mean = first.iter().sum::<f64>() / 1000.0;
    let var = first.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 1000.0;
    assert!(
        mean.abs() < 0.16 && (var - 1.0).abs() < 0.23,
        "{mean} {var}"
    );
    let err = stderr_of(&otto(&[
        "sample",
        "--run",
        s(&dir.path().join("sf2m")),
        "--solver",
        "dopri5",
        "--trajectory",
        s(&trajectory),
    ]));
    assert!(err.contains("euler, midpoint, heun, rk4"), "{err}");
    // A run without SF2M's score network (as an older otto's two-headed runs) says so by file.
    std::fs::remove_file(dir.path().join("sf2m").join("score.safetensors")).unwrap();
    let err = stderr_of(&otto(&["sample", "--run", s(&dir.path().join("sf2m"))]));
    assert!(
        err.contains("score.safetensors") && err.contains("train it again"),
        "{err}"
    );
    let err = stderr_of(&otto(&[
        "sample",
        "--run",
        s(&dir.path().join("perm")),
        "--solver",
        "sde",
    ]));
    assert!(err.contains("score"), "{err}");
    for (args, needle) in [
        (&["--method", "sf2m", "--sigma", "0"][..], "σ > 0"),
        (&["--method", "sb-cfm", "--sigma", "0"][..], "σ > 0"),
        (
            &["--coupling", "sinkhorn-ot"][..],
            "exact-ot-permutation, sinkhorn",
        ),
        (
            &["--method", "ddpm", "--coupling", "exact-ot"][..],
            "pair noise with data independently",
        ),
    ] {
        let out = dir.path().join("bad");
        let err = stderr_of(&otto(
            &[&["train", "--steps", "1", "--out", s(&out)], args].concat(),
        ));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn reflow_straightens_the_independent_coupling() {
    // Truth: MATH.md §8 — for I-CFM (σ = 0) from N(0, 1) to N(0, 1) the exact marginal flow has
    // straightness 2 − π/2 = 0.4292 (its kinetic energy; the map itself is the identity), and after
    // one reflow the coupling is monotone and S = 0. A 3×64 network after 10 000 steps measures
    // 0.418 (tolerance 0.04 for the learned field), the reflow 4e-7 (tolerance 0.01); the reflow
    // sampled in one Euler step lands where 100 steps do (W2 between the two sets < 0.05).
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("1rf"), dir.path().join("2rf"));
    let train = otto(&[
        "train",
        "--method",
        "i-cfm",
        "--source",
        "gaussian:1",
        "--target",
        "gaussian:1",
        "--sigma",
        "0",
        "--steps",
        "10000",
        "--batch",
        "512",
        "--quiet",
        "--out",
        s(&one),
    ]);
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let v = json_of(&otto(&["eval", "--run", s(&one), "--n", "5000", "--json"]));
    let s1 = v["straightness"].as_f64().unwrap();
    assert!(
        (s1 - (2.0 - std::f64::consts::FRAC_PI_2)).abs() < 0.04,
        "1-RF straightness {s1}"
    );
    let train = otto(&[
        "train",
        "--method",
        "reflow",
        "--from",
        s(&one),
        "--steps",
        "3000",
        "--batch",
        "256",
        "--quiet",
        "--out",
        s(&two),
    ]);
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    let v = json_of(&otto(&["eval", "--run", s(&two), "--n", "5000", "--json"]));
    let s2 = v["straightness"].as_f64().unwrap();
    assert!(s2.abs() < 0.01, "2-RF straightness {s2}");
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    for (steps, out) in [("1", &a), ("100", &b)] {
        json_of(&otto(&[
            "sample",
            "--run",
            s(&two),
            "--steps",
            steps,
            "--n",
            "2000",
            "--out",
            s(out),
            "--json",
        ]));
    }
    let w2 = w2(&a, &b);
    assert!(w2 < 0.05, "one step vs 100 steps: W2 {w2}");
    for (args, needle) in [
        (vec!["--method", "reflow"], "--from"),
        (
            vec!["--method", "reflow", "--from", "/no/such/run"],
            "/no/such/run",
        ),
    ] {
        let out = dir.path().join("bad");
        let err = stderr_of(&otto(
            &[&["train", "--steps", "1", "--out", s(&out)][..], &args].concat(),
        ));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

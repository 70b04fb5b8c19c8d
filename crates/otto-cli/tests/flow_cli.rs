//! End-to-end tests of `otto flow`: the OU oracle through `--json`, `compare`'s table and
//! picture, and one-line errors on bad input. Small grids keep each run well under a second.

mod common;

use common::{json_of, otto, s, stderr_of, write_npy};
use serde_json::Value;

#[test]
fn fp_reproduces_the_ou_oracle() {
    // Truth: MATH.md §6, N(2, 0.25) under V = x²/2, D = 1 at T = 1: mean 2e^{-1} = 0.735759,
    // variance 0.25e^{-2} + 1 − e^{-2} = 0.898499. The scheme is first order in time and second
    // in space: with Δt = 2·10⁻⁴ the mean is off by ≈ 1e-4 and Δx = 0.03 adds ≈ 1e-4 to the
    // variance; tolerance 1e-3 leaves room for both, far below the O(1) errors of a wrong flux.
    let dir = tempfile::tempdir().unwrap();
    let v = json_of(&otto(&[
        "flow",
        "fp",
        "--init",
        "gaussian:2,0.25",
        "--t-end",
        "1",
        "--h",
        "2e-4",
        "--json",
        "--out",
        s(dir.path()),
    ]));
    let mean = v["mean"][0].as_f64().unwrap();
    let var = v["variance"].as_f64().unwrap();
    assert!((mean - 0.735759).abs() < 1e-3, "mean {mean}");
    assert!((var - 0.898499).abs() < 1e-3, "variance {var}");
    assert!((v["mass"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    assert!(v["mean_error"].as_f64().unwrap() < 1e-3);
    // The free energy is recorded at every step in fp_summary.json (stdout keeps a summary: its
    // first and last values and their count) and decreases (FP is its gradient flow), and the KL
    // to the Gibbs state is positive at T = 1 (not yet at equilibrium).
    assert!(
        v.get("free_energy").is_none(),
        "stdout holds no per-step series"
    );
    assert_eq!(v["free_energy_values"].as_u64(), Some(5001));
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("fp_summary.json")).unwrap())
            .unwrap();
    let f: Vec<f64> = file["free_energy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(f.len(), 5001);
    assert!(f.windows(2).all(|w| w[1] <= w[0] + 1e-12));
    assert!(v["kl_to_gibbs"].as_f64().unwrap() > 0.0);
    for file in [
        "fp_densities.npy",
        "fp_times.npy",
        "fp_snapshots.png",
        "fp_energy.png",
        "fp_summary.json",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
}

#[test]
fn compare_prints_one_table_and_one_overlay_plot() {
    // A small 1-D problem: every scheme applies; the FP row is the closest to the reference.
    let dir = tempfile::tempdir().unwrap();
    let out = otto(&[
        "flow",
        "compare",
        "--grid",
        "120",
        "--particles",
        "2000",
        "--t-end",
        "0.5",
        "--out",
        s(dir.path()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for scheme in ["fp", "jko-gaussian", "entropic-jko", "langevin", "mala"] {
        assert!(
            text.lines().any(|l| l.starts_with(scheme)),
            "no row for {scheme}:\n{text}"
        );
    }
    assert!(text.contains("W2 to ref") && text.contains("W2 (exact 1-D OT)"));
    let png = dir.path().join("compare.png");
    assert!(
        std::fs::metadata(&png).unwrap().len() > 10_000,
        "compare.png is empty"
    );
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("compare.json")).unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let w2 = |k: usize| rows[k]["error_w2"].as_f64().unwrap();
    assert!((1..5).all(|k| w2(0) < w2(k)), "{rows:?}");
}

#[test]
fn compare_in_2d_writes_heat_maps_and_gifs() {
    let dir = tempfile::tempdir().unwrap();
    let v = json_of(&otto(&[
        "flow",
        "compare",
        "--dim",
        "2",
        "--grid",
        "48",
        "--potential",
        "quadratic:1,0.5,2",
        "--init",
        "gaussian:1,0.5",
        "--particles",
        "2000",
        "--t-end",
        "0.3",
        "--frames",
        "3",
        "--json",
        "--out",
        s(dir.path()),
    ]));
    assert_eq!(v["metric"], "SW2 (sliced W2, 256 directions)");
    assert_eq!(v["rows"].as_array().unwrap().len(), 5);
    for file in [
        "compare.png",
        "fp.gif",
        "entropic-jko.gif",
        "fp_snapshots.png",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
}

#[test]
fn bad_inputs_get_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = s(dir.path());
    let err = stderr_of(&otto(&[
        "flow",
        "fp",
        "--potential",
        "banana",
        "--out",
        out,
    ]));
    assert!(
        err.contains("unknown potential 'banana'") && err.contains("double-well"),
        "{err}"
    );
    let err = stderr_of(&otto(&["flow", "fp", "--grid", "10", "--out", out]));
    assert!(
        err.contains("too coarse") && err.contains("--grid 48"),
        "{err}"
    );
    let err = stderr_of(&otto(&["flow", "fp", "--diffusion", "-1", "--out", out]));
    assert!(err.contains("--diffusion"), "{err}");
    let bad = write_npy(dir.path(), "v.npy", &[50], &[0.0; 50]);
    let err = stderr_of(&otto(&[
        "flow",
        "fp",
        "--grid",
        "100",
        "--potential",
        s(&bad),
        "--out",
        out,
    ]));
    assert!(
        err.contains("expected shape [100]") && err.contains("got [50]"),
        "{err}"
    );
    let err = stderr_of(&otto(&[
        "flow",
        "fp",
        "--dim",
        "2",
        "--grid",
        "40",
        "--init",
        s(&bad),
        "--out",
        out,
    ]));
    assert!(err.contains("expected shape [40, 40]"), "{err}");
    let err = stderr_of(&otto(&[
        "flow",
        "jko-gaussian",
        "--potential",
        "double-well",
        "--out",
        out,
    ]));
    assert!(err.contains("quadratic"), "{err}");
    let err = stderr_of(&otto(&["flow", "fp", "--h", "-1", "--out", out]));
    assert!(err.contains("--h"), "{err}");
}

#[test]
fn a_npy_density_is_renormalized_with_a_warning() {
    // A Gaussian bump of mass ≈ 2√π on a 100-cell grid of [−6, 6]: the warning says by how much.
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<f64> = (0..100).map(|i| -6.0 + 0.12 * (i as f64 + 0.5)).collect();
    let rho: Vec<f64> = x
        .iter()
        .map(|v| 2.0 * (-(v - 1.0) * (v - 1.0)).exp())
        .collect();
    let init = write_npy(dir.path(), "rho.npy", &[100], &rho);
    let out = otto(&[
        "flow",
        "entropic-jko",
        "--grid",
        "100",
        "--init",
        s(&init),
        "--potential",
        "double-well",
        "--steps",
        "4",
        "--json",
        "--out",
        s(dir.path()),
    ]);
    let v = json_of(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("renormalized") && err.contains("3.5449"),
        "{err}"
    );
    assert_eq!(v["steps"], 4);
    assert!(v["kl_to_gibbs"].as_f64().unwrap() >= 0.0);
}

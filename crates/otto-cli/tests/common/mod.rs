//! Helpers shared by the CLI integration tests: run the binary, read its JSON or its one error
//! line, write .npy inputs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use npyz::WriterBuilder;
use serde_json::Value;

pub fn otto(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otto"))
        .args(args)
        .output()
        .expect("the otto binary runs")
}

pub fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "otto failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

pub fn stderr_of(out: &Output) -> String {
    assert!(!out.status.success(), "otto should have failed");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

pub fn write_npy<T: npyz::AutoSerialize + Copy>(
    dir: &Path,
    name: &str,
    shape: &[u64],
    data: &[T],
) -> PathBuf {
    let path = dir.join(name);
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(&path, buf).unwrap();
    path
}

/// A float64 .npy file's shape and values (row-major).
pub fn read_npy(path: &Path) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let file = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = file.shape().to_vec();
    (shape, file.into_vec().unwrap())
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `otto train ARGS --quiet --out OUT`, asserting success, and returns OUT.
pub fn train(out: &Path, args: &[&str]) -> PathBuf {
    let run = otto(&[&["train"], args, &["--quiet", "--out", s(out)]].concat());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out.to_path_buf()
}

/// `otto data NAME --n N --seed SEED --out FILE`, asserting success.
pub fn data(name: &str, n: usize, seed: u64, out: &Path) {
    let (n, seed) = (n.to_string(), seed.to_string());
    let status = otto(&["data", name, "--n", &n, "--seed", &seed, "--out", s(out)]).status;
    assert!(status.success(), "otto data {name} failed");
}

/// Exact W2 between the point sets in two .npy files (`otto ot w2 --json`).
pub fn w2(x: &Path, y: &Path) -> f64 {
    json_of(&otto(&["ot", "w2", "--x", s(x), "--y", s(y), "--json"]))["w2"]
        .as_f64()
        .expect("otto ot w2 reports w2")
}

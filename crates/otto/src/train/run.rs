//! A run directory (DESIGN.md "Runs and files"): `config.toml`, `model.safetensors`
//! (+ `ema.safetensors`), `checkpoint.safetensors` + `checkpoint.json` (optimizer state, step and
//! RNG position, for `--resume`), `metrics.json`, `log.jsonl` (one line per logged step),
//! `samples.npy`, `plots/*.png`. Every file is written atomically (temp file + rename), so an
//! interrupted run never leaves a truncated file behind.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Errors of run-directory input/output, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading or writing a file failed. (The message carries the I/O error; it is not also
    /// chained as a `source`, so that an error report names it once.)
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file exists but its content is not what the run expects.
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |error| RunError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Opens (creating if needed) the directory `root`.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self, RunError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io(&root))?;
        Ok(Self { root })
    }

    /// Opens an existing run directory (it must hold `config.toml`).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, RunError> {
        let root = root.into();
        let config = root.join("config.toml");
        if !config.is_file() {
            return Err(RunError::Invalid {
                path: root,
                reason: "not a run directory (no config.toml)".into(),
            });
        }
        Ok(Self { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of a file in the run.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes a file of the run atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), RunError> {
        write_atomic(&self.file(name), bytes)
    }

    /// Reads a text file of the run.
    pub fn read_to_string(&self, name: &str) -> Result<String, RunError> {
        let path = self.file(name);
        fs::read_to_string(&path).map_err(io(&path))
    }

    /// Appends one line to `log.jsonl` (flushed).
    pub fn append_log(&self, line: &str) -> Result<(), RunError> {
        let path = self.file("log.jsonl");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        writeln!(f, "{line}").map_err(io(&path))
    }

    /// Keeps only the lines of `log.jsonl` whose `"step"` is below `step` (used on resume, so a
    /// resumed run's log equals an uninterrupted run's).
    pub fn truncate_log(&self, step: usize) -> Result<(), RunError> {
        let path = self.file("log.jsonl");
        if !path.exists() {
            return Ok(());
        }
        let file = File::open(&path).map_err(io(&path))?;
        let mut kept = String::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(io(&path))?;
            let value: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| RunError::Invalid {
                    path: path.clone(),
                    reason: format!("a line is not JSON ({e})"),
                })?;
            if value["step"].as_u64().is_some_and(|s| (s as usize) < step) {
                kept.push_str(&line);
                kept.push('\n');
            }
        }
        write_atomic(&path, kept.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_and_log_truncation() {
        // Truth: the file holds exactly what was written, no temp file is left behind, and
        // truncation keeps exactly the lines with step < 3.
        let dir = std::env::temp_dir().join(format!("otto-run-test-{}", std::process::id()));
        let run = RunDir::create(&dir).unwrap();
        run.write("config.toml", b"width = 3\n").unwrap();
        assert_eq!(run.read_to_string("config.toml").unwrap(), "width = 3\n");
        for s in 0..5 {
            run.append_log(&format!("{{\"step\": {s}}}")).unwrap();
        }
        run.truncate_log(3).unwrap();
        let log = run.read_to_string("log.jsonl").unwrap();
        assert_eq!(log, "{\"step\": 0}\n{\"step\": 1}\n{\"step\": 2}\n");
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        assert!(RunDir::open(&dir).is_ok());
        assert!(RunDir::open(dir.join("nope")).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}

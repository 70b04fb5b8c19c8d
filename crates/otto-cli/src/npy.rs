//! Reading and writing `.npy` arrays (float32 or float64, C order) as `f64` matrices and vectors.
//! Every error names the file and the problem; writes are atomic (temp file + rename).

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use npyz::{DType, NpyFile, Order, TypeChar, WriteOptions, WriterBuilder};
use otto_ot::Matrix;

/// Reads a 1-D or 2-D float array; a 1-D array of length n becomes an n×1 matrix.
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    let (shape, data) = read(path)?;
    let (rows, cols) = match shape.as_slice() {
        [n] => (*n, 1),
        [n, d] => (*n, *d),
        other => bail!(
            "{}: expected a 1-D or 2-D array, got {} dimensions (shape {other:?})",
            path.display(),
            other.len()
        ),
    };
    if rows == 0 || cols == 0 {
        bail!("{}: the array is empty (shape {shape:?})", path.display());
    }
    check_finite(path, &data)?;
    Ok(Matrix::new(rows, cols, data)?)
}

/// Reads a 1-D float array (an n×1 or 1×n 2-D array is accepted too).
pub fn read_vector(path: &Path) -> Result<Vec<f64>> {
    let (shape, data) = read(path)?;
    match shape.as_slice() {
        [_] => {}
        [1, _] | [_, 1] => {}
        other => bail!(
            "{}: expected a 1-D array, got shape {other:?}",
            path.display()
        ),
    }
    if data.is_empty() {
        bail!("{}: the array is empty", path.display());
    }
    check_finite(path, &data)?;
    Ok(data)
}

/// Reads a float array of any shape, checked finite: its shape and its values in C order.
pub fn read_array(path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let (shape, data) = read(path)?;
    check_finite(path, &data)?;
    Ok((shape, data))
}

/// Reads an n × d matrix of points, refusing values so large that squared distances between
/// points overflow f64 (the error names the file and the largest value).
pub fn read_points(path: &Path) -> Result<Matrix> {
    let points = read_matrix(path)?;
    let largest = points.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let limit = otto::data::file::max_coordinate(points.cols());
    if largest > limit {
        return Err(otto::data::file::FileError::Overflow {
            path: path.to_path_buf(),
            value: largest,
            limit,
        }
        .into());
    }
    Ok(points)
}

fn check_finite(path: &Path, data: &[f64]) -> Result<()> {
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: non-finite value {} at flat index {i}",
            path.display(),
            data[i]
        );
    }
    Ok(())
}

fn read(path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let npy = NpyFile::new(&bytes[..])
        .map_err(|e| anyhow::anyhow!("{}: not a valid .npy file ({e})", path.display()))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    if npy.order() == Order::Fortran && shape.len() > 1 {
        bail!(
            "{}: the array is in Fortran order; save it in C order (numpy.ascontiguousarray)",
            path.display()
        );
    }
    let size = match npy.dtype() {
        DType::Plain(ts) if ts.type_char() == TypeChar::Float => ts.size_field(),
        other => bail!(
            "{}: expected float32 or float64 data, got dtype {}",
            path.display(),
            other.descr()
        ),
    };
    let data = match size {
        8 => npy.into_vec::<f64>(),
        4 => npy
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        _ => bail!(
            "{}: expected float32 or float64, got a {size}-byte float",
            path.display()
        ),
    }
    .map_err(|e| anyhow::anyhow!("{}: cannot decode the array ({e})", path.display()))?;
    Ok((shape, data))
}

/// Writes `data` with the given shape as a float64 C-order `.npy`, atomically.
pub fn write(path: &Path, shape: &[usize], data: &[f64]) -> Result<()> {
    let mut buf = Vec::new();
    {
        let shape: Vec<u64> = shape.iter().map(|&s| s as u64).collect();
        let mut writer = WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut buf)
            .begin_nd()?;
        writer.extend(data.iter().copied())?;
        writer.finish()?;
    }
    write_atomic(path, &buf)
}

/// Writes a matrix as a 2-D float64 `.npy`.
pub fn write_matrix(path: &Path, m: &Matrix) -> Result<()> {
    write(path, &[m.rows(), m.cols()], m.as_slice())
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so an
/// interrupted write never leaves a truncated file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

//! Point sets from the user's files: `.npy` arrays and `.csv` tables, one point per row. Every
//! failure is one [`FileError`] whose message names the file and says what is wrong and where.
//!
//! Positions are written the way each format's users count: in a `.csv` file, 1-based line and
//! column numbers as an editor or spreadsheet shows them; in a `.npy` array, 0-based row and
//! column indices as numpy indexes them.

use std::fmt;
use std::path::{Path, PathBuf};

use npyz::{DType, NpyFile, Order, TypeChar};
use otto_ot::Matrix;

/// Whether the first row of a `.csv` file is a header of column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// Detect it: the first row is a header when none of its cells is a number (so `x,y` is a
    /// header, while `1.0,abc` is a data row with a bad cell, reported as such).
    #[default]
    Auto,
    /// The first row is a header; it is skipped without being parsed.
    Present,
    /// There is no header; the first row is data.
    Absent,
}

/// Where a value sits in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// A `.csv` cell: 1-based line of the file and 1-based column.
    Csv {
        /// The line of the file (1-based, counting the header and blank lines).
        line: u64,
        /// The column (1-based).
        column: usize,
    },
    /// A `.npy` entry: 0-based row and column, as numpy indexes it.
    Npy {
        /// The row (0-based).
        row: usize,
        /// The column (0-based).
        column: usize,
    },
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Csv { line, column } => write!(f, "line {line}, column {column}"),
            Cell::Npy { row, column } => write!(f, "row {row}, column {column} (0-based)"),
        }
    }
}

/// Why a data file could not be read; the message names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {error}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The extension is neither `.npy` nor `.csv`.
    #[error("{}: unsupported file type; expected a .npy or .csv file", path.display())]
    Extension {
        /// The file.
        path: PathBuf,
    },
    /// A `.npy` file that is not a float32/float64, C-order, 1-D or 2-D array.
    #[error("{}: {reason}", path.display())]
    Npy {
        /// The file.
        path: PathBuf,
        /// What is wrong with the array.
        reason: String,
    },
    /// A `.csv` file the CSV reader rejects (for instance bytes that are not UTF-8).
    #[error("{}: malformed CSV: {reason}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What the CSV reader said.
        reason: String,
    },
    /// The file holds no data rows (or rows without columns).
    #[error("{}: no data rows{what}", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// What was found instead (empty, or a header only).
        what: &'static str,
    },
    /// A value so large that squared distances between points overflow f64.
    #[error("{}: values up to {value:e} make squared distances between points overflow f64 (keep |values| below {limit:.1e}); rescale the data", path.display())]
    Overflow {
        /// The file.
        path: PathBuf,
        /// The largest |value|.
        value: f64,
        /// [`max_coordinate`] for the file's dimension.
        limit: f64,
    },
    /// A NaN or infinite value.
    #[error("{}: non-finite value {value} at {cell}", path.display())]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Where it is.
        cell: Cell,
        /// The value.
        value: f64,
    },
    /// A `.csv` row whose number of columns differs from the first row's.
    #[error("{}: line {line} has {got} columns, expected {expected} as on line {first_line}", path.display())]
    Ragged {
        /// The file.
        path: PathBuf,
        /// The offending line (1-based).
        line: u64,
        /// The number of columns of the first row.
        expected: usize,
        /// The number of columns found.
        got: usize,
        /// The line of the first row (1-based).
        first_line: u64,
    },
    /// A `.csv` cell that is not a number.
    #[error("{}: {cell}: '{text}' is not a number{hint}", path.display())]
    NonNumeric {
        /// The file.
        path: PathBuf,
        /// Where it is.
        cell: Cell,
        /// The cell's text (whitespace trimmed).
        text: String,
        /// A hint when the cell is on the first row.
        hint: &'static str,
    },
}

/// The largest coordinate magnitude of d-dimensional points whose squared distances stay finite
/// in f64: two points differ by at most twice it per coordinate, and d such squares must stay
/// below `f64::MAX`.
pub fn max_coordinate(d: usize) -> f64 {
    (f64::MAX / (4.0 * d.max(1) as f64)).sqrt()
}

/// Reads a point set from `path`, choosing the format by extension (`.npy` or `.csv`,
/// case-insensitive); a `.csv` header is detected ([`Header::Auto`]).
pub fn read_points(path: &Path) -> Result<Matrix, FileError> {
    read_points_with(path, Header::Auto)
}

/// [`read_points`] with an explicit [`Header`] rule for `.csv` files (ignored for `.npy`).
///
/// Errors also when a value is so large that squared distances between points overflow f64
/// ([`max_coordinate`]): every cost, coupling and metric would fail on it later, without the file.
pub fn read_points_with(path: &Path, header: Header) -> Result<Matrix, FileError> {
    let points = match extension(path).as_deref() {
        Some("npy") => read_npy(path),
        Some("csv") => read_csv(path, header),
        _ => Err(FileError::Extension {
            path: path.to_path_buf(),
        }),
    }?;
    let largest = points.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let limit = max_coordinate(points.cols());
    if largest > limit {
        return Err(FileError::Overflow {
            path: path.to_path_buf(),
            value: largest,
            limit,
        });
    }
    Ok(points)
}

/// The bytes of a `.npy` file holding `m` (float64, C order, shape rows × cols), loadable with
/// `numpy.load`.
pub fn npy_bytes(m: &Matrix) -> Vec<u8> {
    use npyz::WriterBuilder;
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::<f64>::new()
        .default_dtype()
        .shape(&[m.rows() as u64, m.cols() as u64])
        .writer(&mut buf)
        .begin_nd()
        .expect("writing to memory");
    w.extend(m.as_slice().iter().copied())
        .expect("writing to memory");
    w.finish().expect("writing to memory");
    buf
}

/// The lower-cased extension of `path`, if any.
pub(crate) fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Reads a `.npy` array of float32 or float64 in C order: a 2-D n×d array gives n points of
/// dimension d, a 1-D array of length n gives n points of dimension 1. Values are widened to f64.
pub fn read_npy(path: &Path) -> Result<Matrix, FileError> {
    let bad = |reason: String| FileError::Npy {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|error| FileError::Unreadable {
        path: path.to_path_buf(),
        error,
    })?;
    let npy = NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a valid .npy file ({e})")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    let (rows, cols) = match shape.as_slice() {
        [n] => (*n, 1),
        [n, d] => (*n, *d),
        other => {
            return Err(bad(format!(
                "expected a 1-D or 2-D array, got {} dimensions (shape {other:?})",
                other.len()
            )))
        }
    };
    if npy.order() == Order::Fortran && rows > 1 && cols > 1 {
        return Err(bad(
            "the array is in Fortran order; save it in C order (numpy.ascontiguousarray)".into(),
        ));
    }
    let size = match npy.dtype() {
        DType::Plain(ts) if ts.type_char() == TypeChar::Float => ts.size_field(),
        other => {
            return Err(bad(format!(
                "expected float32 or float64 data, got dtype '{}'",
                other.descr()
            )))
        }
    };
    let data: Vec<f64> = match size {
        8 => npy.into_vec::<f64>(),
        4 => npy
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        _ => {
            return Err(bad(format!(
                "expected float32 or float64 data, got a {size}-byte float"
            )))
        }
    }
    .map_err(|e| bad(format!("cannot decode the array ({e})")))?;
    if rows == 0 || cols == 0 {
        return Err(FileError::Empty {
            path: path.to_path_buf(),
            what: " (the array has shape with a zero)",
        });
    }
    if let Some(k) = data.iter().position(|v| !v.is_finite()) {
        return Err(FileError::NonFinite {
            path: path.to_path_buf(),
            cell: Cell::Npy {
                row: k / cols,
                column: k % cols,
            },
            value: data[k],
        });
    }
    Matrix::new(rows, cols, data).map_err(|e| bad(e.to_string()))
}

/// Reads a comma-separated `.csv` file with any number of numeric columns, one point per row.
/// Whitespace around cells is trimmed; lines that are blank (every cell empty) are skipped; the
/// first row is a header or not according to `header`. Every row must have as many columns as
/// the first one, and every cell must be a finite number.
pub fn read_csv(path: &Path, header: Header) -> Result<Matrix, FileError> {
    let file = std::fs::File::open(path).map_err(|error| FileError::Unreadable {
        path: path.to_path_buf(),
        error,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let mut data = Vec::new();
    let mut rows = 0usize;
    // (number of columns, line) of the first non-blank row, header included.
    let mut first: Option<(usize, u64)> = None;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, e)),
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line());
        let (expected, first_line) = *first.get_or_insert((record.len(), line));
        let is_first = line == first_line;
        if record.len() != expected {
            return Err(FileError::Ragged {
                path: path.to_path_buf(),
                line,
                expected,
                got: record.len(),
                first_line,
            });
        }
        if is_first {
            let is_header = match header {
                Header::Present => true,
                Header::Absent => false,
                Header::Auto => record.iter().all(|c| c.parse::<f64>().is_err()),
            };
            if is_header {
                continue;
            }
        }
        for (j, text) in record.iter().enumerate() {
            let cell = Cell::Csv {
                line,
                column: j + 1,
            };
            let value: f64 = text.parse().map_err(|_| FileError::NonNumeric {
                path: path.to_path_buf(),
                cell,
                text: text.to_string(),
                hint: if is_first {
                    " (if the first line is a header, mark it as one)"
                } else {
                    ""
                },
            })?;
            if !value.is_finite() {
                return Err(FileError::NonFinite {
                    path: path.to_path_buf(),
                    cell,
                    value,
                });
            }
            data.push(value);
        }
        rows += 1;
    }
    let cols = match first {
        None => {
            return Err(FileError::Empty {
                path: path.to_path_buf(),
                what: " (the file is empty)",
            })
        }
        Some(_) if rows == 0 => {
            return Err(FileError::Empty {
                path: path.to_path_buf(),
                what: " (only a header)",
            })
        }
        Some((cols, _)) => cols,
    };
    Matrix::new(rows, cols, data).map_err(|e| FileError::Csv {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn csv_error(path: &Path, e: csv::Error) -> FileError {
    match e.into_kind() {
        csv::ErrorKind::Io(error) => FileError::Unreadable {
            path: path.to_path_buf(),
            error,
        },
        csv::ErrorKind::Utf8 { pos, err } => FileError::Csv {
            path: path.to_path_buf(),
            reason: format!(
                "line {}: field {} is not valid UTF-8",
                pos.map_or(0, |p| p.line()),
                err.field() + 1
            ),
        },
        other => FileError::Csv {
            path: path.to_path_buf(),
            reason: format!("{other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use npyz::WriterBuilder;
    use std::io::Write;

    fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        path
    }

    fn npy<T: npyz::Serialize + npyz::AutoSerialize + Copy>(
        dir: &tempfile::TempDir,
        name: &str,
        shape: &[u64],
        data: &[T],
    ) -> PathBuf {
        let mut buf = Vec::new();
        {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(shape)
                .writer(&mut buf)
                .begin_nd()
                .unwrap();
            w.extend(data.iter().copied()).unwrap();
            w.finish().unwrap();
        }
        file(dir, name, &buf)
    }

    fn err(path: &Path) -> String {
        read_points(path).unwrap_err().to_string()
    }

    #[test]
    fn npy_float64_float32_and_one_dimensional() {
        let dir = tempfile::tempdir().unwrap();
        let p = npy(&dir, "a.npy", &[2, 3], &[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let m = read_points(&p).unwrap();
        assert_eq!(m.shape(), (2, 3));
        assert_eq!(m.row(1), &[4.0, 5.0, 6.0]);
        let p = npy(&dir, "b.NPY", &[2, 2], &[0.5f32, -1.25, 3.0, 4.0]);
        assert_eq!(read_points(&p).unwrap().as_slice(), &[0.5, -1.25, 3.0, 4.0]);
        let p = npy(&dir, "c.npy", &[3], &[1.0f64, 2.0, 3.0]);
        assert_eq!(read_points(&p).unwrap().shape(), (3, 1));
    }

    #[test]
    fn npy_errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let p = npy(&dir, "nan.npy", &[2, 2], &[1.0f64, 2.0, f64::NAN, 4.0]);
        let e = err(&p);
        assert!(
            e.contains("nan.npy") && e.contains("NaN") && e.contains("row 1, column 0"),
            "{e}"
        );
        let p = npy(&dir, "int.npy", &[2], &[1i64, 2]);
        assert!(
            err(&p).contains("expected float32 or float64"),
            "{}",
            err(&p)
        );
        let p = npy(&dir, "cube.npy", &[1, 1, 2], &[1.0f64, 2.0]);
        assert!(err(&p).contains("3 dimensions"), "{}", err(&p));
        let p = npy(&dir, "empty.npy", &[0, 2], &[] as &[f64]);
        assert!(err(&p).contains("no data rows"), "{}", err(&p));
        let p = file(&dir, "junk.npy", b"not numpy");
        assert!(err(&p).contains("not a valid .npy"), "{}", err(&p));
        let e = err(&dir.path().join("missing.npy"));
        assert!(
            e.starts_with("cannot read") && e.contains("missing.npy"),
            "{e}"
        );
        let e = err(&file(&dir, "points.txt", b"1,2"));
        assert!(
            e.contains("points.txt") && e.contains(".npy or .csv"),
            "{e}"
        );
    }

    #[test]
    fn csv_with_and_without_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(&dir, "h.csv", b" x , y \n1, 2\n\n 3 ,4e0 \n");
        let m = read_points(&p).unwrap();
        assert_eq!(
            (m.shape(), m.as_slice()),
            ((2, 2), &[1.0, 2.0, 3.0, 4.0][..])
        );
        let p = file(&dir, "n.csv", b"1,2,3\n-4,5.5,6\n");
        let m = read_points(&p).unwrap();
        assert_eq!((m.shape(), m.row(1)), ((2, 3), &[-4.0, 5.5, 6.0][..]));
        let p = file(&dir, "one.csv", b"7\n8\n9");
        assert_eq!(read_points(&p).unwrap().shape(), (3, 1));
        // A numeric header forced by the flag, and a data row forced by the other.
        let p = file(&dir, "f.csv", b"0,1\n2,3\n");
        assert_eq!(read_points_with(&p, Header::Present).unwrap().rows(), 1);
        assert_eq!(read_points_with(&p, Header::Absent).unwrap().rows(), 2);
        let p = file(&dir, "names.csv", b"a,b\n1,2\n");
        let e = read_points_with(&p, Header::Absent)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 1, column 1: 'a' is not a number") && e.contains("header"),
            "{e}"
        );
    }

    #[test]
    fn csv_errors_name_the_file_the_place_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let e = err(&file(&dir, "ragged.csv", b"x,y\n1,2\n3,4,5\n"));
        assert!(
            e.contains("ragged.csv: line 3 has 3 columns, expected 2 as on line 1"),
            "{e}"
        );
        let e = err(&file(&dir, "text.csv", b"1,2\n3,abc\n"));
        assert!(
            e.contains("text.csv: line 2, column 2: 'abc' is not a number"),
            "{e}"
        );
        let e = err(&file(&dir, "blank.csv", b"1,2\n3,\n"));
        assert!(e.contains("line 2, column 2: '' is not a number"), "{e}");
        let e = err(&file(&dir, "inf.csv", b"1,2\n3,4\n-inf,5\n"));
        assert!(
            e.contains("inf.csv: non-finite value -inf at line 3, column 1"),
            "{e}"
        );
        let e = err(&file(&dir, "nan.csv", b"1,NaN\n"));
        assert!(
            e.contains("non-finite value NaN at line 1, column 2"),
            "{e}"
        );
        let e = err(&file(&dir, "empty.csv", b""));
        assert!(
            e.contains("empty.csv: no data rows (the file is empty)"),
            "{e}"
        );
        let e = err(&file(&dir, "head.csv", b"x,y\n"));
        assert!(e.contains("head.csv: no data rows (only a header)"), "{e}");
        let e = err(&file(&dir, "bytes.csv", b"1,2\n3,\xff\n"));
        assert!(
            e.contains("bytes.csv: malformed CSV") && e.contains("UTF-8"),
            "{e}"
        );
    }
}

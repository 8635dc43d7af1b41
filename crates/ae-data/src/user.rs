//! A user's own data: a CSV, Parquet or NPY/NPZ file (or an IDX pair of any size),
//! declared in an experiment file as
//!
//! ```toml
//! [[datasets]]
//! name = "wine"                 # letters, digits, '-', '_'; names the cells
//! path = "../data/wine.csv"     # relative to the experiment file
//! kind = "real"                 # unit (values in [0, 1]), real, counts
//! label_column = "class"        # optional; integer labels 0..=255
//! ```
//!
//! Every value is checked before any training: a ragged row, a missing or non-numeric
//! field, a NaN, a value outside its kind's range, a label out of range or a declared
//! shape that does not fit is a [`DataError::BadValue`] naming the file, the row and the
//! field.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use ndarray_npy::{NpzReader, ReadNpyExt};
use polars::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, DatasetId, Split, ValueKind};
use crate::error::{DataError, Result};

/// The format of a user's file; inferred from its extension when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// Comma-separated text with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// One NumPy array `[n, ...]`.
    Npy,
    /// A NumPy archive holding `x` (and optionally `y`, the labels).
    Npz,
    /// An IDX image file (its labels in `labels_path`), of any image size.
    Idx,
}

impl FileFormat {
    /// The format a file name's extension implies.
    pub fn infer(path: &Path) -> Option<FileFormat> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let ext = name.rsplit('.').next()?;
        match ext {
            "csv" => Some(FileFormat::Csv),
            "parquet" | "pq" => Some(FileFormat::Parquet),
            "npy" => Some(FileFormat::Npy),
            "npz" => Some(FileFormat::Npz),
            _ if name.contains("idx3") => Some(FileFormat::Idx),
            _ => None,
        }
    }
}

/// A user's dataset as an experiment file declares it (`[[datasets]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDataset {
    /// The name cells and tables use: 1-64 of letters, digits, '-' and '_'.
    pub name: String,
    /// The training file (or the only file, split by `test_fraction`).
    pub path: PathBuf,
    /// The test file; without it a seeded `test_fraction` of `path` is held out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_path: Option<PathBuf>,
    /// Share of `path` held out as the test split when there is no `test_path`.
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// File format (default: from the extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// What the values are.
    #[serde(default)]
    pub kind: ValueKind,
    /// Shape of one item: `[d]` (a vector), `[h, w]` (an image), `[1, h, w]`, or `[t, d]`
    /// (a sequence of t steps of d values). Default: what the file holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Vec<usize>>,
    /// CSV / Parquet: the column of integer labels (left out of the features).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_column: Option<String>,
    /// NPY / IDX: a file of labels, one per item (NPZ: the array `y`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_path: Option<PathBuf>,
    /// NPY / IDX with `test_path`: the test split's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_labels_path: Option<PathBuf>,
    /// Names of the classes, label 0 first; labels must index into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
}

fn default_test_fraction() -> f64 {
    0.2
}

/// The longest dataset name accepted (it becomes part of file names).
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` is a safe dataset / label name: 1-64 ASCII letters, digits, '-', '_'.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Features and labels read from one file, before any scaling.
struct Table {
    /// `[n, dim]` row-major.
    values: Vec<f32>,
    /// Per-item shape as the file holds it.
    item_shape: Vec<usize>,
    /// One label per item, when the file (or its label file) has them.
    labels: Option<Vec<u8>>,
    /// Names of the value columns (CSV / Parquet), for error messages.
    columns: Vec<String>,
}

impl Table {
    fn len(&self) -> usize {
        self.values.len() / self.item_shape.iter().product::<usize>().max(1)
    }
}

fn bad(path: &Path, row: usize, field: &str, msg: String) -> DataError {
    DataError::BadValue {
        path: path.to_path_buf(),
        row,
        field: field.to_string(),
        msg,
    }
}

fn invalid(name: &'static str, value: String, expected: &'static str) -> DataError {
    DataError::InvalidParameter {
        name,
        value,
        expected,
    }
}

impl FileDataset {
    /// Checks the declaration alone (no file is read): the name, the fraction, the shape.
    pub fn check(&self) -> Result<()> {
        if !is_safe_name(&self.name) {
            return Err(invalid(
                "dataset name",
                format!("{:?}", self.name),
                "1-64 of ASCII letters, digits, '-' and '_' (it names cells and files)",
            ));
        }
        if self.test_path.is_none() && !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(invalid(
                "test_fraction",
                self.test_fraction.to_string(),
                "a share in (0, 1) of `path` to hold out (or give `test_path`)",
            ));
        }
        if let Some(s) = &self.shape
            && (s.is_empty() || s.len() > 3 || s.contains(&0) || (s.len() == 3 && s[0] != 1))
        {
            return Err(invalid(
                "shape",
                format!("{s:?}"),
                "[d], [h, w], [1, h, w] or [t, d] with every size >= 1 (one channel only)",
            ));
        }
        if let Some(names) = &self.class_names
            && (names.is_empty() || names.len() > 256)
        {
            return Err(invalid(
                "class_names",
                format!("{} names", names.len()),
                "1 to 256 names, label 0 first",
            ));
        }
        Ok(())
    }

    /// The number of values per item the declaration promises, when it declares a shape.
    pub fn declared_dim(&self) -> Option<usize> {
        self.shape.as_ref().map(|s| s.iter().product())
    }

    fn format_of(&self, path: &Path) -> Result<FileFormat> {
        self.format
            .or_else(|| FileFormat::infer(path))
            .ok_or_else(|| DataError::BadValue {
                path: path.to_path_buf(),
                row: 0,
                field: "format".into(),
                msg: "cannot tell the format from the extension; set `format` to one of \
                      csv, parquet, npy, npz, idx"
                    .into(),
            })
    }

    /// Reads, checks and splits the data; relative paths are taken from `base` (the
    /// experiment file's folder).
    pub fn load(&self, base: &Path) -> Result<Dataset> {
        self.check()?;
        let at = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let train_path = at(&self.path);
        let train = self.read(&train_path, self.labels_path.as_deref().map(at))?;
        let (train, test) = match &self.test_path {
            Some(t) => {
                let tp = at(t);
                let test = self.read(&tp, self.test_labels_path.as_deref().map(at))?;
                if test.item_shape.iter().product::<usize>()
                    != train.item_shape.iter().product::<usize>()
                {
                    return Err(bad(
                        &tp,
                        1,
                        "shape",
                        format!(
                            "items have shape {:?}, the training file's {:?}",
                            test.item_shape, train.item_shape
                        ),
                    ));
                }
                if test.labels.is_some() != train.labels.is_some() {
                    return Err(bad(
                        &tp,
                        1,
                        "labels",
                        "one split has labels and the other has none".into(),
                    ));
                }
                (train, test)
            }
            None => self.hold_out(train, &train_path)?,
        };
        self.assemble(train, test, &train_path)
    }

    /// Reads one file into a checked table.
    fn read(&self, path: &Path, labels_path: Option<PathBuf>) -> Result<Table> {
        let mut t = match self.format_of(path)? {
            FileFormat::Csv | FileFormat::Parquet => self.read_frame(path)?,
            FileFormat::Npy => {
                let (values, shape) = read_npy(path, &std::fs::read(path).map_err(io(path))?)?;
                table_from_array(values, shape)
            }
            FileFormat::Npz => self.read_npz(path)?,
            FileFormat::Idx => {
                let bytes = crate::idx::read_maybe_gzip(path)?;
                let img = crate::idx::decode_images(path, &bytes)?;
                Table {
                    values: img.pixels.iter().map(|&b| f32::from(b) / 255.0).collect(),
                    item_shape: vec![img.height, img.width],
                    labels: None,
                    columns: Vec::new(),
                }
            }
        };
        if let Some(lp) = labels_path {
            t.labels = Some(read_label_file(&lp, t.len())?);
        }
        if let Some(shape) = &self.shape {
            let have: usize = t.item_shape.iter().product();
            let want: usize = shape.iter().product();
            if have != want {
                return Err(bad(
                    path,
                    1,
                    "shape",
                    format!(
                        "each item holds {have} values (shape {:?}), but `shape` = {shape:?} \
                         declares {want}",
                        t.item_shape
                    ),
                ));
            }
            t.item_shape = shape.clone();
        }
        if t.len() == 0 {
            return Err(bad(path, 0, "rows", "the file holds no item".into()));
        }
        self.check_values(path, &t)?;
        Ok(t)
    }

    /// CSV or Parquet through polars: every column numeric and complete.
    fn read_frame(&self, path: &Path) -> Result<Table> {
        let frame = match self.format_of(path)? {
            FileFormat::Parquet => {
                let f = std::fs::File::open(path).map_err(io(path))?;
                ParquetReader::new(f).finish()
            }
            _ => CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(None)
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .and_then(|r| r.finish()),
        }
        .map_err(|e| bad(path, 0, "file", format!("not readable as a table: {e}")))?;
        let names: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(lc) = &self.label_column
            && !names.contains(lc)
        {
            return Err(bad(
                path,
                0,
                lc,
                format!("no such column; the columns are {}", names.join(", ")),
            ));
        }
        let feature_names: Vec<String> = names
            .iter()
            .filter(|n| Some(*n) != self.label_column.as_ref())
            .cloned()
            .collect();
        if feature_names.is_empty() {
            return Err(bad(path, 0, "columns", "no feature column".into()));
        }
        let n = frame.height();
        let d = feature_names.len();
        let mut values = vec![0f32; n * d];
        for (j, name) in feature_names.iter().enumerate() {
            let col = numeric_column(&frame, path, name)?;
            for (i, v) in col.into_iter().enumerate() {
                values[i * d + j] = v as f32;
            }
        }
        let labels = match &self.label_column {
            Some(lc) => Some(
                numeric_column(&frame, path, lc)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| label_of(v, path, i + 1, lc))
                    .collect::<Result<Vec<u8>>>()?,
            ),
            None => None,
        };
        Ok(Table {
            values,
            item_shape: vec![d],
            labels,
            columns: feature_names,
        })
    }

    fn read_npz(&self, path: &Path) -> Result<Table> {
        let f = std::fs::File::open(path).map_err(io(path))?;
        let mut npz =
            NpzReader::new(f).map_err(|e| bad(path, 0, "file", format!("not an NPZ: {e}")))?;
        let names = npz
            .names()
            .map_err(|e| bad(path, 0, "file", format!("not an NPZ: {e}")))?;
        let x_name = names
            .iter()
            .find(|n| n.trim_end_matches(".npy") == "x")
            .cloned()
            .ok_or_else(|| {
                bad(
                    path,
                    0,
                    "x",
                    format!("no array `x`; it holds {}", names.join(", ")),
                )
            })?;
        let (values, shape) = npz_array(&mut npz, path, &x_name)?;
        let mut t = table_from_array(values, shape);
        if let Some(y) = names.iter().find(|n| n.trim_end_matches(".npy") == "y") {
            let (ys, _) = npz_array(&mut npz, path, y)?;
            if ys.len() != t.len() {
                return Err(bad(
                    path,
                    0,
                    "y",
                    format!("{} labels for {} items", ys.len(), t.len()),
                ));
            }
            let field = "y";
            t.labels = Some(
                ys.iter()
                    .enumerate()
                    .map(|(i, &v)| label_of(f64::from(v), path, i + 1, field))
                    .collect::<Result<_>>()?,
            );
        }
        Ok(t)
    }

    /// Values finite and in their kind's range; labels inside `class_names`.
    fn check_values(&self, path: &Path, t: &Table) -> Result<()> {
        let d: usize = t.item_shape.iter().product();
        let field = |j: usize| {
            t.columns
                .get(j)
                .cloned()
                .unwrap_or_else(|| format!("value {j}"))
        };
        for (k, &v) in t.values.iter().enumerate() {
            let (row, j) = (k / d + 1, k % d);
            let why = if !v.is_finite() {
                Some(format!("{v} is not a finite number"))
            } else {
                match self.kind {
                    ValueKind::Unit if !(0.0..=1.0).contains(&v) => Some(format!(
                        "{v} is outside [0, 1]; declare `kind = \"real\"` for real values"
                    )),
                    ValueKind::Counts if v < 0.0 || v.fract() != 0.0 => {
                        Some(format!("{v} is not a non-negative integer count"))
                    }
                    _ => None,
                }
            };
            if let Some(msg) = why {
                return Err(bad(path, row, &field(j), msg));
            }
        }
        if let (Some(labels), Some(names)) = (&t.labels, &self.class_names)
            && let Some(i) = labels.iter().position(|&l| usize::from(l) >= names.len())
        {
            return Err(bad(
                path,
                i + 1,
                self.label_column.as_deref().unwrap_or("label"),
                format!(
                    "label {} is out of range: `class_names` has {} classes (0..={})",
                    labels[i],
                    names.len(),
                    names.len() - 1
                ),
            ));
        }
        Ok(())
    }

    /// A seeded `test_fraction` of the rows as the test split (seed 0: the same rows for
    /// every cell and seed of an experiment).
    fn hold_out(&self, t: Table, path: &Path) -> Result<(Table, Table)> {
        let n = t.len();
        let n_test = ((n as f64) * self.test_fraction).round() as usize;
        if n_test == 0 || n_test >= n {
            return Err(bad(
                path,
                0,
                "test_fraction",
                format!(
                    "{} of {n} rows leaves an empty split; give more rows or a `test_path`",
                    self.test_fraction
                ),
            ));
        }
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
        let (test_idx, train_idx) = idx.split_at(n_test);
        let (mut a, mut b) = (train_idx.to_vec(), test_idx.to_vec());
        a.sort_unstable();
        b.sort_unstable();
        Ok((t.pick(&a), t.pick(&b)))
    }

    /// Scales the values for their kind and builds the dataset.
    fn assemble(&self, mut train: Table, mut test: Table, path: &Path) -> Result<Dataset> {
        let d: usize = train.item_shape.iter().product();
        let scaling = match self.kind {
            ValueKind::Real => {
                let (mean, sd) = standardiser(&train.values, d);
                for t in [&mut train, &mut test] {
                    for (k, v) in t.values.iter_mut().enumerate() {
                        *v = (*v - mean[k % d]) / sd[k % d];
                    }
                }
                Some((mean, sd))
            }
            ValueKind::Unit | ValueKind::Counts => None,
        };
        let labelled = train.labels.is_some();
        let n_classes = train
            .labels
            .iter()
            .chain(&test.labels)
            .flatten()
            .map(|&l| usize::from(l) + 1)
            .max()
            .unwrap_or(1);
        let class_names = match &self.class_names {
            Some(names) => names.clone(),
            None => (0..n_classes).map(|c| c.to_string()).collect(),
        };
        let (height, width) = match train.item_shape.as_slice() {
            [w] => (1, *w),
            [h, w] | [1, h, w] => (*h, *w),
            other => {
                return Err(bad(
                    path,
                    0,
                    "shape",
                    format!("items of shape {other:?}: declare `shape` as [d], [h, w] or [t, d]"),
                ));
            }
        };
        let split = |t: Table| Split {
            labels: t.labels.unwrap_or_else(|| vec![0; t.values.len() / d]),
            images: t.values,
            height,
            width,
        };
        Ok(Dataset {
            id: DatasetId::User(self.name.clone()),
            dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            train: split(train),
            test: split(test),
            values: self.kind,
            labelled,
            class_names,
            scaling,
        })
    }
}

impl Table {
    fn pick(&self, rows: &[usize]) -> Table {
        let d: usize = self.item_shape.iter().product();
        let mut values = Vec::with_capacity(rows.len() * d);
        for &i in rows {
            values.extend_from_slice(&self.values[i * d..(i + 1) * d]);
        }
        Table {
            values,
            item_shape: self.item_shape.clone(),
            labels: self
                .labels
                .as_ref()
                .map(|l| rows.iter().map(|&i| l[i]).collect()),
            columns: self.columns.clone(),
        }
    }
}

/// Per-feature training mean and standard deviation (1 where a feature is constant).
fn standardiser(values: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (values.len() / d).max(1) as f64;
    let mut mean = vec![0f64; d];
    for (k, &v) in values.iter().enumerate() {
        mean[k % d] += f64::from(v) / n;
    }
    let mut var = vec![0f64; d];
    for (k, &v) in values.iter().enumerate() {
        var[k % d] += (f64::from(v) - mean[k % d]).powi(2) / n;
    }
    let sd = var
        .iter()
        .map(|&v| if v > 1e-24 { v.sqrt() as f32 } else { 1.0 })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), sd)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One column as f64, every row present and numeric.
fn numeric_column(frame: &DataFrame, path: &Path, name: &str) -> Result<Vec<f64>> {
    let col = frame
        .column(name)
        .map_err(|e| bad(path, 0, name, e.to_string()))?;
    let raw = col.as_materialized_series();
    let cast = raw
        .cast(&DataType::Float64)
        .map_err(|e| bad(path, 0, name, format!("not numeric: {e}")))?;
    let ca = cast
        .f64()
        .map_err(|e| bad(path, 0, name, format!("not numeric: {e}")))?;
    let mut out = Vec::with_capacity(ca.len());
    for i in 0..ca.len() {
        match ca.get(i) {
            Some(v) => out.push(v),
            None => {
                let shown = raw.get(i).map(|a| a.to_string()).unwrap_or_default();
                let msg = if raw.is_null().get(i) == Some(true) {
                    "missing (an empty field or a short, ragged row)".to_string()
                } else {
                    format!("{shown} is not a number")
                };
                return Err(bad(path, i + 1, name, msg));
            }
        }
    }
    Ok(out)
}

fn label_of(v: f64, path: &Path, row: usize, field: &str) -> Result<u8> {
    if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
        Ok(v as u8)
    } else {
        Err(bad(
            path,
            row,
            field,
            format!("label {v} is not an integer in 0..=255"),
        ))
    }
}

fn table_from_array(values: Vec<f32>, shape: Vec<usize>) -> Table {
    Table {
        values,
        item_shape: shape.get(1..).map(<[usize]>::to_vec).unwrap_or_default(),
        labels: None,
        columns: Vec::new(),
    }
}

/// An NPY array of any common numeric dtype as f32 values and its shape `[n, ...]`.
pub fn read_npy(path: &Path, bytes: &[u8]) -> Result<(Vec<f32>, Vec<usize>)> {
    macro_rules! try_as {
        ($($t:ty),*) => {$(
            if let Ok(a) = ArrayD::<$t>::read_npy(Cursor::new(bytes)) {
                return Ok(flatten(a.mapv(|v| v as f32)));
            }
        )*};
    }
    try_as!(f32, f64, u8, i8, u16, i16, u32, i32, i64, u64);
    let why = ArrayD::<f32>::read_npy(Cursor::new(bytes))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    Err(bad(
        path,
        0,
        "array",
        format!("not a numeric NPY array (C order, a numeric dtype): {why}"),
    ))
}

fn npz_array<R: std::io::Read + std::io::Seek>(
    npz: &mut NpzReader<R>,
    path: &Path,
    name: &str,
) -> Result<(Vec<f32>, Vec<usize>)> {
    macro_rules! try_as {
        ($($t:ty),*) => {$(
            if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<$t>, ndarray::IxDyn>(name) {
                return Ok(flatten(a.mapv(|v| v as f32)));
            }
        )*};
    }
    try_as!(f32, f64, u8, i8, u16, i16, u32, i32, i64, u64);
    Err(bad(path, 0, name, "not a numeric array in C order".into()))
}

fn flatten(a: ArrayD<f32>) -> (Vec<f32>, Vec<usize>) {
    let shape = a.shape().to_vec();
    let values = a.as_standard_layout().iter().copied().collect();
    let shape = if shape.len() == 1 {
        vec![shape[0], 1]
    } else {
        shape
    };
    (values, shape)
}

/// Labels from a file of their own: NPY, an IDX label file, or text (one per line).
fn read_label_file(path: &Path, n: usize) -> Result<Vec<u8>> {
    let bytes = crate::idx::read_maybe_gzip(path)?;
    let raw: Vec<f64> = if bytes.starts_with(b"\x93NUMPY") {
        read_npy(path, &bytes)?
            .0
            .into_iter()
            .map(f64::from)
            .collect()
    } else if bytes.starts_with(&crate::idx::LABELS_MAGIC.to_be_bytes()) {
        crate::idx::decode_labels(path, &bytes)?
            .into_iter()
            .map(f64::from)
            .collect()
    } else {
        let text = String::from_utf8_lossy(&bytes);
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                l.trim()
                    .parse::<f64>()
                    .map_err(|_| bad(path, i + 1, "label", format!("{l:?} is not a number")))
            })
            .collect::<Result<_>>()?
    };
    if raw.len() != n {
        return Err(bad(
            path,
            0,
            "labels",
            format!("{} labels for {n} items", raw.len()),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, &v)| label_of(v, path, i + 1, "label"))
        .collect()
}

#[cfg(test)]
#[path = "user_tests.rs"]
mod tests;

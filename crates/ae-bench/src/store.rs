//! Result rows and their storage: one JSON file per finished cell (written atomically the
//! moment the cell ends), and the run's long-format table as CSV and Parquet via polars.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// The key naming a cell, its file in `cells/` and its checkpoint: the one format every
/// writer uses (sweep cells pass `model` as `<name>-<config hash>`, reproduction rows
/// their method's name).
pub fn cell_key(dataset: &str, model: &str, code_size: usize, backend: &str, seed: u64) -> String {
    format!("{dataset}__{model}__k{code_size}__{backend}__s{seed}")
}

/// Where the cell `key` of the run in `run_dir` checkpoints its training. The file
/// outlives the training and goes once the cell is stored, so a kill while the cell
/// evaluates does not cost its training.
pub fn checkpoint_path(run_dir: &Path, key: &str) -> PathBuf {
    run_dir.join("checkpoints").join(format!("{key}.msgpack"))
}

/// Whether a cell produced its metrics: written as `ok` / `failed` in every table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The cell ran and every metric is finite.
    Ok,
    /// The cell failed; its one row's `detail` says why.
    Failed,
}

impl Status {
    /// The word in the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
        }
    }

    /// The status a table's word names.
    pub fn parse(word: &str) -> Option<Status> {
        match word {
            "ok" => Some(Status::Ok),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }

    /// `Status::Ok`.
    pub fn is_ok(self) -> bool {
        self == Status::Ok
    }
}

/// One long-format result row: one metric of one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Dataset name.
    pub dataset: String,
    /// Model name.
    pub model: String,
    /// Latent dimension.
    pub code_size: u32,
    /// Seed.
    pub seed: u64,
    /// Backend name.
    pub backend: String,
    /// Metric name, e.g. `test_sse_per_image`.
    pub metric: String,
    /// Metric value (NaN for a failed cell's marker row; JSON stores NaN as null).
    #[serde(deserialize_with = "nan_from_null")]
    pub value: f64,
    /// Whether the cell ran.
    pub status: Status,
    /// Why a cell failed; empty when it did not.
    pub detail: String,
}

fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
impl Row {
    /// An `ok` row on MNIST and flex, for tests.
    pub fn ok_for_test(model: &str, code_size: u32, seed: u64, metric: &str, value: f64) -> Row {
        Row {
            dataset: "mnist".into(),
            model: model.into(),
            code_size,
            seed,
            backend: "flex".into(),
            metric: metric.into(),
            value,
            status: Status::Ok,
            detail: String::new(),
        }
    }
}

/// What a finished cell leaves behind in `cells/<key>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// The cell's key.
    pub key: String,
    /// Its rows.
    pub rows: Vec<Row>,
    /// Wall time of the cell in seconds.
    pub seconds: f64,
    /// Pictures for the report (lowest seed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<crate::artifacts::Artifacts>,
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a
/// rename, so a killed process leaves either the old file or the new one, never half.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| io_error(e, path, "cannot create a temporary file for"))?;
    write(tmp.as_file_mut()).map_err(|e| match e.downcast::<std::io::Error>() {
        Ok(io) => io_error(io, path, "cannot write"),
        Err(other) => other.context(format!("cannot write {}", path.display())),
    })?;
    tmp.as_file_mut()
        .flush()
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| io_error(e, path, "cannot write"))?;
    // tempfile creates 0600 files; results are ordinary files, readable like the charts.
    set_result_permissions(tmp.path())
        .map_err(|e| io_error(e, path, "cannot set permissions of"))?;
    tmp.persist(path)
        .map_err(|e| io_error(e.error, path, "cannot move the finished file to"))?;
    Ok(())
}

/// An I/O error as a sentence naming the file; a full disk says so.
fn io_error(e: std::io::Error, path: &Path, what: &str) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
        anyhow::anyhow!("{what} {}: no space left on the device", path.display())
    } else {
        anyhow::anyhow!("{what} {}: {e}", path.display())
    }
}

/// rw-r--r--, what a file written under the default umask gets.
fn set_result_permissions(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Draws a chart to a hidden file beside `path` (same extension, so plotters picks the
/// same format), then renames it into place: a failed or interrupted drawing (a full
/// disk) never leaves a half-written chart under the real name.
pub fn draw_atomic(path: &Path, draw: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "chart".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".partial-{name}"));
    let result = draw(&tmp).and_then(|()| {
        set_result_permissions(&tmp).map_err(|e| io_error(e, path, "cannot set permissions of"))?;
        std::fs::rename(&tmp, path).map_err(|e| io_error(e, path, "cannot move the chart to"))
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        let text = format!("{e:#}");
        return Err(
            if text.contains("os error 28") || text.contains("No space left") {
                anyhow::anyhow!(
                    "cannot write the chart {}: no space left on the device",
                    path.display()
                )
            } else {
                e.context(format!("cannot write the chart {}", path.display()))
            },
        );
    }
    Ok(())
}

/// Takes the run folder's lock (`<run>/.lock`, an OS file lock released when the returned
/// file is dropped or the process dies): two processes working on one run folder at once
/// (two `--resume`s) would run the same cells twice.
pub fn lock_run(run_dir: &Path) -> Result<std::fs::File> {
    let path = run_dir.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another ae-bench process is working on {} (it holds {}); wait for it to finish \
             or stop it before resuming",
            run_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Stores a cell's record as `<run>/cells/<key>.json`.
pub fn save_cell(run_dir: &Path, record: &CellRecord) -> Result<PathBuf> {
    let dir = run_dir.join("cells");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", record.key));
    write_atomic(&path, |f| Ok(serde_json::to_writer_pretty(f, record)?))?;
    Ok(path)
}

/// Reads every stored cell record of a run, sorted by key.
pub fn load_cells(run_dir: &Path) -> Result<Vec<CellRecord>> {
    let dir = run_dir.join("cells");
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read cell record {}", path.display()))?;
            out.push(parse_cell(&path, &text)?);
        }
    }
    out.sort_by(|a: &CellRecord, b| a.key.cmp(&b.key));
    Ok(out)
}

/// A cell record from its JSON text (`path` names it in errors).
pub fn parse_cell(path: &Path, text: &str) -> Result<CellRecord> {
    let record: CellRecord = serde_json::from_str(text)
        .with_context(|| format!("corrupt cell record {}", path.display()))?;
    // Readers index the first row (the cell's status) and group by these fields.
    let bad = |what: String| anyhow::anyhow!("corrupt cell record {}: {what}", path.display());
    if record.key.is_empty() {
        return Err(bad("its key is empty".into()));
    }
    if record.rows.is_empty() {
        return Err(bad(
            "it has no rows (a cell has at least its status row)".into()
        ));
    }
    Ok(record)
}

/// The rows as a polars frame, columns in the documented order.
pub fn frame(rows: &[Row]) -> Result<DataFrame> {
    let col = |f: fn(&Row) -> String| rows.iter().map(f).collect::<Vec<_>>();
    Ok(df!(
        "dataset" => col(|r| r.dataset.clone()),
        "model" => col(|r| r.model.clone()),
        "code_size" => rows.iter().map(|r| r.code_size).collect::<Vec<_>>(),
        "seed" => rows.iter().map(|r| r.seed).collect::<Vec<_>>(),
        "backend" => col(|r| r.backend.clone()),
        "metric" => col(|r| r.metric.clone()),
        "value" => rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        "status" => col(|r| r.status.as_str().to_string()),
        "detail" => col(|r| r.detail.clone()),
    )?)
}

/// Writes `results.csv` and `results.parquet` into `run_dir`, each atomically.
pub fn write_tables(run_dir: &Path, rows: &[Row]) -> Result<()> {
    let mut df = frame(rows)?;
    write_atomic(&run_dir.join("results.csv"), |f| {
        CsvWriter::new(f).finish(&mut df)?;
        Ok(())
    })?;
    write_atomic(&run_dir.join("results.parquet"), |f| {
        ParquetWriter::new(f).finish(&mut df)?;
        Ok(())
    })
}

/// Reads a run's `results.parquet` back into rows.
pub fn read_parquet(path: &Path) -> Result<Vec<Row>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let df = ParquetReader::new(file).finish()?;
    let s = |name: &str| -> Result<Vec<String>> {
        Ok(df
            .column(name)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let (dataset, model, backend, metric, status, detail) = (
        s("dataset")?,
        s("model")?,
        s("backend")?,
        s("metric")?,
        s("status")?,
        s("detail")?,
    );
    let code_size: Vec<u32> = df
        .column("code_size")?
        .u32()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let seed: Vec<u64> = df
        .column("seed")?
        .u64()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let value: Vec<f64> = df
        .column("value")?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect();
    let status = status
        .iter()
        .enumerate()
        .map(|(i, w)| {
            Status::parse(w).with_context(|| {
                format!(
                    "{}: row {} has status {w:?}, expected \"ok\" or \"failed\"",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((0..df.height())
        .map(|i| Row {
            dataset: dataset[i].clone(),
            model: model[i].clone(),
            code_size: code_size[i],
            seed: seed[i],
            backend: backend[i].clone(),
            metric: metric[i].clone(),
            value: value[i],
            status: status[i],
            detail: detail[i].clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(metric: &str, value: f64) -> Row {
        Row::ok_for_test("pca", 30, 0, metric, value)
    }

    /// Readers index a record's first row (its status): a record without rows, or with a
    /// status that is neither, is corrupt, not a panic later.
    #[test]
    fn cell_records_are_validated_on_read() {
        let p = Path::new("cells/x.json");
        let ok = r#"{"key":"k","rows":[{"dataset":"mnist","model":"pca","code_size":2,"seed":0,"backend":"flex","metric":"m","value":1.0,"status":"ok","detail":""}],"seconds":1.0}"#;
        assert_eq!(parse_cell(p, ok).unwrap().rows.len(), 1);
        let no_rows = r#"{"key":"k","rows":[],"seconds":1.0}"#;
        let err = format!("{:#}", parse_cell(p, no_rows).unwrap_err());
        assert!(
            err.contains("cells/x.json") && err.contains("no rows"),
            "{err}"
        );
        let odd = ok.replace(r#""status":"ok""#, r#""status":"fine""#);
        let err = format!("{:#}", parse_cell(p, &odd).unwrap_err());
        assert!(err.contains("fine") && err.contains("ok"), "{err}");
        let no_key = ok.replace(r#""key":"k""#, r#""key":"""#);
        assert!(parse_cell(p, &no_key).is_err());
    }

    #[test]
    fn tables_round_trip_and_have_the_documented_columns() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![
            row("test_sse_per_image", 13.87),
            row("test_mse_per_pixel", 0.0177),
        ];
        write_tables(dir.path(), &rows).unwrap();
        assert_eq!(
            read_parquet(&dir.path().join("results.parquet")).unwrap(),
            rows
        );
        let csv = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
        assert!(
            csv.starts_with("dataset,model,code_size,seed,backend,metric,value,"),
            "{csv}"
        );
        assert!(
            csv.contains("mnist,pca,30,0,flex,test_sse_per_image,13.87"),
            "{csv}"
        );
        // No temporary files are left next to the results.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn cells_are_saved_and_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let rec = CellRecord {
            key: "b".into(),
            rows: vec![row("x", 1.0)],
            seconds: 0.5,
            artifacts: None,
        };
        save_cell(dir.path(), &rec).unwrap();
        save_cell(
            dir.path(),
            &CellRecord {
                key: "a".into(),
                ..rec.clone()
            },
        )
        .unwrap();
        let back = load_cells(dir.path()).unwrap();
        assert_eq!(
            back.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(back[1], rec);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        std::fs::write(&p, "old").unwrap();
        let r = write_atomic(&p, |f| {
            f.write_all(b"half")?;
            anyhow::bail!("killed mid-write")
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_second_process_on_one_run_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_run(dir.path()).unwrap();
        let e = format!("{:#}", lock_run(dir.path()).unwrap_err());
        assert!(e.contains("another ae-bench process"), "{e}");
        drop(held);
        assert!(lock_run(dir.path()).is_ok());
    }

    #[test]
    fn results_and_charts_get_ordinary_permissions_and_failed_drawings_leave_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        write_atomic(&p, |f| Ok(f.write_all(b"x")?)).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let chart = dir.path().join("c.png");
        draw_atomic(&chart, |tmp| Ok(std::fs::write(tmp, b"png")?)).unwrap();
        assert_eq!(
            std::fs::metadata(&chart).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let e = draw_atomic(&dir.path().join("d.png"), |tmp| {
            std::fs::write(tmp, b"half")?;
            Err(std::io::Error::from_raw_os_error(28).into())
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("d.png: no space left"), "{e:#}");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.contains("d.png")), "{names:?}");
    }

    /// A value stored in a cell's JSON reads back bit for bit (serde_json's exact float
    /// parsing), so results.csv, drawn from the cells, never drifts in the last place.
    #[test]
    fn floats_round_trip_exactly_through_a_cell() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rows = Vec::new();
        for i in 0..5000 {
            // xorshift: values of every magnitude, including subnormals and long mantissas.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x & !(0x7FF << 52) | ((x % 2046 + 1) << 52));
            rows.push(Row::ok_for_test("m", 2, 0, &format!("m{i}"), v));
        }
        let rec = CellRecord {
            key: "k".into(),
            rows,
            seconds: 0.1 + 0.2,
            artifacts: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = save_cell(dir.path(), &rec).unwrap();
        let back = parse_cell(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
        for (a, b) in rec.rows.iter().zip(&back.rows) {
            assert_eq!(
                a.value.to_bits(),
                b.value.to_bits(),
                "{} vs {}",
                a.value,
                b.value
            );
        }
        assert_eq!(back.seconds.to_bits(), (0.1f64 + 0.2).to_bits());
    }
}

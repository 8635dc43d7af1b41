//! Result rows and their storage: one JSON file per finished cell (written atomically the
//! moment the cell ends), and the run's long-format table as CSV and Parquet via polars.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

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
    /// `ok` or `failed`.
    pub status: String,
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
            status: "ok".into(),
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
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    write(tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the finished file to {}", path.display()))?;
    Ok(())
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
            let text = std::fs::read_to_string(&path)?;
            out.push(
                serde_json::from_str(&text)
                    .with_context(|| format!("corrupt cell record {}", path.display()))?,
            );
        }
    }
    out.sort_by(|a: &CellRecord, b| a.key.cmp(&b.key));
    Ok(out)
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
        "status" => col(|r| r.status.clone()),
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
    Ok((0..df.height())
        .map(|i| Row {
            dataset: dataset[i].clone(),
            model: model[i].clone(),
            code_size: code_size[i],
            seed: seed[i],
            backend: backend[i].clone(),
            metric: metric[i].clone(),
            value: value[i],
            status: status[i].clone(),
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
}

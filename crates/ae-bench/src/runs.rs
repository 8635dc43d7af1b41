//! Operations on finished run folders: merging shards, comparing two runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::manifest::RunManifest;
use crate::provenance::{Git, Machine, Versions};
use crate::report::mean_sd;
use crate::store::{self, CellRecord, Row};

/// What `merge` reports back.
#[derive(Debug)]
pub struct Merged {
    /// The new run folder.
    pub dir: PathBuf,
    /// Cells in it.
    pub cells: usize,
    /// Keys found in more than one source (the first ok record was kept).
    pub duplicates: Vec<String>,
    /// The ae-bench builds (`git.binary_revision`) that computed the kept cells, sorted;
    /// more than one is worth a note, as the cell keys do not carry the code.
    pub builds: Vec<String>,
}

/// merged run.json: where the cells came from.
#[derive(Serialize)]
struct MergeInfo<'a> {
    command: &'a str,
    experiment: &'a serde_json::Value,
    merged_from: Vec<serde_json::Value>,
    /// Which source folder each kept cell came from (so which build computed it).
    cell_sources: BTreeMap<String, String>,
    git: Git,
    versions: Versions,
    machine: Machine,
    merged: String,
    cells: usize,
    cells_ok: usize,
    cells_failed: usize,
}

/// Combines the cells of run folders of one experiment (e.g. `--shard` runs made on
/// several machines) into a new folder `<out>/<date>-<name>-merged`, then draws its
/// tables and charts. For a key present in several sources an ok record beats a failed
/// one, and the earlier source wins between equals.
pub fn merge(sources: &[PathBuf], out_root: &Path, command: &str) -> Result<Merged> {
    if sources.len() < 2 {
        bail!("merge needs at least two run folders");
    }
    let infos: Vec<RunManifest> = sources
        .iter()
        .map(|s| RunManifest::read(s))
        .collect::<Result<_>>()?;
    let name = infos[0].name().to_string();
    for (s, i) in sources.iter().zip(&infos) {
        let n = i.name();
        if n != name {
            bail!(
                "{} is a run of experiment `{n}`, {} of `{name}`: only runs of one experiment merge",
                s.display(),
                sources[0].display()
            );
        }
    }
    // Settings other than the axes must agree, or the merged table would average cells
    // trained on different budgets as if they were seeds of one model.
    let first = infos[0].settings();
    for (s, i) in sources.iter().zip(&infos).skip(1) {
        let other = i.settings();
        let differ = differing_fields(&first, &other, "");
        if !differ.is_empty() {
            bail!(
                "{} and {} ran `{name}` with different settings ({}): their cells are not \
                 comparable, so they do not merge; rerun one with the other's settings",
                sources[0].display(),
                s.display(),
                differ.join(", ")
            );
        }
    }
    // Each kept cell with the index of the source it came from.
    let mut cells: BTreeMap<String, (usize, CellRecord)> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let found = store::load_cells(s)?;
        if found.is_empty() {
            bail!("{} holds no stored cells", s.display());
        }
        for c in found {
            let ok = |c: &CellRecord| c.rows.first().is_some_and(|r| r.status.is_ok());
            match cells.get(&c.key) {
                None => {
                    cells.insert(c.key.clone(), (i, c));
                }
                Some((_, kept)) => {
                    duplicates.push(c.key.clone());
                    if !ok(kept) && ok(&c) {
                        cells.insert(c.key.clone(), (i, c));
                    }
                }
            }
        }
    }
    // One label, one configuration: cell keys carry `label-hash`.
    let mut hashes: BTreeMap<&str, &str> = BTreeMap::new();
    for key in cells.keys() {
        if let Some((label, hash)) = key.split("__").nth(1).and_then(|m| m.rsplit_once('-')) {
            match hashes.insert(label, hash) {
                Some(h) if h != hash => bail!(
                    "model `{label}` has two different configurations among the runs \
                     (hashes {h} and {hash}): a label must name one configuration"
                ),
                _ => {}
            }
        }
    }
    let build_of = |i: usize| {
        infos[i].raw["git"]["binary_revision"]
            .as_str()
            .unwrap_or("unknown")
            .to_string()
    };
    let builds: Vec<String> = cells
        .values()
        .map(|(i, _)| build_of(*i))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let cell_sources: BTreeMap<String, String> = cells
        .iter()
        .map(|(k, (i, _))| (k.clone(), sources[*i].display().to_string()))
        .collect();
    let records: Vec<CellRecord> = cells.into_values().map(|(_, c)| c).collect();
    let dir = crate::sweep::new_run_dir(out_root, &format!("{name}-merged"))?;
    for c in &records {
        store::save_cell(&dir, c)?;
    }
    let ok = records
        .iter()
        .filter(|c| c.rows.first().is_some_and(|r| r.status.is_ok()))
        .count();
    let info = MergeInfo {
        command,
        experiment: &infos[0].experiment,
        merged_from: sources
            .iter()
            .zip(&infos)
            .map(|(s, i)| {
                serde_json::json!({
                    "folder": s.display().to_string(),
                    "command": i.raw["command"],
                    "shard": i.raw["shard"],
                    "git": i.raw["git"],
                    "machine": i.raw["machine"],
                    "cells": i.raw["cells"],
                })
            })
            .collect(),
        cell_sources,
        git: Git::detect(),
        versions: Versions::current(),
        machine: Machine::detect(),
        merged: chrono::Local::now().to_rfc3339(),
        cells: records.len(),
        cells_ok: ok,
        cells_failed: records.len() - ok,
    };
    RunManifest::write(&dir, &info)?;
    crate::sweep::write_outputs(&dir, &format!("{name} (merged)"), command, &records)?;
    Ok(Merged {
        dir,
        cells: records.len(),
        duplicates,
        builds,
    })
}

/// Metrics `compare` shows by default, with whether lower is better.
pub const COMPARED: [(&str, bool); 5] = [
    ("test_sse_per_image", true),
    ("test_bce_per_image", true),
    ("test_psnr_db", false),
    ("train_seconds", true),
    ("train_samples_per_second", false),
];

type Key = (String, String, u32, String);

/// Seed means of `metric` per (dataset, model, code size, backend), ok cells only.
fn means(rows: &[Row], metric: &str) -> BTreeMap<Key, f64> {
    let mut acc: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.status.is_ok() && r.metric == metric)
    {
        acc.entry((
            r.dataset.clone(),
            r.model.clone(),
            r.code_size,
            r.backend.clone(),
        ))
        .or_default()
        .push(r.value);
    }
    acc.into_iter().map(|(k, v)| (k, mean_sd(&v).0)).collect()
}

/// Markdown tables of `B − A` per metric for the cells both runs have, the worse
/// direction marked, and the cells only one of them has.
pub fn compare(a: &[Row], b: &[Row], metrics: &[(&str, bool)], names: (&str, &str)) -> String {
    let mut out = String::new();
    let (na, nb) = names;
    let _ = writeln!(out, "# {nb} vs {na}\n");
    let _ = writeln!(
        out,
        "Seed means; Δ = B − A; ▲ marks a change for the worse beyond 0.1 %.\n"
    );
    for &(metric, lower_better) in metrics {
        let (ma, mb) = (means(a, metric), means(b, metric));
        let common: Vec<&Key> = ma.keys().filter(|k| mb.contains_key(*k)).collect();
        if common.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "## `{metric}` ({} better)\n",
            if lower_better { "lower" } else { "higher" }
        );
        let _ = writeln!(out, "| dataset | model | k | backend | A | B | Δ | Δ % |");
        let _ = writeln!(out, "|---|---|---:|---|---:|---:|---:|---:|");
        for k in common {
            let (va, vb) = (ma[k], mb[k]);
            let d = vb - va;
            let rel = if va != 0.0 {
                d / va.abs() * 100.0
            } else {
                f64::NAN
            };
            let worse = if lower_better { rel > 0.1 } else { rel < -0.1 };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {va:.4} | {vb:.4} | {d:+.4} | {rel:+.2}{} |",
                k.0,
                k.1,
                k.2,
                k.3,
                if worse { " ▲" } else { "" }
            );
        }
        let _ = writeln!(out);
    }
    let keys = |rows: &[Row]| -> BTreeSet<Key> {
        rows.iter()
            .map(|r| {
                (
                    r.dataset.clone(),
                    r.model.clone(),
                    r.code_size,
                    r.backend.clone(),
                )
            })
            .collect()
    };
    let (ka, kb) = (keys(a), keys(b));
    for (label, only) in [
        (
            format!("Only in A ({na})"),
            ka.difference(&kb).collect::<Vec<_>>(),
        ),
        (
            format!("Only in B ({nb})"),
            kb.difference(&ka).collect::<Vec<_>>(),
        ),
    ] {
        if !only.is_empty() {
            let list: Vec<String> = only
                .iter()
                .map(|k| format!("{} {} k={} {}", k.0, k.1, k.2, k.3))
                .collect();
            let _ = writeln!(out, "{label}: {}\n", list.join("; "));
        }
    }
    out
}

/// The dotted paths at which two JSON values differ (objects compared key by key).
fn differing_fields(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Vec<String> {
    match (a.as_object(), b.as_object()) {
        (Some(x), Some(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|k| {
                    let path = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    let null = serde_json::Value::Null;
                    differing_fields(x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), &path)
                })
                .collect()
        }
        _ if a == b => Vec::new(),
        _ => vec![if at.is_empty() {
            "(root)".into()
        } else {
            at.to_string()
        }],
    }
}

/// Every stored row of a run folder (its cells, else its Parquet table).
pub fn rows_of(dir: &Path) -> Result<Vec<Row>> {
    let cells = store::load_cells(dir)?;
    if !cells.is_empty() {
        return Ok(cells.into_iter().flat_map(|c| c.rows).collect());
    }
    store::read_parquet(&dir.join("results.parquet"))
        .with_context(|| format!("{} holds neither cells/ nor results.parquet", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str, seed: u64, metric: &str, v: f64) -> Row {
        Row::ok_for_test(model, 30, seed, metric, v)
    }

    #[test]
    fn compare_shows_seed_mean_deltas_and_marks_regressions() {
        let a = vec![
            row("pca", 0, "test_sse_per_image", 13.87),
            row("ae", 0, "test_sse_per_image", 5.0),
            row("ae", 1, "test_sse_per_image", 7.0),
            row("ae", 0, "test_psnr_db", 20.0),
            row("vae", 0, "test_sse_per_image", 6.0),
        ];
        let b = vec![
            row("pca", 0, "test_sse_per_image", 13.87),
            row("ae", 0, "test_sse_per_image", 6.6),
            row("ae", 0, "test_psnr_db", 21.0),
            row("conv", 0, "test_sse_per_image", 5.0),
        ];
        let md = compare(&a, &b, &COMPARED, ("a", "b"));
        // A's mean is 6.0, B's 6.6: +10 % and worse (lower is better).
        assert!(
            md.contains("| mnist | ae | 30 | flex | 6.0000 | 6.6000 | +0.6000 | +10.00 ▲ |"),
            "{md}"
        );
        assert!(
            md.contains("| mnist | pca | 30 | flex | 13.8700 | 13.8700 | +0.0000 | +0.00 |"),
            "{md}"
        );
        // Higher PSNR is better: no mark.
        assert!(
            md.contains("| 20.0000 | 21.0000 | +1.0000 | +5.00 |"),
            "{md}"
        );
        assert!(md.contains("Only in A (a): mnist vae k=30 flex"), "{md}");
        assert!(md.contains("Only in B (b): mnist conv k=30 flex"), "{md}");
    }

    #[test]
    fn merge_combines_shards_and_prefers_ok_cells() {
        let root = tempfile::tempdir().unwrap();
        let mk = |name: &str, exp: &str, cells: &[(&str, &str)]| {
            let d = root.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("run.json"),
                format!(
                    "{{\"experiment\": {{\"name\": \"{exp}\"}}, \"command\": \"x\", \
                     \"git\": {{\"binary_revision\": \"build-{name}\"}}}}"
                ),
            )
            .unwrap();
            for (key, status) in cells {
                let mut r = row(key, 0, "test_sse_per_image", 1.0);
                r.status = store::Status::parse(status).unwrap();
                store::save_cell(
                    &d,
                    &CellRecord {
                        key: key.to_string(),
                        rows: vec![r],
                        seconds: 1.0,
                        artifacts: None,
                    },
                )
                .unwrap();
            }
            d
        };
        let a = mk("a", "e", &[("m1", "ok"), ("m2", "failed")]);
        let b = mk("b", "e", &[("m2", "ok"), ("m3", "ok")]);
        let other = mk("c", "f", &[("m4", "ok")]);
        let out = root.path().join("out");
        let m = merge(&[a.clone(), b.clone()], &out, "merge").unwrap();
        assert_eq!(m.cells, 3);
        assert_eq!(m.duplicates, vec!["m2".to_string()]);
        let cells = store::load_cells(&m.dir).unwrap();
        let status: Vec<(&str, &str)> = cells
            .iter()
            .map(|c| (c.key.as_str(), c.rows[0].status.as_str()))
            .collect();
        assert_eq!(status, [("m1", "ok"), ("m2", "ok"), ("m3", "ok")]);
        // m2 is b's (ok beats a's failed record): both builds computed kept cells.
        assert_eq!(m.builds, ["build-a", "build-b"]);
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(m.dir.join("run.json")).unwrap())
                .unwrap();
        let from = |k: &str| info["cell_sources"][k].as_str().unwrap().to_string();
        assert_eq!(from("m1"), a.display().to_string());
        assert_eq!(from("m2"), b.display().to_string());
        assert_eq!(from("m3"), b.display().to_string());
        assert!(m.dir.join("summary.md").is_file() && m.dir.join("run.json").is_file());
        assert!(
            m.dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with("-e-merged")
        );
        let err = merge(&[a, other], &out, "merge").unwrap_err();
        assert!(format!("{err:#}").contains("only runs of one experiment merge"));
    }

    #[test]
    fn merge_refuses_other_settings_and_one_label_with_two_configs() {
        let root = tempfile::tempdir().unwrap();
        let mk = |name: &str, train: &str, seed: u64, key: &str| {
            let d = root.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("run.json"),
                format!(
                    "{{\"experiment\": {{\"name\": \"e\", \"seeds\": [{seed}], \"train\": {train}}}, \"command\": \"x\"}}"
                ),
            )
            .unwrap();
            store::save_cell(
                &d,
                &CellRecord {
                    key: key.to_string(),
                    rows: vec![row("ae", seed, "test_sse_per_image", 1.0)],
                    seconds: 1.0,
                    artifacts: None,
                },
            )
            .unwrap();
            d
        };
        let out = root.path().join("out");
        // Seeds differ (an axis): fine.
        let a = mk(
            "a",
            "{\"train_limit\": 500, \"lr\": 0.001}",
            0,
            "mnist__ae-aaaa__k2__flex__s0",
        );
        let b = mk(
            "b",
            "{\"train_limit\": 500, \"lr\": 0.001}",
            1,
            "mnist__ae-aaaa__k2__flex__s1",
        );
        assert!(merge(&[a.clone(), b], &out, "merge").is_ok());
        // The budget differs: refused, naming the field.
        let c = mk(
            "c",
            "{\"train_limit\": 1000, \"lr\": 0.001}",
            1,
            "mnist__ae-aaaa__k2__flex__s1",
        );
        let e = format!("{:#}", merge(&[a.clone(), c], &out, "merge").unwrap_err());
        assert!(
            e.contains("train.train_limit") && !e.contains("train.lr"),
            "{e}"
        );
        // One label, two configurations (hashes): refused.
        let d = mk(
            "d",
            "{\"train_limit\": 500, \"lr\": 0.001}",
            1,
            "mnist__ae-bbbb__k2__flex__s1",
        );
        let e = format!("{:#}", merge(&[a, d], &out, "merge").unwrap_err());
        assert!(
            e.contains("model `ae` has two different configurations"),
            "{e}"
        );
    }
}

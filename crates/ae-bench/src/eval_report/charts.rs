//! Every task chart the rows and stored pictures allow.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

use super::panels::{Line, Panel, bar_panels, line_panels};
use super::tables::{DEEP_SVDD_MNIST, collect, noise_labels};
use crate::plot::image_grid;
use crate::store::{CellRecord, Row};

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Series names: the model, with its code size when the run has several.
fn series_name(model: &str, k: u32, many_sizes: bool) -> String {
    if many_sizes && model != "pixels" {
        format!("{model} k={k}")
    } else {
        model.to_string()
    }
}

/// Draws every task chart the rows and pictures allow; returns the files written.
pub fn draw_all(rows: &[Row], cells: &[CellRecord], dir: &Path) -> Result<Vec<PathBuf>> {
    let t = collect(rows);
    let mut written = Vec::new();
    let datasets: BTreeSet<String> = t.keys().map(|k| k.0.clone()).collect();
    let sizes: BTreeSet<u32> = t.keys().filter(|k| k.1 != "pixels").map(|k| k.2).collect();
    let many = sizes.len() > 1;

    // Denoising: PSNR against the level, a panel per dataset and corruption kind.
    let noises = noise_labels(rows);
    if !noises.is_empty() {
        let mut kinds: Vec<String> = Vec::new();
        for n in &noises {
            let kind = n
                .rsplit_once('-')
                .map_or(n.as_str(), |(k, _)| k)
                .to_string();
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        let mut panels = Vec::new();
        for d in &datasets {
            for kind in &kinds {
                let level = |n: &str| {
                    n.rsplit_once('-')
                        .and_then(|(k, l)| (k == kind).then(|| l.parse::<f64>().ok()).flatten())
                };
                let mut lines = Vec::new();
                let mut noisy = Vec::new();
                for ((ds, model, k), m) in t.iter().filter(|(key, _)| &key.0 == d) {
                    let mut pts = Vec::new();
                    for n in &noises {
                        if let (Some(x), Some(v)) = (level(n), m.get(&format!("psnr_denoised@{n}")))
                        {
                            pts.push((x, mean(v)));
                            if let Some(nv) = m.get(&format!("psnr_noisy@{n}"))
                                && ds == d
                                && !noisy.iter().any(|p: &(f64, f64)| p.0 == x)
                            {
                                noisy.push((x, mean(nv)));
                            }
                        }
                    }
                    if !pts.is_empty() {
                        lines.push(Line::of_model(series_name(model, *k, many), pts, model));
                    }
                }
                if !noisy.is_empty() {
                    noisy.sort_by(|a, b| a.0.total_cmp(&b.0));
                    lines.push(Line {
                        name: "noisy input".into(),
                        points: noisy,
                        dashed: true,
                        reference: true,
                    });
                    panels.push(Panel {
                        title: format!("{d}: {kind}"),
                        lines,
                    });
                }
            }
        }
        let path = dir.join("denoise_psnr.png");
        line_panels(&panels, "noise level (σ or p)", "PSNR (dB)", &path)?;
        written.push(path);
    }

    // Per-class AUROC, with Deep SVDD's on MNIST.
    if t.values().any(|m| m.contains_key("auroc_mean")) {
        let mut panels = Vec::new();
        for d in &datasets {
            let mut lines = Vec::new();
            for ((_, model, k), m) in t.iter().filter(|(key, _)| &key.0 == d) {
                let pts: Vec<(f64, f64)> = (0..10)
                    .filter_map(|c| {
                        m.get(&format!("auroc@{c}"))
                            .map(|v| (c as f64, 100.0 * mean(v)))
                    })
                    .collect();
                if !pts.is_empty() {
                    lines.push(Line::of_model(series_name(model, *k, many), pts, model));
                }
            }
            if d == "mnist" {
                lines.push(Line {
                    name: "Deep SVDD (2018)".into(),
                    points: DEEP_SVDD_MNIST
                        .iter()
                        .enumerate()
                        .map(|(c, &v)| (c as f64, v))
                        .collect(),
                    dashed: true,
                    reference: true,
                });
            }
            panels.push(Panel {
                title: format!("{d}: one-class AUROC"),
                lines,
            });
        }
        let path = dir.join("anomaly_auroc.png");
        line_panels(&panels, "normal class", "AUROC (%)", &path)?;
        written.push(path);
    }

    // Accuracy against code size for features and clustering; pixels as a flat line.
    for (name, metrics) in [
        ("features", &["probe_acc", "knn_acc", "finetune_acc"][..]),
        ("cluster", &["kmeans_acc", "dec_acc"][..]),
    ] {
        if !t.values().any(|m| m.contains_key(metrics[0])) {
            continue;
        }
        let mut panels = Vec::new();
        for d in &datasets {
            for metric in metrics {
                let mut by_model: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
                for ((_, model, k), m) in t.iter().filter(|(key, _)| &key.0 == d) {
                    if let Some(v) = m.get(*metric) {
                        by_model
                            .entry(model)
                            .or_default()
                            .push((f64::from(*k), 100.0 * mean(v)));
                    }
                }
                let (lo, hi) = (
                    f64::from(*sizes.first().unwrap_or(&1)),
                    f64::from(*sizes.last().unwrap_or(&1)),
                );
                let lines: Vec<Line> = by_model
                    .into_iter()
                    .map(|(model, pts)| {
                        let pixels = model == "pixels";
                        let points = if pixels {
                            vec![(lo, pts[0].1), (hi, pts[0].1)]
                        } else {
                            pts
                        };
                        Line {
                            name: model.to_string(),
                            points,
                            dashed: pixels || model == "pca",
                            reference: pixels,
                        }
                    })
                    .collect();
                if !lines.is_empty() {
                    panels.push(Panel {
                        title: format!("{d}: {metric}"),
                        lines,
                    });
                }
            }
        }
        let path = dir.join(format!("{name}_accuracy.png"));
        if many {
            line_panels(&panels, "code size", "accuracy (%)", &path)?;
        } else {
            // One code size: a line per model would be a single dot; bars read better.
            bar_panels(&panels, "accuracy (%)", &path)?;
        }
        written.push(path);
    }

    // Rate–distortion: SSE against bits per image (log2), lossless sizes at SSE 0.
    if t.values().any(|m| m.contains_key("bits@32")) {
        let mut panels = Vec::new();
        for d in &datasets {
            let mut lines = Vec::new();
            let mut by_model: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
            let mut lossless = Vec::new();
            for ((_, model, _), m) in t.iter().filter(|(key, _)| &key.0 == d) {
                for (bits, sse) in m.iter().filter_map(|(k, v)| {
                    let b = k.strip_prefix("bits@")?;
                    let sse = m.get(&format!("sse@{b}"))?;
                    Some((mean(v), mean(sse)))
                }) {
                    by_model.entry(model).or_default().push((bits.log2(), sse));
                }
                for f in ["png", "gzip", "raw"] {
                    if let Some(v) = m.get(&format!("bits@{f}")) {
                        lossless.push((f, mean(v).log2()));
                    }
                }
            }
            for (model, mut pts) in by_model {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                lines.push(Line {
                    name: model.to_string(),
                    points: pts,
                    dashed: model == "pca",
                    reference: false,
                });
            }
            for (f, x) in lossless {
                lines.push(Line {
                    name: format!("{f} (lossless)"),
                    points: vec![(x, 0.0)],
                    dashed: false,
                    reference: false,
                });
            }
            panels.push(Panel {
                title: format!("{d}: rate–distortion"),
                lines,
            });
        }
        let path = dir.join("compress_rate_distortion.png");
        line_panels(
            &panels,
            "bits per image (log2)",
            "test SSE per image",
            &path,
        )?;
        written.push(path);
    }

    written.extend(draw_pictures(cells, dir, many)?);
    Ok(written)
}

/// Charts of the stored task pictures: denoising grids, t-SNE scatters, OOD histograms.
fn draw_pictures(cells: &[CellRecord], dir: &Path, many: bool) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    // dataset -> [(series name, artifacts)] for the lowest seed.
    let mut by_ds: BTreeMap<String, Vec<(String, &crate::artifacts::Artifacts)>> = BTreeMap::new();
    for c in cells {
        if let (Some(art), Some(r)) = (&c.artifacts, c.rows.first())
            && art.tasks.is_some()
        {
            by_ds
                .entry(r.dataset.clone())
                .or_default()
                .push((series_name(&r.model, r.code_size, many), art));
        }
    }
    for (d, arts) in &by_ds {
        let side = arts[0].1.side;
        let decode = |img: &crate::artifacts::Images| {
            img.decode()
                .ok_or_else(|| anyhow!("a stored image is not valid hex"))
        };
        // Denoising: clean images, then each model's noisy input and output per corruption.
        let mut grid = Vec::new();
        for (name, art) in arts {
            let Some(tp) = &art.tasks else { continue };
            for s in &tp.denoise {
                if grid.is_empty() {
                    let clean = decode(&art.originals)?;
                    let n = decode(&s.noisy)?.len().min(clean.len());
                    grid.push(("clean".to_string(), clean[..n].to_vec()));
                }
                grid.push((format!("{name} {}: in", s.noise), decode(&s.noisy)?));
                grid.push((format!("{name} {}: out", s.noise), decode(&s.denoised)?));
            }
        }
        if !grid.is_empty() {
            let path = dir.join(format!("denoise_{d}.png"));
            image_grid(&grid, side, &path)?;
            written.push(path);
        }
        let scatters: Vec<(&str, &crate::artifacts::Codes2d)> = arts
            .iter()
            .filter_map(|(n, a)| a.tasks.as_ref()?.tsne.as_ref().map(|c| (n.as_str(), c)))
            .collect();
        if !scatters.is_empty() {
            let path = dir.join(format!("tsne_{d}.png"));
            crate::gallery::code_scatter(d, "t-SNE of test codes", &scatters, &path)?;
            written.push(path);
        }
        // Histograms of log10 SSE, in and out of distribution.
        let mut panels = Vec::new();
        for (name, art) in arts {
            let Some(o) = art.tasks.as_ref().and_then(|t| t.ood.as_ref()) else {
                continue;
            };
            let logs = |v: &[f32]| {
                v.iter()
                    .map(|&x| f64::from(x.max(1e-3)).log10())
                    .collect::<Vec<_>>()
            };
            let (a, b) = (logs(&o.inlier_sse), logs(&o.outlier_sse));
            let lo = a.iter().chain(&b).copied().fold(f64::INFINITY, f64::min);
            let hi = a
                .iter()
                .chain(&b)
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            let bins = 40;
            let hist = |v: &[f64]| -> Vec<(f64, f64)> {
                let w = ((hi - lo) / bins as f64).max(1e-9);
                let mut c = vec![0f64; bins];
                for &x in v {
                    c[(((x - lo) / w) as usize).min(bins - 1)] += 1.0;
                }
                c.iter()
                    .enumerate()
                    .map(|(i, &n)| (lo + (i as f64 + 0.5) * w, n / v.len().max(1) as f64))
                    .collect()
            };
            panels.push(Panel {
                title: format!("{name} trained on {}", o.inlier),
                lines: vec![
                    Line {
                        name: format!("{} test (in)", o.inlier),
                        points: hist(&a),
                        dashed: false,
                        reference: false,
                    },
                    Line {
                        name: format!("{} test (out)", o.outlier),
                        points: hist(&b),
                        dashed: false,
                        reference: false,
                    },
                ],
            });
        }
        if !panels.is_empty() {
            let path = dir.join(format!("ood_{d}.png"));
            line_panels(
                &panels,
                "log10 reconstruction SSE",
                "fraction of images",
                &path,
            )?;
            written.push(path);
        }
    }
    Ok(written)
}

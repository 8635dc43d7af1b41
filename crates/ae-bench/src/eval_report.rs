//! Tables and charts of the evaluation tasks, drawn from stored rows and pictures, with
//! the published reference points beside our numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::plot::{image_grid, register_font, series_color};
use crate::report::mean_sd;
use crate::store::{CellRecord, Row};

/// Deep SVDD (Ruff et al. 2018), one-class AUROC (%) per MNIST digit.
pub const DEEP_SVDD_MNIST: [f64; 10] = [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5];

/// Published numbers quoted under each task's table: (task, dataset, text).
const REFERENCES: &[(&str, &str, &str)] = &[
    (
        "anomaly",
        "mnist",
        "Deep SVDD (Ruff et al. 2018) one-class AUROC: 98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5 (mean 94.8)",
    ),
    (
        "features",
        "mnist",
        "stacked denoising AE features + logistic regression: 1.3 % test error, i.e. 98.7 % accuracy (deeplearning.net Theano tutorial)",
    ),
    (
        "cluster",
        "mnist",
        "ACC: k-means on pixels ≈ 53 %, AE + k-means ≈ 88 %, DEC 84.3 % (Xie et al. 2016) to ≈ 91 % (a public reimplementation)",
    ),
    (
        "cluster",
        "fashion-mnist",
        "ACC: k-means on pixels ≈ 47 %, AE + k-means ≈ 61 %, DEC ≈ 62 %",
    ),
    (
        "generate",
        "mnist",
        "test NLL 86.76 nats: one-stochastic-layer VAE 784-200-200-50, k = 5000 (Burda et al. 2015), trained 3 280 epochs",
    ),
];

/// The tasks' metrics: (task, section title, metrics shown, as percentages).
const TASK_TABLES: &[(&str, &str, &[&str], bool)] = &[
    (
        "denoise",
        "Denoising: PSNR (dB) of the model's output / of the noisy input",
        &[],
        false,
    ),
    (
        "anomaly",
        "Anomaly detection: one-class AUROC (%) per normal class, mean, and the other dataset as out-of-distribution",
        &[
            "auroc@0",
            "auroc@1",
            "auroc@2",
            "auroc@3",
            "auroc@4",
            "auroc@5",
            "auroc@6",
            "auroc@7",
            "auroc@8",
            "auroc@9",
            "auroc_mean",
            "ood_auroc",
        ],
        true,
    ),
    (
        "features",
        "Features: linear-probe and k-NN test accuracy (%)",
        &["probe_acc", "knn_acc"],
        true,
    ),
    (
        "cluster",
        "Clustering: accuracy (Hungarian) and NMI (%) of k-means on codes, and of DEC",
        &["kmeans_acc", "kmeans_nmi", "dec_acc", "dec_nmi"],
        true,
    ),
    (
        "tsne",
        "t-SNE: leave-one-out 5-NN accuracy (%) in the 2-D embedding of 2 000 test codes",
        &["tsne_knn_acc"],
        true,
    ),
    (
        "generate",
        "Generation: importance-weighted test NLL (nats) on binarized images",
        &["iwae_nll", "iwae_k"],
        false,
    ),
    (
        "compress",
        "Compression: bits per image and test SSE per image, float / 8-bit / 4-bit codes; lossless sizes of the pixels",
        &[
            "bits@32",
            "sse@32",
            "bits@8",
            "sse@8",
            "bits@4",
            "sse@4",
            "bits@png",
            "bits@gzip",
            "bits@raw",
        ],
        false,
    ),
];

/// (dataset, model, code size) -> metric -> seed values.
type Table = BTreeMap<(String, String, u32), BTreeMap<String, Vec<f64>>>;

fn collect(rows: &[Row]) -> Table {
    let mut t: Table = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.status.is_ok() && r.value.is_finite())
    {
        t.entry((r.dataset.clone(), r.model.clone(), r.code_size))
            .or_default()
            .entry(r.metric.clone())
            .or_default()
            .push(r.value);
    }
    t
}

fn cell(v: Option<&Vec<f64>>, percent: bool) -> String {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return "–".into();
    };
    let (m, sd) = mean_sd(v);
    let scale = if percent { 100.0 } else { 1.0 };
    let digits = if percent || m.abs() < 1000.0 { 1 } else { 0 };
    if v.len() > 1 {
        format!("{:.*} ± {:.*}", digits, m * scale, digits, sd * scale)
    } else {
        format!("{:.*}", digits, m * scale)
    }
}

/// The denoising metrics present, in the experiment's order of noises.
fn noise_labels(rows: &[Row]) -> Vec<String> {
    let mut seen = Vec::new();
    for r in rows {
        if let Some(l) = r.metric.strip_prefix("psnr_denoised@")
            && !seen.iter().any(|s: &String| s == l)
        {
            seen.push(l.to_string());
        }
    }
    seen
}

/// The markdown sections of every task present in `rows` (empty if none).
pub fn summary_sections(rows: &[Row]) -> String {
    let t = collect(rows);
    let datasets: BTreeSet<&str> = t.keys().map(|k| k.0.as_str()).collect();
    let mut out = String::new();
    for &(task, title, metrics, percent) in TASK_TABLES {
        let (cols, labels): (Vec<String>, Vec<String>) = if task == "denoise" {
            let l = noise_labels(rows);
            (l.iter().map(|n| format!("psnr_denoised@{n}")).collect(), l)
        } else {
            (
                metrics.iter().map(|m| m.to_string()).collect(),
                metrics.iter().map(|m| m.to_string()).collect(),
            )
        };
        let present = |m: &BTreeMap<String, Vec<f64>>| cols.iter().any(|c| m.contains_key(c));
        if !t.values().any(present) {
            continue;
        }
        let _ = writeln!(out, "## Task `{task}` — {title}\n");
        for d in &datasets {
            let keys: Vec<_> = t.iter().filter(|(k, m)| k.0 == *d && present(m)).collect();
            if keys.is_empty() {
                continue;
            }
            // Only the columns some model has.
            let shown: Vec<usize> = (0..cols.len())
                .filter(|&i| keys.iter().any(|(_, m)| m.contains_key(&cols[i])))
                .collect();
            let _ = writeln!(out, "### {d}\n");
            let head: Vec<&str> = shown.iter().map(|&i| labels[i].as_str()).collect();
            let _ = writeln!(out, "| model | k | {} |", head.join(" | "));
            let _ = writeln!(out, "|---|---:|{}", "---:|".repeat(shown.len()));
            for ((_, model, k), m) in &keys {
                let vals: Vec<String> = shown
                    .iter()
                    .map(|&i| {
                        let c = cell(m.get(&cols[i]), percent);
                        if task == "denoise" {
                            let noisy = cell(m.get(&format!("psnr_noisy@{}", labels[i])), false);
                            format!("{c} / {noisy}")
                        } else {
                            c
                        }
                    })
                    .collect();
                let _ = writeln!(out, "| {model} | {k} | {} |", vals.join(" | "));
            }
            out.push('\n');
            for (_, _, text) in REFERENCES
                .iter()
                .filter(|(tk, ds, _)| *tk == task && ds == d)
            {
                let _ = writeln!(out, "Reference: {text}.\n");
            }
        }
    }
    out
}

/// A line of a chart.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
    dashed: bool,
    /// Black, for reference series.
    reference: bool,
}

impl Line {
    /// A model's series: PCA dashed, as in the other charts.
    fn of_model(name: String, points: Vec<(f64, f64)>, model: &str) -> Line {
        Line {
            name,
            points,
            dashed: model == "pca",
            reference: false,
        }
    }
}

/// One chart panel.
struct Panel {
    title: String,
    lines: Vec<Line>,
}

const LEGEND: u32 = 210;

/// Panels of line charts (linear axes) in a grid of up to 3 columns, each with its legend.
fn line_panels(panels: &[Panel], x_desc: &str, y_desc: &str, path: &Path) -> Result<()> {
    crate::store::draw_atomic(path, |p| line_panels_to(panels, x_desc, y_desc, p))
}

fn line_panels_to(panels: &[Panel], x_desc: &str, y_desc: &str, path: &Path) -> Result<()> {
    register_font();
    let cols = panels.len().clamp(1, 3);
    let rows = panels.len().div_ceil(cols).max(1);
    let size = (cols as u32 * (480 + LEGEND), rows as u32 * 380);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing failed: {e}");
    root.fill(&WHITE).map_err(err)?;
    for (panel, area) in panels.iter().zip(root.split_evenly((rows, cols))) {
        let (plot, legend) = area.split_horizontally(area.dim_in_pixel().0 - LEGEND);
        let pts = panel.lines.iter().flat_map(|l| l.points.iter());
        let (x0, x1, y0, y1) = pts.fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(a, b, c, d), p| (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1)),
        );
        if !x0.is_finite() {
            continue;
        }
        let (dx, dy) = ((x1 - x0).max(1e-9) * 0.05, (y1 - y0).max(1e-9) * 0.08);
        let mut chart = ChartBuilder::on(&plot)
            .caption(&panel.title, ("sans-serif", 17))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(x0 - dx..x1 + dx, y0 - dy..y1 + dy)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .axis_desc_style(("sans-serif", 14))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        let mut colour = 0;
        for (i, line) in panel.lines.iter().enumerate() {
            let c = if line.reference {
                BLACK.to_rgba()
            } else {
                colour += 1;
                series_color(colour - 1)
            };
            let style = c.stroke_width(2);
            if line.dashed {
                chart
                    .draw_series(DashedLineSeries::new(
                        line.points.iter().copied(),
                        7,
                        5,
                        style,
                    ))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(line.points.iter().copied(), style))
                    .map_err(err)?;
            }
            chart
                .draw_series(line.points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(err)?;
            let y = 50 + i as i32 * 20;
            legend
                .draw(&PathElement::new(vec![(4, y), (28, y)], style))
                .map_err(err)?;
            legend
                .draw(&Text::new(
                    line.name.clone(),
                    (34, y - 7),
                    ("sans-serif", 13).into_font(),
                ))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Horizontal bars, one per series (its last point's value), sorted, in a panel each.
fn bar_panels(panels: &[Panel], x_desc: &str, path: &Path) -> Result<()> {
    crate::store::draw_atomic(path, |p| bar_panels_to(panels, x_desc, p))
}

fn bar_panels_to(panels: &[Panel], x_desc: &str, path: &Path) -> Result<()> {
    register_font();
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols).max(1);
    let bars = panels.iter().map(|p| p.lines.len()).max().unwrap_or(1);
    let size = (cols as u32 * 620, rows as u32 * (90 + 24 * bars as u32));
    let root = BitMapBackend::new(path, size).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing failed: {e}");
    root.fill(&WHITE).map_err(err)?;
    for (panel, area) in panels.iter().zip(root.split_evenly((rows, cols))) {
        let mut vals: Vec<(&str, f64, bool)> = panel
            .lines
            .iter()
            .filter_map(|l| l.points.last().map(|p| (l.name.as_str(), p.1, l.reference)))
            .collect();
        vals.sort_by(|a, b| a.1.total_cmp(&b.1));
        let top = vals.iter().map(|v| v.1).fold(0f64, f64::max) * 1.08;
        let n = vals.len();
        let mut chart = ChartBuilder::on(&area)
            .caption(&panel.title, ("sans-serif", 17))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..top.max(1e-9), (0..n).into_segmented())
            .map_err(err)?;
        let names: Vec<&str> = vals.iter().map(|v| v.0).collect();
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_labels(n)
            .y_label_formatter(&|v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) => names.get(*i).map_or(String::new(), |s| s.to_string()),
                _ => String::new(),
            })
            .label_style(("sans-serif", 13))
            .disable_y_mesh()
            .draw()
            .map_err(err)?;
        for (i, &(_, v, reference)) in vals.iter().enumerate() {
            let c = if reference {
                BLACK.to_rgba()
            } else {
                series_color(0)
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (v, SegmentValue::Exact(i + 1)),
                    ],
                    c.mix(0.8).filled(),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{v:.1}"),
                    (v, SegmentValue::CenterOf(i)),
                    ("sans-serif", 12).into_font(),
                )))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

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
        ("features", &["probe_acc", "knn_acc"][..]),
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

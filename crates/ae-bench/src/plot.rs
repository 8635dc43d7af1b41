//! Charts (plotters), drawn only from stored rows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

pub(crate) use crate::font::register_font;
use crate::store::Row;

/// Twelve strong, mutually distinct colours (Tableau 10 plus two); Palette99 beyond.
const SERIES_COLORS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(90, 90, 90),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
    RGBColor(128, 0, 0),
];

/// The colour of the `i`-th series of a chart.
pub fn series_color(i: usize) -> RGBAColor {
    match SERIES_COLORS.get(i) {
        Some(c) => c.to_rgba(),
        None => Palette99::pick(i).to_rgba(),
    }
}

/// Width of the legend column right of each error-vs-code-size panel.
const LEGEND_WIDTH: u32 = 250;

/// A published reference point drawn as a labelled marker on a dataset's panel.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Dataset panel to draw on.
    pub dataset: &'static str,
    /// Code size.
    pub code_size: f64,
    /// Metric value.
    pub value: f64,
    /// Legend text.
    pub label: &'static str,
}

/// Hinton & Salakhutdinov (2006): PCA with 30 components, MNIST, SSE per test image.
pub const HINTON_PCA30: Reference = Reference {
    dataset: "mnist",
    code_size: 30.0,
    value: 13.87,
    label: "Hinton & Salakhutdinov 2006, PCA-30",
};

/// Draws `metric` against code size, one panel per dataset, one line per model/backend,
/// log-log axes, to `<stem>.png` and `<stem>.svg`.
pub fn error_vs_code_size(
    rows: &[Row],
    metric: &str,
    refs: &[Reference],
    stem: &Path,
) -> Result<()> {
    register_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    let datasets: BTreeSet<&str> = rows.iter().map(|r| r.dataset.as_str()).collect();
    let size = ((620 + LEGEND_WIDTH) * datasets.len().max(1) as u32, 480);
    crate::store::draw_atomic(&png, |p| {
        draw(
            &BitMapBackend::new(p, size).into_drawing_area(),
            rows,
            metric,
            refs,
        )
    })?;
    crate::store::draw_atomic(&svg, |p| {
        draw(
            &SVGBackend::new(p, size).into_drawing_area(),
            rows,
            metric,
            refs,
        )
    })?;
    crate::chart_files::write_pdf(stem)?;
    let data = series(rows, metric);
    crate::chart_files::write_csv(
        stem,
        data.iter().flat_map(|(d, s)| {
            s.iter().flat_map(move |(name, pts)| {
                pts.iter()
                    .map(move |&(x, y)| (d.as_str(), name.as_str(), x, y))
            })
        }),
    )?;
    Ok(())
}

/// Labels only 1, 2 and 5 times a power of ten, so log axes never crowd.
fn nice_label(v: &f64) -> String {
    if *v <= 0.0 {
        return String::new();
    }
    let exp = v.log10().floor();
    let mantissa = v / 10f64.powf(exp);
    let nice = [1.0, 2.0, 3.0, 5.0, 10.0]
        .iter()
        .any(|m| (mantissa - m).abs() < 1e-6 * m);
    if !nice {
        String::new()
    } else if *v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{}", (v * 1e6).round() / 1e6)
    }
}

type Series = BTreeMap<String, Vec<(f64, f64)>>;

/// Mean over seeds per (dataset, model/backend, code size).
fn series(rows: &[Row], metric: &str) -> BTreeMap<String, Series> {
    let mut acc: Grouped = BTreeMap::new();
    let backends: BTreeSet<&str> = rows.iter().map(|r| r.backend.as_str()).collect();
    for r in rows
        .iter()
        .filter(|r| r.metric == metric && r.status.is_ok() && r.value.is_finite())
    {
        let name = if backends.len() > 1 {
            format!("{} ({})", r.model, r.backend)
        } else {
            r.model.clone()
        };
        acc.entry(r.dataset.clone())
            .or_default()
            .entry(name)
            .or_default()
            .entry(r.code_size)
            .or_default()
            .push(r.value);
    }
    seed_means(acc)
}

/// Raw values grouped as dataset -> series -> x -> values (one per seed), averaged into
/// plottable points.
type Grouped = BTreeMap<String, BTreeMap<String, Epochs>>;

/// x (code size or epoch) -> one value per seed.
type Epochs = BTreeMap<u32, Vec<f64>>;

fn seed_means(acc: Grouped) -> BTreeMap<String, Series> {
    acc.into_iter()
        .map(|(d, series)| {
            let s = series
                .into_iter()
                .map(|(name, pts)| {
                    let pts = pts
                        .into_iter()
                        .map(|(x, v)| (f64::from(x), v.iter().sum::<f64>() / v.len() as f64))
                        .collect();
                    (name, pts)
                })
                .collect();
            (d, s)
        })
        .collect()
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: &[Row],
    metric: &str,
    refs: &[Reference],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e}");
    root.fill(&WHITE).map_err(err)?;
    let data = series(rows, metric);
    let panels = root.split_evenly((1, data.len().max(1)));
    for ((dataset, models), panel) in data.iter().zip(&panels) {
        // The legend gets its own column: with a dozen models it would cover the lines.
        let (area, legend) = panel.split_horizontally(panel.dim_in_pixel().0 - LEGEND_WIDTH);
        let pts = models.values().flatten();
        let (xmin, xmax) = pts
            .clone()
            .fold((f64::INFINITY, 0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (ymin, ymax) = pts.fold((f64::INFINITY, 0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let mut chart = ChartBuilder::on(&area)
            .caption(
                format!("{dataset}: {metric} vs code size"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(
                // Starting at 1 makes the log axis label 1, 2, 5, ... rather than skip them.
                ((xmin / 1.3).min(1.0)..xmax * 1.3).log_scale(),
                (ymin / 1.3..ymax * 1.3).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("code size (latent dimensions, log scale)")
            .y_desc(format!("{metric} (log scale)"))
            .axis_desc_style(("sans-serif", 15))
            .label_style(("sans-serif", 13))
            .x_labels(12)
            .x_label_formatter(&nice_label)
            .y_label_formatter(&nice_label)
            // Log axes subdivide densely near each decade's start: no minor lines.
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        let mut y = 60;
        let mut entry = |label: String, draw_key: &dyn Fn(i32) -> Result<()>| -> Result<()> {
            draw_key(y)?;
            legend
                .draw(&Text::new(
                    label,
                    (40, y - 7),
                    ("sans-serif", 14).into_font(),
                ))
                .map_err(err)?;
            y += 22;
            Ok(())
        };
        for (i, (model, pts)) in models.iter().enumerate() {
            let color = series_color(i);
            if model.starts_with("pca") {
                chart
                    .draw_series(DashedLineSeries::new(
                        pts.iter().copied(),
                        8,
                        5,
                        color.stroke_width(2),
                    ))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    .map_err(err)?;
            }
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
            let dashed = model.starts_with("pca");
            entry(model.clone(), &|y| {
                let segments: &[(i32, i32)] = if dashed {
                    &[(4, 14), (20, 30)]
                } else {
                    &[(4, 30)]
                };
                for &(a, b) in segments {
                    legend
                        .draw(&PathElement::new(
                            vec![(a, y), (b, y)],
                            color.stroke_width(2),
                        ))
                        .map_err(err)?;
                }
                legend
                    .draw(&Circle::new((17, y), 4, color.filled()))
                    .map_err(err)?;
                Ok(())
            })?;
        }
        for r in refs.iter().filter(|r| r.dataset == dataset) {
            chart
                .draw_series(std::iter::once(Cross::new(
                    (r.code_size, r.value),
                    8,
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
            // Long paper names wrap at their commas.
            let mut lines: Vec<String> = r.label.split(", ").map(str::to_string).collect();
            if let Some(last) = lines.last_mut() {
                last.push_str(&format!(" = {}", r.value));
            }
            for (j, line) in lines.into_iter().enumerate() {
                entry(line, &|y| {
                    if j == 0 {
                        legend
                            .draw(&Cross::new((17, y), 6, BLACK.stroke_width(2)))
                            .map_err(err)?;
                    }
                    Ok(())
                })?;
            }
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Which per-epoch rows a curve chart draws, and how it labels them.
#[derive(Debug, Clone, Copy)]
pub struct CurveKind {
    /// Metric prefix (before `@<epoch>`) of the solid lines.
    pub solid: &'static str,
    /// Metric prefix of the dashed lines, if any.
    pub dashed: Option<&'static str>,
    /// Title above the panels.
    pub caption: &'static str,
    /// Y axis label.
    pub y_desc: &'static str,
}

/// Training (solid) and validation (dashed) reconstruction loss per epoch.
pub const TRAINING: CurveKind = CurveKind {
    solid: "curve_train_recon",
    dashed: Some("curve_val_recon"),
    caption: "Reconstruction loss per epoch (solid: train, dashed: validation; mean over seeds)",
    y_desc: "reconstruction loss per image",
};

/// Test error after each fine-tuning epoch (the reproduce command's curves).
pub const FINE_TUNING: CurveKind = CurveKind {
    solid: "curve_test_sse",
    dashed: None,
    caption: "Test SSE per image after each fine-tuning epoch",
    y_desc: "test SSE per image",
};

/// Per-epoch reconstruction loss of every trained model (train solid, validation dashed),
/// one panel per dataset, from the `curve_*_recon@<epoch>` rows (mean over seeds).
/// Returns false (and draws nothing) when the run trained no model.
pub fn training_curves(rows: &[Row], stem: &Path) -> Result<bool> {
    curves(rows, stem, &TRAINING)
}

/// Per-epoch curves of `kind`, one panel per (dataset, code size) — datasets in rows,
/// code sizes in columns — one colour per model (mean over seeds). Returns false (and
/// draws nothing) when there are no such rows.
pub fn curves(rows: &[Row], stem: &Path, kind: &CurveKind) -> Result<bool> {
    register_font();
    // (dataset, code size) -> "model (train|val)" -> epoch -> values
    let mut acc: BTreeMap<(String, u32), BTreeMap<String, Epochs>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.status.is_ok() && r.value.is_finite())
    {
        let Some((prefix, epoch)) = r.metric.split_once('@') else {
            continue;
        };
        let split = if prefix == kind.solid {
            "train"
        } else if Some(prefix) == kind.dashed {
            "val"
        } else {
            continue;
        };
        let Ok(epoch) = epoch.parse::<u32>() else {
            continue;
        };
        acc.entry((r.dataset.clone(), r.code_size))
            .or_default()
            .entry(format!("{} ({split})", r.model))
            .or_default()
            .entry(epoch)
            .or_default()
            .push(r.value);
    }
    if acc.is_empty() {
        return Ok(false);
    }
    let datasets: BTreeSet<&String> = acc.keys().map(|k| &k.0).collect();
    let sizes: BTreeSet<u32> = acc.keys().map(|k| k.1).collect();
    let grid = (datasets.len(), sizes.len());
    // Every grid slot in order; a (dataset, size) without curves stays empty.
    let mut panels: Vec<(String, Series)> = Vec::new();
    for d in &datasets {
        for &k in &sizes {
            let series = acc
                .get(&((*d).clone(), k))
                .map(|s| {
                    s.iter()
                        .map(|(name, pts)| {
                            let pts = pts
                                .iter()
                                .map(|(&x, v)| {
                                    (f64::from(x), v.iter().sum::<f64>() / v.len() as f64)
                                })
                                .collect();
                            (name.clone(), pts)
                        })
                        .collect()
                })
                .unwrap_or_default();
            panels.push((format!("{d}, k={k}"), series));
        }
    }
    let size = (
        (if grid.1 > 1 { 560 } else { 720 }) * grid.1 as u32,
        480 * grid.0 as u32,
    );
    crate::store::draw_atomic(&stem.with_extension("png"), |p| {
        draw_curves(
            &BitMapBackend::new(p, size).into_drawing_area(),
            &panels,
            grid,
            kind,
        )
    })?;
    crate::store::draw_atomic(&stem.with_extension("svg"), |p| {
        draw_curves(
            &SVGBackend::new(p, size).into_drawing_area(),
            &panels,
            grid,
            kind,
        )
    })?;
    crate::chart_files::write_pdf(stem)?;
    crate::chart_files::write_csv(
        stem,
        panels.iter().flat_map(|(title, s)| {
            s.iter().flat_map(move |(name, pts)| {
                pts.iter()
                    .map(move |&(x, y)| (title.as_str(), name.as_str(), x, y))
            })
        }),
    )?;
    Ok(true)
}

fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &[(String, Series)],
    grid: (usize, usize),
    kind: &CurveKind,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e}");
    root.fill(&WHITE).map_err(err)?;
    let (title, body) = root.split_vertically(36);
    title
        .draw(&Text::new(
            kind.caption,
            (12, 8),
            ("sans-serif", 20).into_font(),
        ))
        .map_err(err)?;
    let panels = body.split_evenly(grid);
    for ((panel, series), area) in data.iter().zip(&panels) {
        if series.is_empty() {
            continue;
        }
        let pts = series.values().flatten();
        let xmax = pts.clone().fold(1f64, |a, p| a.max(p.0));
        let (ymin, ymax) = pts.fold((f64::INFINITY, 0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let mut chart = ChartBuilder::on(area)
            .caption(panel, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            // Empty room right of the last epoch keeps the legend off the curves.
            .build_cartesian_2d(0.5..xmax * 1.45 + 0.5, ymin * 0.95..ymax * 1.05)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(kind.y_desc)
            .axis_desc_style(("sans-serif", 15))
            .label_style(("sans-serif", 13))
            .x_labels((xmax * 1.45) as usize + 2)
            // Label whole epochs only.
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 && *x <= xmax {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.1}"))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(err)?;
        // Train and validation of one model share a colour.
        let models: BTreeSet<&str> = series
            .keys()
            .filter_map(|k| k.rsplit_once(" (").map(|(m, _)| m))
            .collect();
        for (name, pts) in series {
            let model = name.rsplit_once(" (").map_or(name.as_str(), |(m, _)| m);
            let color = series_color(models.iter().position(|m| *m == model).unwrap_or(0));
            let style = color.stroke_width(2);
            let legend =
                move |(x, y): (i32, i32)| PathElement::new(vec![(x, y), (x + 20, y)], style);
            if name.ends_with("(val)") {
                // One legend entry per model: the caption explains solid vs dashed.
                chart
                    .draw_series(DashedLineSeries::new(pts.iter().copied(), 6, 4, style))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), style))
                    .map_err(err)?
                    .label(model)
                    .legend(legend);
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// A grid of grayscale `side`×`side` images, one labelled row per entry (e.g. test digits
/// and each method's reconstructions, as in Hinton & Salakhutdinov's figure 2), to PNG.
pub fn image_grid(rows: &[(String, Vec<f32>)], side: usize, path: &Path) -> Result<()> {
    crate::store::draw_atomic(path, |p| image_grid_to(rows, side, p))
}

fn image_grid_to(rows: &[(String, Vec<f32>)], side: usize, path: &Path) -> Result<()> {
    register_font();
    const SCALE: usize = 3;
    const LABEL: usize = 150;
    let cols = rows
        .iter()
        .map(|(_, px)| px.len() / (side * side).max(1))
        .max()
        .unwrap_or(0);
    let cell = side * SCALE + 4;
    let size = ((LABEL + cols * cell) as u32, (rows.len() * cell + 4) as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    fn err(e: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("drawing failed: {e}")
    }
    root.fill(&WHITE).map_err(err)?;
    for (r, (label, px)) in rows.iter().enumerate() {
        let y0 = r * cell + 2;
        root.draw(&Text::new(
            label.clone(),
            (6, (y0 + cell / 2 - 8) as i32),
            ("sans-serif", 15).into_font(),
        ))
        .map_err(err)?;
        for (c, img) in px.chunks(side * side).enumerate() {
            let x0 = LABEL + c * cell;
            for (p, &v) in img.iter().enumerate() {
                // White digits on black, as MNIST is usually shown.
                let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                let (py, pxl) = (p / side, p % side);
                let (x, y) = ((x0 + pxl * SCALE) as i32, (y0 + py * SCALE) as i32);
                root.draw(&Rectangle::new(
                    [(x, y), (x + SCALE as i32, y + SCALE as i32)],
                    RGBColor(g, g, g).filled(),
                ))
                .map_err(err)?;
            }
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_png_and_svg_with_every_series() {
        let rows: Vec<Row> = [(2u32, 50.0), (30, 13.87), (100, 4.0)]
            .iter()
            .map(|&(k, v)| Row {
                dataset: "mnist".into(),
                model: "pca".into(),
                code_size: k,
                seed: 0,
                backend: "flex".into(),
                metric: "test_sse_per_image".into(),
                value: v,
                status: crate::store::Status::Ok,
                detail: String::new(),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("chart");
        error_vs_code_size(&rows, "test_sse_per_image", &[HINTON_PCA30], &stem).unwrap();
        let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
        assert!(svg.contains("mnist: test_sse_per_image vs code size"));
        assert!(
            svg.contains("Hinton &amp; Salakhutdinov 2006")
                || svg.contains("Hinton & Salakhutdinov 2006")
        );
        let png = std::fs::read(stem.with_extension("png")).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
        // No curve rows: no curve chart.
        assert!(!training_curves(&rows, &dir.path().join("curves")).unwrap());
        let curves: Vec<Row> = (1..=3)
            .flat_map(|e| {
                ["curve_train_recon", "curve_val_recon"].map(|m| Row {
                    metric: format!("{m}@{e}"),
                    value: 100.0 / f64::from(e),
                    model: "deep".into(),
                    ..rows[0].clone()
                })
            })
            .collect();
        assert!(training_curves(&curves, &dir.path().join("curves")).unwrap());
        let svg = std::fs::read_to_string(dir.path().join("curves.svg")).unwrap();
        assert!(
            svg.contains("mnist, k=2")
                && svg.contains("deep\n</text>")
                && svg.contains("dashed: validation"),
            "{}",
            &svg[..200]
        );
        let grid = dir.path().join("grid.png");
        image_grid(
            &[
                ("data".into(), vec![0.5; 3 * 16]),
                ("model".into(), vec![1.0; 3 * 16]),
            ],
            4,
            &grid,
        )
        .unwrap();
        assert!(std::fs::read(&grid).unwrap().starts_with(b"\x89PNG"));
    }
}

//! Per-epoch curves: training and validation loss of a sweep, test error of a
//! reproduction's fine-tuning.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::font::register_font;
use crate::store::Row;

use super::style::{Epochs, Series, series_color};

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

//! Error against code size: one log-log panel per dataset, one line per model, the
//! papers' reference points marked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::font::register_font;
use crate::store::Row;

use super::style::{Grouped, Series, series_color};

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

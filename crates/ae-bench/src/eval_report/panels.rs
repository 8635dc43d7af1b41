//! Chart panels of the task charts: lines or bars, a grid of up to 3 columns, each panel
//! with its legend.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::{register_font, series_color};

/// A line of a chart.
pub(super) struct Line {
    pub(super) name: String,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) dashed: bool,
    /// Black, for reference series.
    pub(super) reference: bool,
}

impl Line {
    /// A model's series: PCA dashed, as in the other charts.
    pub(super) fn of_model(name: String, points: Vec<(f64, f64)>, model: &str) -> Line {
        Line {
            name,
            points,
            dashed: model == "pca",
            reference: false,
        }
    }
}

/// One chart panel.
pub(super) struct Panel {
    pub(super) title: String,
    pub(super) lines: Vec<Line>,
}

const LEGEND: u32 = 210;

/// Panels of line charts (linear axes) in a grid of up to 3 columns, each with its legend.
pub(super) fn line_panels(panels: &[Panel], x_desc: &str, y_desc: &str, path: &Path) -> Result<()> {
    register_font();
    let cols = panels.len().clamp(1, 3);
    let rows = panels.len().div_ceil(cols).max(1);
    let size = (cols as u32 * (480 + LEGEND), rows as u32 * 380);
    every_format(
        panels,
        path,
        |png| {
            line_panels_on(
                &BitMapBackend::new(png, size).into_drawing_area(),
                (rows, cols),
                panels,
                x_desc,
                y_desc,
            )
        },
        |svg| {
            line_panels_on(
                &SVGBackend::new(svg, size).into_drawing_area(),
                (rows, cols),
                panels,
                x_desc,
                y_desc,
            )
        },
    )
}

/// Draws the chart at `png` (`draw_png`), beside it `.svg` (`draw_svg`), the PDF made from
/// that SVG, and the panels' points as `.csv`.
fn every_format(
    panels: &[Panel],
    png: &Path,
    draw_png: impl FnOnce(&Path) -> Result<()>,
    draw_svg: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    crate::store::draw_atomic(png, draw_png)?;
    let stem = png.with_extension("");
    crate::store::draw_atomic(&stem.with_extension("svg"), draw_svg)?;
    crate::chart_files::write_pdf(&stem)?;
    crate::chart_files::write_csv(
        &stem,
        panels.iter().flat_map(|p| {
            p.lines.iter().flat_map(move |l| {
                l.points
                    .iter()
                    .map(move |&(x, y)| (p.title.as_str(), l.name.as_str(), x, y))
            })
        }),
    )?;
    Ok(())
}

fn line_panels_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (rows, cols): (usize, usize),
    panels: &[Panel],
    x_desc: &str,
    y_desc: &str,
) -> Result<()> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e}");
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
pub(super) fn bar_panels(panels: &[Panel], x_desc: &str, path: &Path) -> Result<()> {
    register_font();
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols).max(1);
    let bars = panels.iter().map(|p| p.lines.len()).max().unwrap_or(1);
    let size = (cols as u32 * 620, rows as u32 * (90 + 24 * bars as u32));
    every_format(
        panels,
        path,
        |png| {
            bar_panels_on(
                &BitMapBackend::new(png, size).into_drawing_area(),
                (rows, cols),
                panels,
                x_desc,
            )
        },
        |svg| {
            bar_panels_on(
                &SVGBackend::new(svg, size).into_drawing_area(),
                (rows, cols),
                panels,
                x_desc,
            )
        },
    )
}

fn bar_panels_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (rows, cols): (usize, usize),
    panels: &[Panel],
    x_desc: &str,
) -> Result<()> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e}");
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

//! Pictures drawn from the cells' stored [`Artifacts`]: reconstruction grids, 2-D code
//! scatters, VAE samples and interpolations, denoising before/after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::artifacts::{Artifacts, Codes2d, INTERPOLATION_STEPS};
use crate::plot::{image_grid, register_font, series_color};
use crate::store::CellRecord;

/// One model's artifacts at one (dataset, code size): the lowest seed's.
struct Shown<'a> {
    model: String,
    art: &'a Artifacts,
}

/// Groups the cells' artifacts by (dataset, code size); PCA first, then models by name.
fn grouped(cells: &[CellRecord]) -> BTreeMap<(String, u32), Vec<Shown<'_>>> {
    let mut best: BTreeMap<(String, u32, String), (u64, &Artifacts)> = BTreeMap::new();
    for c in cells {
        let (Some(art), Some(r)) = (&c.artifacts, c.rows.first()) else {
            continue;
        };
        let key = (r.dataset.clone(), r.code_size, r.model.clone());
        if best.get(&key).is_none_or(|(s, _)| r.seed < *s) {
            best.insert(key, (r.seed, art));
        }
    }
    let mut out: BTreeMap<(String, u32), Vec<Shown>> = BTreeMap::new();
    // The pixel baseline's "reconstructions" are the test images themselves.
    for ((d, k, model), (_, art)) in best.into_iter().filter(|(k, _)| k.2 != "pixels") {
        out.entry((d, k)).or_default().push(Shown { model, art });
    }
    for v in out.values_mut() {
        v.sort_by_key(|s| (s.model != "pca", s.model.clone()));
    }
    out
}

fn decode(img: &crate::artifacts::Images) -> Result<Vec<f32>> {
    img.decode()
        .ok_or_else(|| anyhow!("a stored image is not valid hex"))
}

/// Draws every gallery chart into `dir`; returns the files written.
pub fn draw_all(cells: &[CellRecord], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let groups = grouped(cells);
    let mut scatters: BTreeMap<&str, Vec<(&str, &Codes2d)>> = BTreeMap::new();
    for ((dataset, k), shown) in &groups {
        let side = shown[0].art.side;
        // Reconstructions: the test images, then each model's reconstruction of them.
        let mut rows = vec![("test images".to_string(), decode(&shown[0].art.originals)?)];
        for s in shown {
            rows.push((s.model.clone(), decode(&s.art.reconstructions)?));
        }
        let path = dir.join(format!("reconstructions_{dataset}_k{k}.png"));
        image_grid(&rows, side, &path)?;
        written.push(path);

        let denoisers: Vec<&Shown> = shown.iter().filter(|s| s.art.denoising.is_some()).collect();
        if !denoisers.is_empty() {
            let mut rows = vec![("clean".to_string(), decode(&shown[0].art.originals)?)];
            for s in denoisers {
                let d = s.art.denoising.as_ref().expect("filtered");
                rows.push((format!("{}: noisy", s.model), decode(&d.noisy)?));
                rows.push((format!("{}: output", s.model), decode(&d.denoised)?));
            }
            let path = dir.join(format!("denoising_{dataset}_k{k}.png"));
            image_grid(&rows, side, &path)?;
            written.push(path);
        }

        for s in shown {
            let (Some(samples), Some(interp)) = (&s.art.samples, &s.art.interpolations) else {
                continue;
            };
            let samples = decode(samples)?;
            let half = samples.len() / 2 / (side * side) * side * side;
            let mut rows = vec![
                ("prior samples".to_string(), samples[..half].to_vec()),
                (String::new(), samples[half..].to_vec()),
            ];
            let interp = decode(interp)?;
            for (i, path) in interp.chunks(INTERPOLATION_STEPS * side * side).enumerate() {
                rows.push((format!("interpolation {}", i + 1), path.to_vec()));
            }
            let path = dir.join(format!("samples_{}_{dataset}_k{k}.png", s.model));
            image_grid(&rows, side, &path)?;
            written.push(path);
        }

        for s in shown {
            let Some(f) = &s.art.features else {
                continue;
            };
            // Eight features per row: an 8 × 8 grid of what the first units look for.
            let f = decode(f)?;
            let rows: Vec<(String, Vec<f32>)> = f
                .chunks(8 * side * side)
                .enumerate()
                .map(|(i, r)| {
                    (
                        format!("units {}-{}", 8 * i + 1, 8 * i + r.len() / (side * side)),
                        r.to_vec(),
                    )
                })
                .collect();
            let path = dir.join(format!("features_{}_{dataset}_k{k}.png", s.model));
            image_grid(&rows, side, &path)?;
            written.push(path);
        }

        for s in shown {
            if let Some(c) = &s.art.codes {
                scatters
                    .entry(dataset.as_str())
                    .or_default()
                    .push((s.model.as_str(), c));
            }
        }
    }
    for (dataset, panels) in scatters {
        let path = dir.join(format!("codes_{dataset}_k2.png"));
        code_scatter(dataset, "2-D test codes", &panels, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// One panel per model: its 2-D test codes coloured by class, a shared class legend; to
/// `path` (PNG) and beside it as SVG, vector PDF and the points as CSV (`panel` = model,
/// `series` = class).
pub fn code_scatter(
    dataset: &str,
    what: &str,
    panels: &[(&str, &Codes2d)],
    path: &Path,
) -> Result<()> {
    register_font();
    let layout = ScatterLayout::new(dataset, panels.len());
    crate::store::draw_atomic(path, |p| {
        code_scatter_to(
            &BitMapBackend::new(p, layout.size).into_drawing_area(),
            &layout,
            dataset,
            what,
            panels,
        )
    })?;
    let stem = path.with_extension("");
    crate::store::draw_atomic(&stem.with_extension("svg"), |p| {
        code_scatter_to(
            &SVGBackend::new(p, layout.size).into_drawing_area(),
            &layout,
            dataset,
            what,
            panels,
        )
    })?;
    crate::chart_files::write_pdf(&stem)?;
    crate::chart_files::write_csv(
        &stem,
        panels.iter().flat_map(|(model, codes)| {
            codes.values.chunks(2).zip(&codes.labels).map(|(p, &l)| {
                let class = layout.names.get(usize::from(l)).map_or("?", String::as_str);
                (*model, class, f64::from(p[0]), f64::from(p[1]))
            })
        }),
    )?;
    Ok(())
}

/// The scatter's grid and class legend, the same for every backend.
struct ScatterLayout {
    cols: usize,
    grid_rows: usize,
    names: Vec<String>,
    entry_width: usize,
    per_line: usize,
    header: usize,
    size: (u32, u32),
}

impl ScatterLayout {
    fn new(dataset: &str, panels: usize) -> Self {
        let cols = panels.clamp(1, 4);
        let grid_rows = panels.div_ceil(cols).max(1);
        let names: Vec<String> = match dataset {
            "fashion-mnist" => ae_data::FASHION_CLASSES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            _ => (0..10).map(|c| c.to_string()).collect(),
        };
        // Legend entries in as many lines as the width needs.
        let entry_width = names.iter().map(|n| n.len()).max().unwrap_or(1) * 9 + 30;
        let width = (cols * 380).max(2 * entry_width);
        let per_line = (width - 20) / entry_width;
        let header = 40 + names.len().div_ceil(per_line) * 24;
        let size = (width as u32, (grid_rows * 380 + header) as u32);
        ScatterLayout {
            cols,
            grid_rows,
            names,
            entry_width,
            per_line,
            header,
            size,
        }
    }
}

fn code_scatter_to<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    layout: &ScatterLayout,
    dataset: &str,
    what: &str,
    panels: &[(&str, &Codes2d)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let ScatterLayout {
        cols,
        grid_rows,
        ref names,
        entry_width,
        per_line,
        header,
        size: _,
    } = *layout;
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e}");
    root.fill(&WHITE).map_err(err)?;
    let (legend, body) = root.split_vertically(header as u32);
    legend
        .draw(&Text::new(
            format!("{dataset}: {what}, coloured by class"),
            (10, 10),
            ("sans-serif", 18).into_font(),
        ))
        .map_err(err)?;
    for (c, (name, color)) in names.iter().zip((0..10).map(series_color)).enumerate() {
        let x = 16 + (c % per_line * entry_width) as i32;
        let y = 48 + (c / per_line * 24) as i32;
        legend
            .draw(&Circle::new((x, y), 5, color.filled()))
            .map_err(err)?;
        legend
            .draw(&Text::new(
                name.clone(),
                (x + 10, y - 8),
                ("sans-serif", 15).into_font(),
            ))
            .map_err(err)?;
    }
    for ((model, codes), area) in panels.iter().zip(body.split_evenly((grid_rows, cols))) {
        let pts: Vec<(f64, f64, u8)> = codes
            .values
            .chunks(2)
            .zip(&codes.labels)
            .map(|(p, &l)| (f64::from(p[0]), f64::from(p[1]), l))
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        // Robust ranges (1st–99th percentile) so a few outliers do not squash the rest.
        let range = |f: fn(&(f64, f64, u8)) -> f64| {
            let mut v: Vec<f64> = pts.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            if v.is_empty() {
                return -1.0..1.0;
            }
            let (lo, hi) = (v[v.len() / 100], v[v.len() - 1 - v.len() / 100]);
            // A collapsed axis (e.g. a dead unit) still gets a readable range.
            let pad = if hi - lo < 1e-6 {
                1.0
            } else {
                (hi - lo) * 0.05
            };
            lo - pad..hi + pad
        };
        let mut chart = ChartBuilder::on(&area)
            .caption(*model, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(40)
            .build_cartesian_2d(range(|p| p.0), range(|p| p.1))
            .map_err(err)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 11))
            .x_labels(5)
            .y_labels(5)
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(err)?;
        let (xr, yr) = (chart.x_range(), chart.y_range());
        chart
            .draw_series(
                pts.iter()
                    .filter(|p| xr.contains(&p.0) && yr.contains(&p.1))
                    .map(|&(x, y, l)| {
                        Circle::new((x, y), 2, series_color(l as usize % 10).mix(0.7).filled())
                    }),
            )
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

//! Image grids: labelled rows of grayscale images (reconstructions, samples, features).

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::font::register_font;

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
